"""Both engines on real speech with the real tiny.en weights: accuracy, agreement, silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import AudioInfo
from tests.metrics import word_error_rate
from transcription.audio import SAMPLE_RATE, DecodedAudio, decode_audio
from transcription.errors import ModelError
from workflow.pipeline import StatementPipeline, TranscribeRequest

pytestmark = pytest.mark.slow


def _audio(samples: np.ndarray) -> DecodedAudio:
    info = AudioInfo(
        sha256="0" * 64,
        bytes=0,
        format="synthetic",
        codec="pcm_f32le",
        sample_rate_hz=SAMPLE_RATE,
        channels=1,
        duration_s=samples.size / SAMPLE_RATE,
    )
    return DecodedAudio(samples=samples.astype(np.float32), info=info)


@pytest.mark.parametrize("pipeline_name", ["faster_pipeline", "openai_pipeline"])
def test_jfk_word_error_rate_is_at_most_ten_percent(
    pipeline_name: str, request: pytest.FixtureRequest, jfk_path: Path, jfk_reference: str
) -> None:
    pipeline: StatementPipeline = request.getfixturevalue(pipeline_name)
    transcript = pipeline.transcribe(jfk_path)
    assert transcript.language == "en"
    assert word_error_rate(jfk_reference, transcript.text) <= 0.10, transcript.text


def test_engines_give_identical_text_at_float32(
    faster_pipeline: StatementPipeline, openai_pipeline: StatementPipeline, jfk_path: Path
) -> None:
    statement_audio = Path(__file__).parents[1] / "fixtures" / "audio" / "mg11_assault.ogg"
    for path in (jfk_path, statement_audio):
        faster = faster_pipeline.transcribe(path)
        reference = openai_pipeline.transcribe(path)
        assert faster.text, path
        assert faster.text == reference.text, path
        assert [w.word for w in faster.words] == [w.word for w in reference.words]


@pytest.mark.parametrize("pipeline_name", ["faster_pipeline", "openai_pipeline"])
def test_words_carry_times_and_probabilities_inside_their_segment(
    pipeline_name: str, request: pytest.FixtureRequest, jfk_path: Path
) -> None:
    pipeline: StatementPipeline = request.getfixturevalue(pipeline_name)
    transcript = pipeline.transcribe(jfk_path)
    assert transcript.segments
    assert transcript.audio is not None and transcript.model is not None
    assert transcript.model.engine == pipeline.settings.engine
    previous_end = 0.0
    for segment in transcript.segments:
        assert segment.words, segment
        assert "".join(w.word for w in segment.words).strip() == segment.text
        for word in segment.words:
            assert 0.0 <= word.probability <= 1.0
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
            assert word.start >= previous_end - 0.01
            previous_end = word.end
    assert previous_end <= transcript.duration_s + 0.01


@pytest.mark.parametrize("pipeline_name", ["faster_pipeline", "openai_pipeline"])
def test_sixty_seconds_of_silence_gives_an_empty_transcript(
    pipeline_name: str, request: pytest.FixtureRequest
) -> None:
    pipeline: StatementPipeline = request.getfixturevalue(pipeline_name)
    rng = np.random.default_rng(7)
    # Not digital zero: a quiet room, 60 dB below full scale.
    room = rng.normal(0.0, 0.001, 60 * SAMPLE_RATE)
    from transcription.transcribe import transcribe_audio

    transcript = transcribe_audio(_audio(room), pipeline.engine)
    assert transcript.text == ""
    assert transcript.segments == ()
    assert transcript.speech_s == 0.0


def test_times_map_back_to_the_recording_after_silence_is_skipped(
    faster_pipeline: StatementPipeline, jfk_path: Path
) -> None:
    from transcription.transcribe import transcribe_audio

    speech = decode_audio(jfk_path).samples
    gap = np.zeros(20 * SAMPLE_RATE, dtype=np.float32)
    recording = np.concatenate([gap, speech, gap, speech])
    transcript = transcribe_audio(_audio(recording), faster_pipeline.engine)
    words = transcript.words
    first_half = [w for w in words if w.end < 20 + speech.size / SAMPLE_RATE + 1]
    second_half = [w for w in words if w.start > 40 + speech.size / SAMPLE_RATE - 1]
    assert first_half and second_half
    assert first_half[0].start >= 19.5
    assert second_half[0].start >= 40 + speech.size / SAMPLE_RATE - 0.5
    assert transcript.speech_s is not None and transcript.speech_s < 2 * speech.size / 16000 + 2


def test_english_only_model_refuses_another_language(
    faster_pipeline: StatementPipeline, jfk_path: Path
) -> None:
    with pytest.raises(ModelError) as caught:
        faster_pipeline.transcribe(jfk_path, TranscribeRequest(language="pl"))
    assert caught.value.code == "model_english_only"


def test_multilingual_base_detects_the_language(data_dir: Path, jfk_path: Path) -> None:
    from workflow.settings import Settings

    pipeline = StatementPipeline(Settings(model="base", data_dir=data_dir))
    transcript = pipeline.transcribe(jfk_path, TranscribeRequest(language=None))
    assert transcript.language == "en"
    assert "country" in transcript.text.lower()
