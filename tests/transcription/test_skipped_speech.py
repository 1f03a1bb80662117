"""Speech Whisper skips is decoded again: with a prompt that made tiny.en begin a recording's
first window 20 s in, the transcript still starts at the first word (the real model, real
audio: the dialogue d01 and the prompt ending in a full stop that lost it)."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from transcription.audio import decode_audio
from transcription.engines import DecodingOptions
from transcription.transcribe import SKIPPED_SPEECH_S, speech_regions, transcribe_audio
from transcription.vad import SpeechTimeline, VadOptions
from workflow.pipeline import StatementPipeline

pytestmark = pytest.mark.slow


def test_speech_skipped_under_a_prompt_is_heard_again_without_it(
    faster_pipeline: StatementPipeline,
) -> None:
    audio = decode_audio(FIXTURES / "dialogues" / "d01.ogg")
    assert faster_pipeline.initial_prompt is not None
    losing_prompt = faster_pipeline.initial_prompt.rstrip(":") + "."
    decoding = DecodingOptions(initial_prompt=losing_prompt)

    # The engine itself, given that prompt, begins past the first 8 s of speech: the fault.
    timeline = SpeechTimeline(audio.samples, speech_regions(audio.samples, VadOptions()))
    raw = list(faster_pipeline.engine.transcribe(timeline.audio, decoding).segments)
    assert raw and raw[0].words[0].start > SKIPPED_SPEECH_S

    # transcribe_audio notices the unheard speech and keeps the decode that hears it.
    transcript = transcribe_audio(audio, faster_pipeline.engine, decoding=decoding)
    assert transcript.words[0].start < 1.0
    assert transcript.text.startswith("Right, let's start with your details.")
    assert "Thomas Edward Graham" in transcript.text
