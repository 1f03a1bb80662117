"""The guard against segments Whisper invents in the padding after speech."""

from __future__ import annotations

from models import Segment, Word
from transcription.transcribe import is_hallucination


def _segment(logprob: float, words: list[tuple[str, float, float, float]]) -> Segment:
    return Segment(
        start=words[0][1],
        end=words[-1][2],
        text="".join(w[0] for w in words),
        avg_logprob=logprob,
        no_speech_prob=0.58,
        words=tuple(Word(*w) for w in words),
    )


def test_squeezed_unsure_words_at_the_end_are_dropped() -> None:
    # What tiny.en wrote into the last 0.44 s of the mg11 fixture.
    tail = _segment(
        -1.31,
        [
            (" We'll", 23.0, 23.44, 0.2),
            (" see", 23.44, 23.44, 0.5),
            (" you", 23.44, 23.44, 0.71),
            (" next", 23.44, 23.44, 0.33),
            (" time.", 23.44, 23.44, 0.62),
        ],
    )
    assert is_hallucination(tail, -1.0)


def test_confident_speech_is_kept_however_short() -> None:
    yes = _segment(-0.3, [(" Yes.", 4.0, 4.05, 0.9)])
    assert not is_hallucination(yes, -1.0)


def test_unsure_but_well_timed_speech_is_kept() -> None:
    mumbled = _segment(
        -1.4, [(" He", 5.0, 5.3, 0.4), (" ran", 5.3, 5.6, 0.3), (" off", 5.6, 6.0, 0.5)]
    )
    assert not is_hallucination(mumbled, -1.0)
