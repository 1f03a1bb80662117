"""Both engines on real speech with the real tiny.en weights: accuracy, agreement, silence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models import AudioInfo
from tests.conftest import AUDIO_FIXTURES
from tests.metrics import word_error_rate
from transcription.audio import SAMPLE_RATE, DecodedAudio, decode_audio
from transcription.engines import DecodingOptions, OpenAIWhisperEngine
from transcription.errors import ModelError
from transcription.transcribe import transcribe_audio
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


# --- openai-whisper: chunks decoded in batches, int8 ------------------------------------------

CLEAR_FIXTURES = ("jfk.flac", "mg11_assault.ogg", "missing_person.ogg")


def _openai_engine(pipeline: StatementPipeline, **options: Any) -> OpenAIWhisperEngine:
    resolved = pipeline.store.resolve(pipeline.settings.model, engine="openai-whisper")
    return OpenAIWhisperEngine(resolved, **options)


@pytest.fixture(scope="module")
def window_engine(openai_pipeline: StatementPipeline) -> OpenAIWhisperEngine:
    """openai-whisper's own transcribe(), window by window (the behaviour before batching)."""
    return _openai_engine(openai_pipeline, batch_size=0)


@pytest.fixture(scope="module")
def one_at_a_time_engine(openai_pipeline: StatementPipeline) -> OpenAIWhisperEngine:
    """The same chunks as the batched engine, decoded one after another."""
    return _openai_engine(openai_pipeline, batch_size=1)


@pytest.fixture(scope="module")
def three_statements(jfk_path: Path) -> np.ndarray:
    """jfk.flac three times, 20 s of quiet room before each: three speech regions, 33 s of
    speech once joined, so two chunks (two regions, then one)."""
    speech = decode_audio(jfk_path).samples
    room = np.random.default_rng(3).normal(0.0, 0.001, 20 * SAMPLE_RATE).astype(np.float32)
    return np.concatenate([room, speech, room, speech, room, speech])


def test_openai_engine_batches_by_default(openai_pipeline: StatementPipeline) -> None:
    engine = openai_pipeline.engine
    assert isinstance(engine, OpenAIWhisperEngine)
    assert engine.batch_size > 1


@pytest.mark.parametrize("beam_size", [1, 5])
def test_batched_chunks_give_the_same_words_as_window_by_window_on_clear_speech(
    beam_size: int, openai_pipeline: StatementPipeline, window_engine: OpenAIWhisperEngine
) -> None:
    decoding = DecodingOptions(beam_size=beam_size, initial_prompt=openai_pipeline.initial_prompt)
    for name in CLEAR_FIXTURES:
        audio = decode_audio(AUDIO_FIXTURES / name)
        batched = transcribe_audio(audio, openai_pipeline.engine, decoding=decoding)
        windows = transcribe_audio(audio, window_engine, decoding=decoding)
        assert batched.text, name
        assert batched.text == windows.text, name
        assert [w.word for w in batched.words] == [w.word for w in windows.words], name


@pytest.mark.parametrize("beam_size", [1, 5])
def test_batch_size_changes_nothing_but_speed(
    beam_size: int,
    openai_pipeline: StatementPipeline,
    one_at_a_time_engine: OpenAIWhisperEngine,
    three_statements: np.ndarray,
) -> None:
    # Two chunks decoded together (beam search over a batch) or one after the other.
    decoding = DecodingOptions(beam_size=beam_size)
    audio = _audio(three_statements)
    batched = transcribe_audio(audio, openai_pipeline.engine, decoding=decoding)
    single = transcribe_audio(audio, one_at_a_time_engine, decoding=decoding)
    assert batched.text.lower().count("country") >= 6, batched.text
    assert batched.text == single.text
    assert [(w.word, w.start, w.end) for w in batched.words] == [
        (w.word, w.start, w.end) for w in single.words
    ]


def test_batched_words_stay_in_their_speech_and_in_order(
    openai_pipeline: StatementPipeline, three_statements: np.ndarray
) -> None:
    seen: list[float] = []
    totals: list[float] = []
    transcript = transcribe_audio(
        _audio(three_statements),
        openai_pipeline.engine,
        progress=seen.append,
        on_speech=totals.append,
    )
    speech_s = 11.0
    # Where each copy of the speech lies in the recording (a little slack for VAD padding).
    spoken = [
        (20.0 + i * (20.0 + speech_s) - 0.5, 20.0 + i * (20.0 + speech_s) + speech_s + 0.5)
        for i in range(3)
    ]
    words = transcript.words
    assert len(words) >= 60
    previous_end = 0.0
    for word in words:
        assert any(start <= word.start <= word.end <= end for start, end in spoken), word
        assert word.start >= previous_end - 0.01, word
        previous_end = word.end
    for start, end in spoken:  # every copy was heard, none of the quiet room was
        assert [w for w in words if start <= w.start <= end], (start, end)
    assert transcript.duration_s is not None and previous_end <= transcript.duration_s
    # Progress counts up to the joined speech.
    assert seen and seen == sorted(seen)
    assert seen[-1] == pytest.approx(totals[0], abs=0.01)


def test_fallback_decodes_again_at_the_next_temperature_reproducibly(
    openai_pipeline: StatementPipeline, three_statements: np.ndarray
) -> None:
    # A compression-ratio threshold no text can meet: every window fails at temperature 0 and
    # is sampled again at 1.0 (one sample, so it differs from the greedy text).
    audio = _audio(three_statements)
    engine = openai_pipeline.engine
    strict = DecodingOptions(beam_size=1, best_of=1, compression_ratio_threshold=0.1, seed=5)
    fallback = transcribe_audio(audio, engine, decoding=replace(strict, temperatures=(0.0, 1.0)))
    again = transcribe_audio(audio, engine, decoding=replace(strict, temperatures=(0.0, 1.0)))
    sampled = transcribe_audio(audio, engine, decoding=replace(strict, temperatures=(1.0,)))
    greedy = transcribe_audio(audio, engine, decoding=replace(strict, temperatures=(0.0,)))
    assert fallback.text
    assert fallback.text == again.text  # seeded: the same recording, the same transcript
    assert fallback.text == sampled.text  # what temperature 1.0 gives, from the same seed
    assert fallback.text != greedy.text


def test_int8_transcribes_clear_speech(
    openai_pipeline: StatementPipeline, jfk_path: Path, jfk_reference: str
) -> None:
    engine = _openai_engine(openai_pipeline, compute_type="int8")
    assert engine.info.compute_type == "int8"
    transcript = transcribe_audio(decode_audio(jfk_path), engine)
    assert word_error_rate(jfk_reference, transcript.text) <= 0.10, transcript.text
    words = transcript.words
    assert words and all(0.0 <= w.start <= w.end <= transcript.duration_s + 0.01 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_openai_int8_needs_a_cpu(openai_pipeline: StatementPipeline) -> None:
    with pytest.raises(ModelError) as caught:
        _openai_engine(openai_pipeline, compute_type="int8", device="cuda")
    assert caught.value.code == "unsupported_compute_type"
