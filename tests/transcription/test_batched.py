"""Where the openai-whisper engine cuts the joined speech into chunks (no model needed)."""

from __future__ import annotations

import itertools

import numpy as np

from transcription.audio import SAMPLE_RATE
from transcription.batched import FRAMES_PER_SECOND, Chunk, plan_chunks

MAX_FRAMES = 30 * FRAMES_PER_SECOND


def _speech(seconds: float, *, seed: int = 0) -> np.ndarray:
    """Loud noise standing in for speech: no quiet moment anywhere."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.3, round(seconds * SAMPLE_RATE)).astype(np.float32)


def _covers(chunks: list[Chunk], audio: np.ndarray) -> None:
    assert chunks[0].start == 0
    assert chunks[-1].end == audio.size // 160
    for before, after in itertools.pairwise(chunks):
        assert before.end == after.start
    assert all(0 < c.end - c.start <= MAX_FRAMES for c in chunks)


def test_regions_are_packed_into_chunks_that_end_only_where_regions_meet() -> None:
    lengths = [12.0, 9.0, 8.0, 14.0, 3.0, 25.0]
    audio = np.concatenate([_speech(s, seed=i) for i, s in enumerate(lengths)])
    seams = list(np.cumsum(lengths)[:-1])
    chunks = plan_chunks(audio, seams)
    _covers(chunks, audio)
    seam_frames = {round(s * FRAMES_PER_SECOND) for s in seams}
    assert all(c.end in seam_frames for c in chunks[:-1])
    # Greedy packing: 12+9+8 = 29 s, then 14+3 = 17 s (25 more would pass 30), then 25 s.
    assert [(c.end - c.start) / FRAMES_PER_SECOND for c in chunks] == [29.0, 17.0, 25.0]


def test_a_region_longer_than_thirty_seconds_is_cut_at_its_quietest_moment() -> None:
    audio = _speech(70.0)
    # Two pauses of half a second: at 24-24.5 s and at 51-51.5 s.
    for start in (24.0, 51.0):
        audio[round(start * SAMPLE_RATE) : round((start + 0.5) * SAMPLE_RATE)] *= 0.001
    chunks = plan_chunks(audio)
    _covers(chunks, audio)
    cuts = [c.end / FRAMES_PER_SECOND for c in chunks[:-1]]
    assert len(cuts) == 2
    assert 24.0 <= cuts[0] <= 24.5
    assert 51.0 <= cuts[1] <= 51.5


def test_short_audio_is_one_chunk_and_no_audio_none() -> None:
    audio = _speech(11.0)
    assert plan_chunks(audio, [4.0, 8.0]) == [Chunk(0, audio.size // 160)]
    assert plan_chunks(np.zeros(0, dtype=np.float32)) == []
