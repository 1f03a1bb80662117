"""Find where spoken values are in a text: phone numbers, postcodes, registrations, emails,
times, dates and heights.

spaCy's statistical NER does not help here (it tags phone numbers as DATE, registrations as ORG
and "quarter past ten at night" as DATE), so these are found by rule. A finder only says *where*
a value is and what kind it is; turning the words into the normal form is the job of
:mod:`nlp.normalise`, and every mention kept here is one that its normaliser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from nlp import lexicons
from nlp.normalise import (
    MONTHS,
    NUMBER_PATTERN,
    SMALL_PATTERN,
    TENS_PATTERN,
    UNIT_PATTERN,
    WEEKDAYS,
    CodeSymbol,
    code_symbols,
    height_cm,
    normalise_date,
    normalise_email,
    normalise_time,
    postcode_from_chars,
    registration_from_chars,
    word_alternation,
)

PHONE = "PHONE"
POSTCODE = "POSTCODE"
REGISTRATION = "REGISTRATION"
EMAIL = "EMAIL"
TIME = "TIME"
DATE = "DATE"
HEIGHT = "HEIGHT"


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    end: int


# ------------------------------------------------------------------------------- spelled codes
def _run_break(text: str, previous: CodeSymbol, gap: str) -> bool:
    """Whether the characters between two code symbols end the code.

    Spaces, commas and hyphens are how people pause inside a code; a full stop ends it unless it
    follows a single letter ("L.A. 9").
    """
    if re.fullmatch(r"[\s,\-–]*", gap):
        return False
    abbreviation = re.fullmatch(r"\.\s*", gap) and previous.kind == "L" and len(previous.chars) == 1
    return not abbreviation


def _code_runs(text: str) -> list[list[CodeSymbol]]:
    runs: list[list[CodeSymbol]] = []
    current: list[CodeSymbol] = []
    for symbol in code_symbols(text, strict_case=True):
        if symbol is None or (
            current and _run_break(text, current[-1], text[current[-1].end : symbol.start])
        ):
            if current:
                runs.append(current)
            current = []
        if symbol is not None:
            current.append(symbol)
    if current:
        runs.append(current)
    return runs


def _chars(symbols: list[CodeSymbol]) -> str:
    return "".join(s.chars for s in symbols)


def _find_in_run(run: list[CodeSymbol]) -> list[Mention]:
    found: list[Mention] = []
    used: set[int] = set()

    def claim(label: str, i: int, j: int) -> None:
        found.append(Mention(label, run[i].start, run[j - 1].end))
        used.update(range(i, j))

    # Registrations first: "sierra foxtrot six eight delta hotel november" also holds a postcode
    # shape ("SF6 8DH"), but a full plate is the likelier reading.
    for i in range(len(run)):
        for j in range(i + 1, len(run) + 1):
            if not used.intersection(range(i, j)) and registration_from_chars(_chars(run[i:j])):
                claim(REGISTRATION, i, j)
                break
    # Phone numbers: the longest stretch of digits that reads as a UK number.
    i = 0
    while i < len(run):
        best: tuple[int, int] | None = None
        for j in range(i + 1, len(run) + 1):
            piece = run[i:j]
            if used.intersection(range(i, j)) or any(s.kind != "D" for s in piece):
                break
            if re.fullmatch(r"0\d{9,10}|440?\d{10}", _chars(piece)):
                best = (i, j)
        if best:
            claim(PHONE, *best)
            i = best[1]
        else:
            i += 1
    # Postcodes: must not be glued to more letters on either side (a plate is not a postcode).
    for i in range(len(run)):
        for j in range(len(run), i, -1):
            if used.intersection(range(i, j)):
                continue
            if (i > 0 and run[i - 1].kind == "L") or (j < len(run) and run[j].kind == "L"):
                continue
            if postcode_from_chars(_chars(run[i:j])):
                claim(POSTCODE, i, j)
                break
    return found


def find_codes(text: str) -> list[Mention]:
    """Phone numbers, postcodes and registrations, spoken or written."""
    return [m for run in _code_runs(text) for m in _find_in_run(run)]


# --------------------------------------------------------------------------------- word patterns
_NUMBERS = lexicons.int_mapping("number_words")
_UNIT = UNIT_PATTERN
_TENS = TENS_PATTERN
_SMALL = SMALL_PATTERN
_DIGIT_WORD = word_alternation(_NUMBERS)
_NUM = NUMBER_PATTERN
_ORDINALS = lexicons.int_mapping("ordinal_words")
_ORD_UNIT = word_alternation(w for w, v in _ORDINALS.items() if v < 10)
_ORD_TEEN_OR_TENS = word_alternation(w for w, v in _ORDINALS.items() if v >= 10)
_ORD = (
    rf"(?:(?:(?:twenty|thirty)[\s-])?(?:{_ORD_UNIT})|{_ORD_TEEN_OR_TENS}|\d{{1,2}}(?:st|nd|rd|th)?)"
)
_MONTH = word_alternation(MONTHS)
_WEEKDAY = word_alternation(WEEKDAYS)
_YEAR = (
    rf"(?:\d{{4}}|(?:nineteen|twenty)[\s-]+(?:(?:oh|o)\s+(?:{_UNIT})|hundred|"
    rf"(?:{_TENS})(?:[\s-](?:{_UNIT}))?|{_SMALL})|two\s+thousand(?:\s+and)?(?:\s+{_NUM})?)"
)
# "pm", "p.m." (a full stop after a bare "pm" ends the sentence and is not part of the time)
_AM_PM = r"(?:[ap]m\b|[ap]\.m\.?)"
_DAY_PART = (
    r"(?:\s*,?\s*(?:in\s+the\s+(?:morning|afternoon|evening)|at\s+night|tonight"
    rf"|{_AM_PM}))?"
)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_TIME_PATTERNS = [
    # quarter past ten, twenty-five to nine, ten minutes after six [at night]
    _compile(
        rf"\b(?:quarter|half|{_NUM}(?:\s+minutes?)?)\s+(?:past|after|to|till|before)\s+"
        rf"(?:{_NUM}|midnight|midday|noon)\b{_DAY_PART}"
    ),
    # half three (British: half past three) [in the afternoon]
    _compile(rf"\bhalf\s+{_NUM}\b(?!\s+(?:an?|of|the|past|hour|hours|dozen)\b){_DAY_PART}"),
    # ten o'clock [at night]
    _compile(rf"\b{_NUM}\s+o['’]?\s?clock\b{_DAY_PART}"),
    # 10.30pm, 22:15
    _compile(
        r"(?<![\d£$.,:])\b\d{1,2}[:.]\d{2}(?![\d.,]\d)(?!\s*(?:m\b|metres|meters|miles|km|kg|cm))"
        + _DAY_PART
    ),
    # ten pm, 7am
    _compile(rf"\b{_NUM}\s*{_AM_PM}"),
    # zero six forty-five hours, eighteen hundred hours, 1800 hours
    _compile(rf"\b(?:(?:{_DIGIT_WORD}|hundred|\d{{1,4}})(?:,?\s+|-)){{1,4}}(?:hours|hrs)\b"),
    # four in the afternoon, ten at night
    _compile(rf"\b{_NUM}\s+(?:in\s+the\s+(?:morning|afternoon|evening)|at\s+night|tonight)\b"),
    # at ten thirty, at about seven oh five [pm]
    _compile(
        rf"(?<=\bat\s)(?:about\s+|around\s+)?{_NUM}\s+(?:(?:oh|o)\s+(?:{_UNIT})|{_NUM})\b"
        + _DAY_PART
    ),
    _compile(r"\b(?:midnight|midday|noon)\b"),
]

_DATE_PATTERNS = [
    # [last|on] Tuesday [the seventeenth of November [twenty twenty-six]]
    _compile(
        rf"\b(?:(?:last|this|on|this\s+past)\s+)?(?:{_WEEKDAY})\b"
        rf"(?:\s*,?\s*(?:the\s+)?{_ORD}(?:\s+of)?\s+(?:{_MONTH})\b(?:\s*,?\s*{_YEAR}\b)?)?"
    ),
    # the 7th of February 2026
    _compile(rf"\b(?:the\s+)?{_ORD}\s+(?:of\s+)?(?:{_MONTH})\b(?:\s*,?\s*{_YEAR}\b)?"),
    # February the 7th, 2026
    _compile(rf"\b(?:{_MONTH})\s+(?:the\s+)?{_ORD}\b(?:\s*,?\s*{_YEAR}\b)?"),
    _compile(
        r"\b(?:the\s+day\s+before\s+yesterday|yesterday|today|tonight|last\s+night"
        r"|this\s+(?:morning|afternoon|evening))\b"
    ),
    _compile(r"\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b|\b\d{4}-\d{2}-\d{2}\b"),
]

_HEIGHT_PATTERNS = [
    _compile(
        rf"\b(?:{_NUM})\s*(?:foot|feet|ft\b)(?:\s*(?:{_NUM})(?:\s*(?:inches|inch|ins?)\b)?)?"
        r"(?:\s+tall)?"
    ),
    _compile(r"\b\d['’]\s?\d{1,2}\b\"?"),
    _compile(r"\b[12](?:\.\d{1,2})?\s*(?:m|metres?|meters?)\b"),
    _compile(r"\b1\d\d\s*(?:cm|centimetres?|centimeters?)\b"),
]

_EMAIL_PATTERNS = [
    _compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b"),
    # tom dot baker at example dot org: the local part starts with a letter and the domain
    # ends with a dot and letters, so "900301. At 10.30pm" is not an address
    re.compile(
        r"\b[A-Za-z][A-Za-z0-9_-]*(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-])[A-Za-z0-9]+)*"
        r"\s+at\s+[A-Za-z0-9][A-Za-z0-9-]*(?:(?:\s+dot\s+|\.)[A-Za-z0-9-]+)*(?:\s+dot\s+|\.)"
        r"[A-Za-z]{2,}\b"
    ),
]

# Any date will do to check that a phrase is a date; the real one is applied by the rules.
_SOME_DAY = date(2000, 1, 1)


def _find(
    label: str,
    patterns: list[re.Pattern[str]],
    text: str,
    valid: Callable[[str], object],
) -> list[Mention]:
    found: list[Mention] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if label == TIME and re.search(r"\d\s?[-–]\s?$", text[max(start - 3, 0) : start]):
                continue  # "20-11 at night" is "twenty to eleven" misheard, not 11 p.m.
            phrase = text[start:end].rstrip(" ,")
            end = start + len(phrase)
            # a phrase with words to spare at the front ("two ... eighteen hundred hours"): trim
            while valid(phrase) is None and " " in phrase:
                cut = phrase.index(" ") + 1
                start, phrase = start + cut, phrase[cut:]
            if valid(phrase) is not None:
                found.append(Mention(label, start, end))
    return found


def _without_overlaps(mentions: list[Mention], claimed: list[Mention]) -> list[Mention]:
    """Longest first; a mention overlapping one already kept (or a claimed one) is dropped."""
    kept: list[Mention] = []
    taken = list(claimed)
    for m in sorted(mentions, key=lambda m: (-(m.end - m.start), m.start)):
        if any(m.start < t.end and t.start < m.end for t in taken):
            continue
        kept.append(m)
        taken.append(m)
    return sorted(kept, key=lambda m: m.start)


def find_mentions(text: str) -> list[Mention]:
    """All value mentions in ``text``, in text order. Emails and codes win over times, dates and
    heights that overlap them ("nine five five" in a phone number is not a time)."""
    emails = _without_overlaps(
        _find(EMAIL, _EMAIL_PATTERNS, text, normalise_email),
        [],
    )
    codes = _without_overlaps(find_codes(text), emails)
    claimed = emails + codes
    times = _without_overlaps(_find(TIME, _TIME_PATTERNS, text, normalise_time), claimed)
    dates = _without_overlaps(
        _find(DATE, _DATE_PATTERNS, text, lambda s: normalise_date(s, statement_date=_SOME_DAY)),
        claimed,
    )
    heights = _without_overlaps(_find(HEIGHT, _HEIGHT_PATTERNS, text, height_cm), claimed)
    return sorted(claimed + times + dates + heights, key=lambda m: (m.start, m.end))
