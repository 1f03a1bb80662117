"""Tie character spans of a transcript's text back to the words Whisper heard, for the time
(``start_s``/``end_s``) and confidence of a field."""

from __future__ import annotations

from dataclasses import dataclass

from models.transcript import Transcript, Word

# Between two consecutive words there is only a space, punctuation, or the join between two
# segments; a word not found that close is one whose text differs from the segment text (it
# happens with numbers), and is skipped rather than matched to a later, unrelated occurrence.
_MAX_GAP = 24


@dataclass(frozen=True)
class LocatedWord:
    start_char: int
    end_char: int
    word: Word


def locate_words(transcript: Transcript) -> list[LocatedWord]:
    """Each word's character span in ``transcript.text``, found by searching the word strings
    in order (Whisper's words carry their leading space; segment texts are joined into the
    text, so offsets are not simply cumulative)."""
    text, lowered = transcript.text, transcript.text.lower()
    located: list[LocatedWord] = []
    cursor = 0
    for word in transcript.words:
        needle = word.word.strip()
        if not needle:
            continue
        limit = cursor + _MAX_GAP + len(needle)
        at = text.find(needle, cursor, limit)
        if at < 0:
            at = lowered.find(needle.lower(), cursor, limit)
        if at < 0:
            continue
        located.append(LocatedWord(at, at + len(needle), word))
        cursor = at + len(needle)
    return located


@dataclass(frozen=True)
class Evidence:
    start_s: float
    end_s: float
    probability: float  # the least sure word: a phone number is wrong if one digit is


def evidence(words: list[LocatedWord], start_char: int, end_char: int) -> Evidence | None:
    """Timing and confidence of the words overlapping ``[start_char, end_char)``; ``None``
    when no word does (text input, or words that could not be located)."""
    overlapping = [w.word for w in words if w.start_char < end_char and start_char < w.end_char]
    if not overlapping:
        return None
    return Evidence(
        start_s=min(w.start for w in overlapping),
        end_s=max(w.end for w in overlapping),
        probability=min(w.probability for w in overlapping),
    )
