"""Find where spoken values are in a text: phone numbers, postcodes, registrations, emails,
times, dates, heights, officers' collar numbers and exhibit references.

spaCy's statistical NER does not help here (it tags phone numbers as DATE, registrations as ORG
and "quarter past ten at night" as DATE), so these are found by rule. A finder only says *where*
a value is and what kind it is; turning the words into the normal form is the job of
:mod:`nlp.normalise`, and every mention kept here is one that its normaliser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

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
    digits_from_speech,
    height_cm,
    normalise_date,
    normalise_email,
    normalise_time,
    postcode_from_chars,
    registration_match,
    uk_phone_from_digits,
    word_alternation,
)

PHONE = "PHONE"
POSTCODE = "POSTCODE"
REGISTRATION = "REGISTRATION"
EMAIL = "EMAIL"
TIME = "TIME"
DATE = "DATE"
HEIGHT = "HEIGHT"
COLLAR = "COLLAR"
EXHIBIT = "EXHIBIT"


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


# ------------------------------------------------------------------------- registration context
def _phrase_alternation(phrases: Iterable[str]) -> str:
    """Phrases as a regex alternation, longest first, any spacing between their words."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)


# How many words may come between a registration cue and the plate: "registration was, I
# think, ABC 123" (3); "the registration of the car was ABC 123" (4).
_WORDS_AFTER_CUE = 6


@cache
def _registration_cue_re() -> re.Pattern[str]:
    cues = _phrase_alternation(lexicons.words("registration_cues"))
    return re.compile(
        rf"\b(?:{cues})\b(?:\W+[\w'’]+){{0,{_WORDS_AFTER_CUE}}}?[\W_]*$", re.IGNORECASE
    )


@cache
def _after_vehicle_re() -> re.Pattern[str]:
    """A vehicle make (any case: Whisper writes "land rover"), one or two model words
    ("Transit Custom", "3", "C-Class") or a pause, and nothing else but pauses before the plate.
    A short shape right after the make is its model ("an Audi A4", "a BMW X5"), not a plate."""
    makes = _phrase_alternation(lexicons.words("vehicle_makes"))
    model = r"[\s-]+(?:[A-Z][\w-]*|\d+)"
    return re.compile(
        rf"\b(?i:{makes})(?:(?:{model}){{1,2}}[\s,;:(-]*|\s*[,;:(-][\s,;:(-]*)"
        r"(?:(?i:erm|um|er|uh)\b[\s,]*)*$"
    )


# A sentence ends at a full stop, question or exclamation mark and a space, except the full
# stop after a spelled letter ("L.A. 9", "A.B.C. 123").
_SENTENCE_END_RE = re.compile(r"(?<!\b[A-Z])[.!?]\s+")
_CONTEXT_WINDOW = 200  # characters looked back for a cue; sentences are shorter than this


def _says_registration(text: str, start: int) -> bool:
    """Whether the words before ``start`` say a registration comes next: a registration cue a
    few words before in the same sentence, or a vehicle make and model right before. A value
    right after "the" is a road ("the A66"), not a plate."""
    before = text[max(start - _CONTEXT_WINDOW, 0) : start]
    ends = list(_SENTENCE_END_RE.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    if re.search(r"\bthe\s*$", before, re.IGNORECASE):
        return False
    return bool(_registration_cue_re().search(before) or _after_vehicle_re().search(before))


def _is_pronoun_i(symbol: CodeSymbol) -> bool:
    return symbol.chars == "I" and symbol.end - symbol.start == 1


def _stands_alone(text: str, run: list[CodeSymbol], i: int, j: int) -> bool:
    """Whether ``run[i:j]`` is the whole spoken code: the short plate shapes must not be a
    piece of a postcode or a phone number. Before it may come the vehicle's model number ("a
    Peugeot 208, LKZ 8812"); after it the "I" of "I think"."""
    rest = run[j:]
    if rest and not (len(rest) == 1 and _is_pronoun_i(rest[0])):
        return False
    if j == len(run) and _is_pronoun_i(run[-1]):
        return False  # "4471 TU, I think" is not "4471 TUI"
    if i == 0:
        return True
    # the symbols before it are the make and model's ("BMW X5, AB 1234")
    vehicle = _after_vehicle_re().search(text, max(run[i].start - _CONTEXT_WINDOW, 0), run[i].start)
    return vehicle is not None and vehicle.start() <= run[i - 1].start


def _registration_at(text: str, run: list[CodeSymbol], i: int, j: int) -> bool:
    fmt = registration_match(_chars(run[i:j]), context=True)
    if fmt is None:
        return False
    if not fmt.needs_context:
        return True
    letters = "".join(s.chars for s in run[i:j] if s.kind == "L")
    return (
        letters not in lexicons.words("registration_not_letters")
        and _stands_alone(text, run, i, j)
        and _says_registration(text, run[i].start)
    )


def _as_digits(piece: list[CodeSymbol]) -> str | None:
    """The digits of a stretch of a code, reading Whisper's letter "O" for "oh" as zero."""
    if any(s.kind != "D" and set(s.chars) != {"O"} for s in piece):
        return None
    return "".join(s.chars if s.kind == "D" else "0" * len(s.chars) for s in piece)


def _find_in_run(text: str, run: list[CodeSymbol]) -> list[Mention]:
    found: list[Mention] = []
    used: set[int] = set()

    def claim(label: str, i: int, j: int) -> None:
        found.append(Mention(label, run[i].start, run[j - 1].end))
        used.update(range(i, j))

    # Registrations first: "sierra foxtrot six eight delta hotel november" also holds a postcode
    # shape ("SF6 8DH"), but a full plate is the likelier reading. The longest plate from each
    # place: "AB12" is a dateless shape, but "AB12 CDE" the plate said.
    for i in range(len(run)):
        for j in range(len(run), i, -1):
            if not used.intersection(range(i, j)) and _registration_at(text, run, i, j):
                claim(REGISTRATION, i, j)
                break
    # Phone numbers: the longest stretch of digits that is a valid UK number.
    i = 0
    while i < len(run):
        best: tuple[int, int] | None = None
        for j in range(i + 1, len(run) + 1):
            digits = _as_digits(run[i:j])
            if used.intersection(range(i, j)) or digits is None:
                break
            if len(digits) >= 10 and uk_phone_from_digits(digits):
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


_PLUS_RE = re.compile(r"(?:\+|\bplus\s+)\s*$", re.IGNORECASE)


def find_codes(text: str) -> list[Mention]:
    """Phone numbers, postcodes and registrations, spoken or written."""
    found = []
    for run in _code_runs(text):
        for m in _find_in_run(text, run):
            if m.label == PHONE and (plus := _PLUS_RE.search(text, 0, m.start)):
                m = Mention(PHONE, plus.start(), m.end)  # "+44 ...", "plus four four ..."
            found.append(m)
    return found


# ------------------------------------------------------------------------------ collar numbers
# A collar number is three to six digits ("DC 445", "PC 12345"): fewer is more likely a count
# ("a sergeant and two constables", "Sergeant one of them").
_COLLAR_DIGITS = (3, 6)
_NUMBER_WORD = word_alternation(
    w for w in lexicons.int_mapping("number_words") if w not in {"hundred", "thousand"}
)
_COLLAR_NUMBER = rf"(?:\d+|{_NUMBER_WORD}|double|triple|treble)"


@cache
def _collar_re() -> re.Pattern[str]:
    ranks = lexicons.words("officer_ranks")
    # "PC" in capitals only; "Police Constable", "sergeant" in any case
    capitals = _phrase_alternation(r for r in ranks if r.isupper())
    any_case = _phrase_alternation(r for r in ranks if not r.isupper())
    return re.compile(
        rf"\b(?P<rank>{capitals}|(?i:{any_case}))\b\.?[\s,:]*(?:(?i:number|no\.?|is)\s+)?"
        rf"(?P<number>(?i:{_COLLAR_NUMBER})(?:[\s,-]+(?i:{_COLLAR_NUMBER})){{0,7}})\b"
    )


def collar_number(text: str) -> str | None:
    """The collar number in a mention found by :func:`find_collar_numbers`: "PC one two three
    four" → "1234", "Sergeant eleven eighty" → "1180"."""
    m = _collar_re().search(text)
    if m is None:
        return None
    digits = digits_from_speech(m.group("number"))
    low, high = _COLLAR_DIGITS
    return digits if digits is not None and low <= len(digits) <= high else None


def find_collar_numbers(text: str) -> list[Mention]:
    """An officer's rank and collar number: "PC 1234", "Police Constable 2231", "PCSO seven oh
    one two", "collar number 4521"."""
    found = []
    for m in _collar_re().finditer(text):
        if collar_number(m.group()) is not None:
            found.append(Mention(COLLAR, m.start(), m.end()))
    return found


# ---------------------------------------------------------------------------- exhibit references
_NATO_WORD = word_alternation(lexicons.mapping("nato"))
_SLASH = r"(?:/|(?i:forward\s+slash|stroke|slash|oblique))"
_EXHIBIT_NUMBER = rf"(?:\d{{1,3}}\b|(?i:{_NUMBER_WORD})(?:[\s-]+(?i:{_NUMBER_WORD})){{0,2}}\b)"
# Initials written ("KJT", "K J T", "K.J.T.") or, after an exhibit cue, in the phonetic alphabet
_CAPITALS = r"(?<![A-Za-z])[A-Z](?:\.?\s?[A-Z]){1,3}\.?(?![A-Za-z])"
_SPELLED = rf"(?:[A-Z]\.?|(?i:{_NATO_WORD}))(?:[\s,.]+(?:[A-Z]\.?|(?i:{_NATO_WORD}))){{1,3}}"


@cache
def _exhibit_patterns() -> tuple[re.Pattern[str], ...]:
    cues = _phrase_alternation(lexicons.words("exhibit_cues"))
    return (
        # KJT/1, K J T stroke one: capitals and a slash need no cue
        re.compile(rf"(?P<ref>{_CAPITALS}\s*{_SLASH}\s*{_EXHIBIT_NUMBER})"),
        # exhibit kilo juliet tango stroke one, exhibit DH 3: after the cue the slash may be
        # lost (Whisper drops it) and the letters may be spelled
        re.compile(
            rf"\b(?i:{cues})\b[\s,:]*(?:(?i:reference|ref|number|no)\.?[\s,:]+)?"
            rf"(?P<ref>(?:{_CAPITALS}|{_SPELLED})\s*(?:{_SLASH}|-)?\s*{_EXHIBIT_NUMBER})"
        ),
    )


def exhibit_reference(text: str) -> str | None:
    """An exhibit reference in its normal form, the initials of the person who produced it, a
    slash and a number: "K J T stroke one" → "KJT/1", "dh/3" → "DH/3", "kilo juliet tango
    slash twelve" → "KJT/12". ``None`` unless it has 2-4 letters and a number."""
    m = re.fullmatch(
        rf"\s*(?P<letters>.+?)\s*(?:{_SLASH}|-|(?=\s))\s*(?P<number>{_EXHIBIT_NUMBER})\s*",
        text,
        re.IGNORECASE,
    )
    if m is None:
        return None
    letters = ""
    for word in re.findall(r"[A-Za-z]+", m.group("letters")):
        nato = lexicons.mapping("nato").get(word.lower())
        letters += nato if nato else word.upper()
    if not re.fullmatch(r"[A-Z]{2,4}", letters):
        return None
    number = digits_from_speech(m.group("number"))
    if number is None or not 1 <= len(number) <= 3 or int(number) == 0:
        return None
    return f"{letters}/{int(number)}"


def find_exhibits(text: str) -> list[Mention]:
    """Exhibit references: "KJT/1", "exhibit K J T stroke one", "exhibit reference ABC/2"."""
    found = []
    for pattern in _exhibit_patterns():
        for m in pattern.finditer(text):
            if exhibit_reference(m.group("ref")) is not None:
                found.append(Mention(EXHIBIT, m.start("ref"), m.end("ref")))
    return found


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
    """All value mentions in ``text``, in text order. Emails, collar numbers, exhibit references
    and codes win over times, dates and heights that overlap them ("nine five five" in a phone
    number is not a time), and collar numbers and exhibits over codes ("PC 1234" is not a
    dateless plate)."""
    emails = _without_overlaps(
        _find(EMAIL, _EMAIL_PATTERNS, text, normalise_email),
        [],
    )
    collars = _without_overlaps(find_collar_numbers(text), emails)
    exhibits = _without_overlaps(find_exhibits(text), emails + collars)
    codes = _without_overlaps(find_codes(text), emails + collars + exhibits)
    claimed = emails + collars + exhibits + codes
    times = _without_overlaps(_find(TIME, _TIME_PATTERNS, text, normalise_time), claimed)
    dates = _without_overlaps(
        _find(DATE, _DATE_PATTERNS, text, lambda s: normalise_date(s, statement_date=_SOME_DAY)),
        claimed,
    )
    heights = _without_overlaps(_find(HEIGHT, _HEIGHT_PATTERNS, text, height_cm), claimed)
    return sorted(claimed + times + dates + heights, key=lambda m: (m.start, m.end))
