"""Names as the speaker spells them, and spellings to offer when they did not.

Whisper ``tiny.en`` spells about one witness name in five exactly, so the extractor uses what
the speaker gives:

- a name spelled out letter by letter right after it ("Anna Nowicki, that's N O W I C K I";
  "spelt N-O-W-I-C-K-I"; "Foxtrot Echo Lima Lima" after "spelt") replaces the heard word it
  spells (:func:`spelled_after`, :func:`apply_spelling`);
- a name heard without a spelling is flagged for the officer to confirm with the witness, with
  spellings that sound the same ranked first (:func:`suggest_spellings`), from
  ``data/names_lexicon.txt`` (US Census 1990 name files, public domain: see
  ``scripts/make_names_lexicon.py``) and ``data/names_extra.txt`` (common British and Irish
  names). A suggestion is never applied by the machine.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import jellyfish

from nlp import lexicons
from nlp.normalise import title_case_name

# "that's", "spelt", "spelled", "spelling", "S for Sierra": what introduces a spelling.
_CUE_RE = re.compile(
    r"[\s,:;-]*(?:(?:that['’]?s|that is|it['’]?s|which is|surname|first name|name)\s+)?"
    r"(?:(?:spelt|spelled|spelling|spelt out)\b[\s,:;-]*(?:as\s+)?)?",
    re.IGNORECASE,
)
_SYMBOL_RE = re.compile(r"(?P<double>double|treble|triple)\s+(?P<repeated>[A-Za-z]+)|[A-Za-z]+")
_GAP_RE = re.compile(r"[\s,.\-–]*")

# Fewer letters than this is an initial or a word, not a spelling ("J. Smith", "a").
MIN_SPELLED_LETTERS = 3


@dataclass(frozen=True)
class Spelling:
    """A word spelled out: its letters and the characters it was said in."""

    letters: str
    start: int
    end: int


def _letter(word: str, *, cued: bool) -> str | None:
    """The letter a spoken word stands for: a capital letter alone ("N"), or with a cue a
    lower-case letter or a phonetic-alphabet word ("november")."""
    if len(word) == 1 and word.isalpha() and (cued or word.isupper()):
        return word.upper()
    if cued:
        return lexicons.mapping("nato").get(word.lower())
    return None


def spelled_after(text: str, pos: int, *, within: int = 3) -> Spelling | None:
    """The spelling said right after ``pos`` (the end of a name), or ``None``.

    within: how many characters of pause (spaces, a comma) may come before the cue or the
    letters. Without a cue only capital letters count ("Nowicki, N O W I C K I"); after one
    ("that's", "spelt") lower-case letters and phonetic-alphabet words count too, and a
    capitalised word of capitals alone is read as a spelling ("that's NOWICKI").
    """
    gap = _GAP_RE.match(text, pos)
    if gap is None or gap.end() - pos > within:
        return None
    cue = _CUE_RE.match(text, pos)
    cued = cue is not None and bool(re.search(r"[A-Za-z]", cue.group()))
    at = cue.end() if cued and cue is not None else gap.end()
    letters: list[str] = []
    start = end = at
    dotted: bool | None = None  # "N. O. W.": dots between letters; else a dot ends the spelling
    while (m := _SYMBOL_RE.match(text, at)) is not None:
        if m.group("double"):
            letter = _letter(m.group("repeated"), cued=cued)
            times = 2 if m.group("double").lower() == "double" else 3
            if letter is None:
                break
            letters.append(letter * times)
        else:
            word = m.group()
            letter = _letter(word, cued=cued)
            if letter is None:
                if cued and not letters and word.isupper() and len(word) >= MIN_SPELLED_LETTERS:
                    letters.append(word)  # "that's NOWICKI": Whisper wrote the letters as one
                    end = m.end()
                break
            letters.append(letter)
        end = m.end()
        gap = _GAP_RE.match(text, end)
        assert gap is not None
        has_dot = "." in gap.group()
        if dotted is None:
            dotted = has_dot
        elif has_dot and not dotted:
            break  # "... C K I. I live": the sentence ended
        at = gap.end()
    spelled = "".join(letters)
    if len(spelled) < MIN_SPELLED_LETTERS:
        return None
    return Spelling(spelled, start, end)


def _similarity(a: str, b: str) -> float:
    return jellyfish.jaro_winkler_similarity(a.lower(), b.lower())


def apply_spelling(name: str, spelling: Spelling) -> str:
    """``name`` with the word the spelling spells replaced by it: the word most like it
    ("Anna Nowiki" + NOWICKI → "Anna Nowicki")."""
    words = name.split()
    if not words:
        return name
    best = max(range(len(words)), key=lambda i: (_similarity(words[i], spelling.letters), i))
    words[best] = title_case_name(spelling.letters.lower())
    return " ".join(words)


@cache
def _lexicon() -> tuple[Mapping[str, tuple[tuple[str, int], ...]], frozenset[str]]:
    """Names by phonetic key (Metaphone), each with its frequency rank; and all names."""
    by_key: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
    names: set[str] = set()
    for line in lexicons.words("names_lexicon"):
        name, _, rank = line.split()
        by_key[jellyfish.metaphone(name)].append((name, int(rank)))
        names.add(name.lower())
    for line in lexicons.words("names_extra"):
        name = line.split()[0]
        by_key[jellyfish.metaphone(name)].append((name, 1))
        names.add(name.lower())
    return {k: tuple(v) for k, v in by_key.items()}, frozenset(names)


def suggest_spellings(word: str, *, limit: int = 5) -> tuple[str, ...]:
    """Listed names that sound like ``word`` (the same Metaphone key), most alike first, then
    most common; ``word`` itself is left out. Empty when nothing sounds like it."""
    by_key, _ = _lexicon()
    candidates = {
        name: rank
        for name, rank in by_key.get(jellyfish.metaphone(word), ())
        if name.lower() != word.lower()
    }
    ranked = sorted(candidates, key=lambda n: (-round(_similarity(n, word), 2), candidates[n]))
    return tuple(ranked[:limit])


def name_suggestions(name: str, *, limit: int = 5) -> tuple[str, ...]:
    """Whole-name alternatives to offer for a heard name: each word in turn (surname first)
    replaced by the names that sound like it."""
    words = name.split()
    out: list[str] = []
    for i in reversed(range(len(words))):
        for alternative in suggest_spellings(words[i], limit=limit):
            out.append(" ".join([*words[:i], alternative, *words[i + 1 :]]))
    return tuple(out[:limit])


def is_listed_name(word: str) -> bool:
    """Whether ``word`` is in the names lexicon (case ignored)."""
    return word.lower() in _lexicon()[1]
