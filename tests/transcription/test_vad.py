"""Silero VAD gating and the map from joined speech back to recording time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from transcription.audio import SAMPLE_RATE, decode_audio
from transcription.vad import SpeechRegion, SpeechTimeline, detect_speech
from transcription.vocabulary import build_prompt, load_vocabulary


def test_silence_has_no_speech() -> None:
    quiet_room = np.random.default_rng(1).normal(0, 0.001, 10 * SAMPLE_RATE).astype(np.float32)
    assert detect_speech(quiet_room) == []
    assert detect_speech(np.zeros(0, dtype=np.float32)) == []


def test_speech_is_found_where_it_is(jfk_path: Path) -> None:
    speech = decode_audio(jfk_path).samples
    gap = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    regions = detect_speech(np.concatenate([gap, speech, gap]))
    assert regions
    assert regions[0].start >= 9 * SAMPLE_RATE
    assert regions[-1].end <= (10 + 1) * SAMPLE_RATE + speech.size


def test_timeline_maps_joined_time_back_to_the_recording() -> None:
    samples = np.arange(10 * SAMPLE_RATE, dtype=np.float32)
    regions = [
        SpeechRegion(1 * SAMPLE_RATE, 3 * SAMPLE_RATE),
        SpeechRegion(6 * SAMPLE_RATE, 7 * SAMPLE_RATE),
    ]
    timeline = SpeechTimeline(samples, regions)
    assert timeline.speech_s == 3.0
    assert timeline.audio[0] == samples[SAMPLE_RATE]
    assert timeline.original_time(0.0) == 1.0
    assert timeline.original_time(1.5) == 2.5
    # The seam: an end belongs to the first region, a start to the second.
    assert timeline.original_time(2.0, is_end=True) == 3.0
    assert timeline.original_time(2.0) == 6.0
    assert timeline.original_time(2.5) == 6.5


def test_vocabulary_prompt_keeps_whole_terms_within_the_limit(tmp_path: Path) -> None:
    terms = load_vocabulary()
    assert "Penrith" in terms and "Barrow-in-Furness" in terms
    prompt = build_prompt(terms)
    assert prompt is not None and len(prompt) <= 600
    assert prompt.startswith("PC, PCSO")
    custom = tmp_path / "words.txt"
    custom.write_text("# comment\nAlston\n\nAlston\nHaltwhistle  # trailing comment\n")
    assert load_vocabulary(custom) == ["Alston", "Haltwhistle"]
    assert build_prompt(["Alston", "Haltwhistle"], max_chars=10) == "Alston:"
    # a colon at the end: with a full stop, Whisper skipped the first 20 s of a recording
    assert prompt.endswith(":")
    assert build_prompt([]) is None
