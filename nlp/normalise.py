"""Turn values as they are said into the normal forms of the contract (``statement-fields.md``).

Every function here is pure: a string in, a normal form (or ``None`` when the string is not a
value of that kind) out. They accept both the words a person says ("oh seven seven double oh
...", "quarter past ten at night") and the digits Whisper often writes instead ("07700 900301",
"10.15pm"), because the same extractor runs on typed text and on transcripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from types import MappingProxyType

import phonenumbers

from nlp import lexicons

_NUMBER_WORDS = lexicons.int_mapping("number_words")
_ORDINAL_WORDS = lexicons.int_mapping("ordinal_words")
_NATO = lexicons.mapping("nato")

# "oh" and "nought" are zero only when digits are read out one by one ("oh seven seven ..."),
# never in a count ("I'm oh" is not an age).
_ZERO_DIGIT_WORDS = frozenset({"oh", "nought", "nil", "zero"})
_UNITS = {w: v for w, v in _NUMBER_WORDS.items() if 1 <= v <= 9}
_SMALL = {w: v for w, v in _NUMBER_WORDS.items() if v < 20 and w not in {"oh", "nought", "nil"}}
_TENS = {w: v for w, v in _NUMBER_WORDS.items() if v >= 20}
_REPEATS = {"double": 2, "triple": 3, "treble": 3}

MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS: dict[str, int] = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}  # fmt: skip

_WORD_RE = re.compile(r"[a-z]+|\d+")


def word_alternation(words: Iterable[str]) -> str:
    """A regex alternation of words, longest first so "nineteen" is tried before "nine"."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# Regex fragments for numbers in words, shared by the mention finders and the field rules.
UNIT_PATTERN = word_alternation(_UNITS)
SMALL_PATTERN = word_alternation(_SMALL)
TENS_PATTERN = word_alternation(_TENS)
# a number up to 99 in words or digits: "twenty-five", "nine", "10"
NUMBER_PATTERN = rf"(?:(?:{TENS_PATTERN})(?:[\s-](?:{UNIT_PATTERN}))?|{SMALL_PATTERN}|\d{{1,2}})"


# A digit group longer than this is no number a statement holds (the longest, a phone number
# read as one group, has 13 digits), and int() refuses strings past 4,300 digits: reading one
# would raise from inside the extractor on a transcript with a long run of digits.
_LONGEST_NUMBER = 32


def _digit_value(tok: str) -> int | None:
    """The value of a digit group, or ``None`` when it is too long to be a number said."""
    return int(tok) if tok.isdecimal() and len(tok) <= _LONGEST_NUMBER else None


def _words(text: str) -> list[str]:
    """Lower-case words and digit groups; hyphens, commas and dots only separate."""
    return _WORD_RE.findall(text.lower().replace("’", "'").replace("'", ""))


# ---------------------------------------------------------------------------------------- numbers
def _below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok in _TENS:
        if i + 1 < len(tokens) and tokens[i + 1] in _UNITS:
            return _TENS[tok] + _UNITS[tokens[i + 1]], i + 2
        return _TENS[tok], i + 1
    if tok in _SMALL:
        return _SMALL[tok], i + 1
    value = _digit_value(tok)
    return None if value is None else (value, i + 1)


def _below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    first = _below_hundred(tokens, i)
    if first is None:
        return None
    value, i = first
    if i < len(tokens) and tokens[i] == "hundred" and 1 <= value <= 9:
        value, i = value * 100, i + 1
        rest = _below_hundred(tokens, i)
        if rest is not None and rest[0] < 100:
            value, i = value + rest[0], rest[1]
    return value, i


def number_from_words(text: str) -> int | None:
    """A cardinal number said in words or written in digits: "twenty-nine" → 29,
    "one hundred and five" → 105, "34" → 34. ``None`` unless the whole text is one number
    ("six one two" is three digits, not a number: see :func:`digits_from_speech`)."""
    tokens = [t for t in _words(text) if t != "and"]
    if tokens[:1] == ["a"] and tokens[1:2] in (["hundred"], ["thousand"]):
        tokens[0] = "one"
    parsed = _below_thousand(tokens, 0)
    if parsed is None:
        return None
    value, i = parsed
    if i < len(tokens) and tokens[i] == "thousand":
        value, i = value * 1000, i + 1
        rest = _below_thousand(tokens, i)
        if rest is not None:
            value, i = value + rest[0], rest[1]
    return value if i == len(tokens) else None


_ORDINAL_DIGITS_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")


def ordinal_from_words(text: str) -> int | None:
    """An ordinal ("twenty-first" → 21, "7th" → 7, "seventeenth" → 17)."""
    tokens = _words(text)
    if len(tokens) == 1:
        m = _ORDINAL_DIGITS_RE.fullmatch(tokens[0])
        if m:
            return int(m.group(1))
        if tokens[0].isdigit():
            return _digit_value(tokens[0])
        return _ORDINAL_WORDS.get(tokens[0])
    if len(tokens) == 2 and tokens[0] in _TENS and tokens[1] in _ORDINAL_WORDS:
        unit = _ORDINAL_WORDS[tokens[1]]
        return _TENS[tokens[0]] + unit if unit < 10 else None
    if len(tokens) == 2 and tokens[0].isdigit() and tokens[1] in {"st", "nd", "rd", "th"}:
        return _digit_value(tokens[0])
    return None


def digits_from_speech(text: str) -> str | None:
    """Digits read out one group at a time: "oh seven seven double oh, nine double oh, three oh
    one" → "07700900301"; "077-double-0-9" → "07709"; "nine hundred" → "900". Tens words keep
    their two digits ("seventy seven" → "77"). ``None`` if a word is not part of a number."""
    tokens = _words(text)
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok in _REPEATS:
            repeat = _REPEATS[tok]
            continue
        if tok.isdigit():
            chunk = tok
        elif tok in _ZERO_DIGIT_WORDS or tok == "o":
            chunk = "0"
        elif tok in _TENS:
            if i < len(tokens) and tokens[i] in _UNITS:
                chunk = str(_TENS[tok] + _UNITS[tokens[i]])
                i += 1
            else:
                chunk = str(_TENS[tok])
        elif tok in _SMALL:
            chunk = str(_SMALL[tok])
        elif tok == "hundred":
            chunk = "00"
        elif tok == "thousand":
            chunk = "000"
        elif tok == "and":
            continue
        else:
            return None
        out.append(chunk * repeat)
        repeat = 1
    if repeat != 1 or not out:
        return None
    return "".join(out)


@cache
def _drama_ranges() -> tuple[tuple[str, int], ...]:
    """Ofcom's drama numbers (``data/phone_drama_ranges.txt``) as (prefix, length)."""
    ranges = []
    for line in lexicons.words("phone_drama_ranges"):
        prefix, length = line.split()
        ranges.append((prefix, int(length)))
    return tuple(ranges)


def uk_phone_from_digits(digits: str) -> str | None:
    """UK national digits ("07700900301") for a number written as digits only: national
    ("07700900301"), international ("447700900301", "4407700900301", "00447700900301"). ``None``
    unless the ``phonenumbers`` library says it is a valid +44 number (Great Britain and the
    Crown Dependencies, which share the UK's numbering) or it is one of Ofcom's drama numbers
    (``data/phone_drama_ranges.txt``), which the library calls invalid but a scripted statement
    reads out."""
    if digits.startswith("0044"):
        digits = digits[2:]
    if digits.startswith("440") and len(digits) == 13:  # +44 (0) 7700 ...
        digits = digits[2:]
    elif digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0[1-9]\d{8,9}", digits):
        return None
    if any(digits.startswith(p) and len(digits) == n for p, n in _drama_ranges()):
        return digits
    try:
        number = phonenumbers.parse(digits, "GB")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 44 or not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"\D", "", national)


def normalise_phone(text: str) -> str | None:
    """A UK phone number as national digits: "oh seven seven double oh nine double oh three oh
    one" / "07700 900301" / "+44 7700 900301" / "plus four four seven seven double oh ..." →
    "07700900301"; "oh one two two eight, treble five, one two three" → "01228555123".
    ``None`` for a number that is not a valid UK one (see :func:`uk_phone_from_digits`)."""
    said = re.sub(r"^\s*plus\b", " ", text.replace("+", " "), flags=re.IGNORECASE)
    digits = digits_from_speech(said)
    return uk_phone_from_digits(digits) if digits is not None else None


# ------------------------------------------------------------------------------- spelled codes
@dataclass(frozen=True)
class CodeSymbol:
    """One piece of a spelled code: letters (``kind`` "L") or digits ("D"), with where it was
    said (character offsets into the text given to :func:`code_symbols`)."""

    chars: str
    kind: str
    start: int
    end: int


_CODE_TOKEN_RE = re.compile(r"x-ray|[A-Za-z]+|\d+", re.IGNORECASE)


def code_symbols(text: str, *, strict_case: bool = False) -> list[CodeSymbol | None]:
    """Read ``text`` as a spelled code: each word becomes letters, digits, or ``None`` when it
    cannot be part of a code.

    Letters are NATO words ("lima" → L) or bare letters; with ``strict_case`` only capital
    letters in ones, twos and threes count ("L A nine", "LA9 7AD"), so that running prose
    ("a", "I'm") is not read as a code. Digits are digit groups or number words:
    "sixty-three" becomes "63" (tens join a following unit only across a space or hyphen, not
    a comma) and "double oh" "00".
    """
    out: list[CodeSymbol | None] = []
    tokens = list(_CODE_TOKEN_RE.finditer(text))
    i = 0
    while i < len(tokens):
        m = tokens[i]
        tok, low = m.group(), m.group().lower()
        i += 1
        if low in _REPEATS and i < len(tokens):
            nxt = code_symbols(tokens[i].group(), strict_case=strict_case)
            if len(nxt) == 1 and nxt[0] is not None:
                sym = nxt[0]
                out.append(
                    CodeSymbol(sym.chars * _REPEATS[low], sym.kind, m.start(), tokens[i].end())
                )
                i += 1
                continue
            out.append(None)
            continue
        if tok.isdigit():
            out.append(CodeSymbol(tok, "D", m.start(), m.end()))
        elif low in _NATO:
            out.append(CodeSymbol(_NATO[low], "L", m.start(), m.end()))
        elif low in _TENS:
            gap = text[m.end() : tokens[i].start()] if i < len(tokens) else ""
            if i < len(tokens) and tokens[i].group().lower() in _UNITS and gap in {" ", "-"}:
                value = _TENS[low] + _UNITS[tokens[i].group().lower()]
                out.append(CodeSymbol(str(value), "D", m.start(), tokens[i].end()))
                i += 1
            else:
                out.append(CodeSymbol(str(_TENS[low]), "D", m.start(), m.end()))
        elif low in _SMALL or low in _ZERO_DIGIT_WORDS:
            out.append(CodeSymbol(str(_NUMBER_WORDS[low]), "D", m.start(), m.end()))
        elif low == "hundred" and out and out[-1] is not None and out[-1].kind == "D":
            prev = out.pop()
            assert prev is not None
            out.append(CodeSymbol(prev.chars + "00", "D", prev.start, m.end()))
        elif tok.isalpha() and (not strict_case or (tok.isupper() and len(tok) <= 3)):
            out.append(CodeSymbol(tok.upper(), "L", m.start(), m.end()))
        else:
            out.append(None)
    return out


_POSTCODE_RE = re.compile(r"([A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?)(\d[ABD-HJLNP-UW-Z]{2})")


@dataclass(frozen=True)
class RegistrationFormat:
    """One UK plate shape from ``data/registration_formats.txt``."""

    name: str
    # True for shapes taken only where the words around say it is a registration
    needs_context: bool
    pattern: re.Pattern[str]


@cache
def registration_formats() -> tuple[RegistrationFormat, ...]:
    """The plate shapes, in the order they are tried."""
    formats = []
    for line in lexicons.words("registration_formats"):
        name, context, pattern = line.split()
        if context not in {"free", "cue"}:
            raise ValueError(f"registration_formats.txt: {name}: context must be free or cue")
        formats.append(RegistrationFormat(name, context == "cue", re.compile(pattern)))
    return tuple(formats)


def _code_string(text: str) -> str | None:
    symbols = code_symbols(text)
    if not symbols or any(s is None for s in symbols):
        return None
    return "".join(s.chars for s in symbols if s is not None)


def postcode_from_chars(chars: str, *, letter_o_as_zero: bool = False) -> str | None:
    """ "LA97AD" → "LA9 7AD" when the characters are a UK postcode.

    With ``letter_o_as_zero`` a letter O where the inward code's digit must be is read as zero:
    Whisper writes "oh" as "O" ("C-A-12, O-P-B" is CA12 0PB). Off by default because "CA12OPB"
    is also a well-formed registration; the caller decides from context.
    """
    m = _POSTCODE_RE.fullmatch(chars)
    if m is None and letter_o_as_zero and len(chars) >= 5 and chars[-3] == "O":
        m = _POSTCODE_RE.fullmatch(chars[:-3] + "0" + chars[-2:])
    return f"{m.group(1)} {m.group(2)}" if m else None


def registration_match(chars: str, *, context: bool = False) -> RegistrationFormat | None:
    """The first plate shape (``data/registration_formats.txt``) the characters have; with
    ``context`` False only the shapes that stand on their own (current-style ``AB12 CDE``)."""
    for fmt in registration_formats():
        if (context or not fmt.needs_context) and fmt.pattern.fullmatch(chars):
            return fmt
    return None


def registration_from_chars(chars: str, *, context: bool = False) -> str | None:
    """ "KX71BRT" → "KX71 BRT" when the characters are a UK registration, in its normal form
    with the conventional single space: "A123BCD" → "A123 BCD", "ABC123D" → "ABC 123D",
    "ABC123" → "ABC 123". ``context``: the words around already say the value is a
    registration ("registration ...", right after a vehicle make), so the short shapes that
    need it (prefix, suffix, dateless, Northern Ireland) are accepted too; without it only a
    current-style plate is."""
    fmt = registration_match(chars, context=context)
    if fmt is None:
        return None
    m = fmt.pattern.fullmatch(chars)
    assert m is not None
    return f"{m.group(1)} {m.group(2)}"


def normalise_postcode(text: str) -> str | None:
    """A UK postcode: "L A nine, seven A D" / "la9 7ad" / "C A eleven, seven Q T" → "LA9 7AD"
    / "CA11 7QT"; "C-A-12, O-P-B" → "CA12 0PB" (the text is known to be a postcode)."""
    written = re.sub(r"[\s-]+", "", text.strip())
    if _WRITTEN_CODE_RE.fullmatch(written):
        # Written in capitals: read as written first, so that "OH0 0AA" keeps its letters
        # rather than hearing "oh" as a zero (as normalise_registration does for plates).
        postcode = postcode_from_chars(written)
        if postcode is not None:
            return postcode
    chars = _code_string(text)
    return postcode_from_chars(chars, letter_o_as_zero=True) if chars else None


_WRITTEN_CODE_RE = re.compile(r"[A-Z0-9]+")


def normalise_registration(text: str, *, context: bool = False) -> str | None:
    """A vehicle registration: "kilo x-ray seventy-one, bravo romeo tango" → "KX71 BRT",
    "alpha bravo one two charlie delta echo" → "AB12 CDE", "kx71brt" → "KX71 BRT"; with
    ``context`` (see :func:`registration_from_chars`) also "alpha one two three bravo charlie
    delta" → "A123 BCD", "ABZ 1234" → "ABZ 1234". A plate written in capitals is read as
    written, so that its letters stay letters where they spell a number ("AB12 ONE", not
    "AB 121")."""
    written = re.sub(r"[\s-]+", "", text.strip())
    if _WRITTEN_CODE_RE.fullmatch(written):
        plate = registration_from_chars(written, context=context)
        if plate is not None:
            return plate
    chars = _code_string(text)
    return registration_from_chars(chars, context=context) if chars else None


def normalise_road(text: str) -> str | None:
    """A classified road: "the A six six" / "A66" → "A66", "M six" → "M6"."""
    chars = _code_string(re.sub(r"^\s*the\s+", "", text, flags=re.IGNORECASE))
    if chars and re.fullmatch(r"[ABM]\d{1,4}", chars):
        return chars
    return None


# ----------------------------------------------------------------------------------------- times
_DAY_PART_RE = re.compile(
    r"\b(?:(?P<morning>morning)|(?P<afternoon>afternoon)|(?P<evening>evening)"
    r"|(?P<night>night|tonight))\b"
)
# "am"/"pm" only right after a number or "o'clock", so that "I am" is not a time of day
_AMPM_RE = re.compile(r"(?:\d|\b[a-z]+|o'?\s?clock)\s*(?:(?P<am>a\.?m)|(?P<pm>p\.?m))(?![a-z])\.?")
_FILLER_RE = re.compile(
    r"\b(?:at|about|around|approximately|approx|roughly|just|gone|by|in the|this|last|"
    r"morning|afternoon|evening|night|tonight)\b|(?<=[\d\s])(?:a\.?m|p\.?m)(?![a-z])\.?"
)


def day_part(text: str) -> str | None:
    """The part of the day a phrase names: "morning", "afternoon", "evening" or "night" (the
    last one found), for reading "quarter to twelve" in "last night, at about quarter to
    twelve"."""
    found = None
    for m in _DAY_PART_RE.finditer(text.lower()):
        found = m.lastgroup
    return found


def _apply_day_part(hour: int, part: str | None) -> int:
    if hour > 12 or part is None:
        return hour
    if part in {"pm", "afternoon", "evening"}:
        return hour + 12 if hour < 12 else hour
    if part == "night":
        # "ten at night" is 22:00 but "two at night" is the small hours, and "twelve at night"
        # is midnight.
        if 6 <= hour < 12:
            return hour + 12
        return 0 if hour == 12 else hour
    if part in {"am", "morning"}:
        return 0 if hour == 12 else hour
    return hour


def _hour(text: str) -> int | None:
    text = text.strip()
    if text in {"midnight"}:
        return 0
    if text in {"noon", "midday"}:
        return 12
    value = number_from_words(text)
    return value if value is not None and 0 <= value <= 24 else None


def normalise_time(text: str, *, day_part_hint: str | None = None) -> str | None:
    """A clock time as 24-hour ``HH:MM``.

    "quarter past ten at night" → "22:15", "twenty to eleven at night" → "22:40", "about four in
    the afternoon" → "16:00", "10.30pm" → "22:30", "fourteen ten hours" → "14:10", "zero seven
    fifteen hours" → "07:15". A phrase without its own am/pm is read with ``day_part_hint``
    (what the sentence says: "last night", "yesterday morning"); without either, an hour of 12
    or less is kept as said.
    """
    s = text.lower().replace("’", "'").strip()
    ampm = _AMPM_RE.search(s)
    part = (ampm.lastgroup if ampm else None) or day_part(s) or day_part_hint
    if re.search(r"\bmidnight\b", s) and not re.search(r"\b(past|after|to|till|before)\b", s):
        return "00:00"
    if re.search(r"\b(?:midday|noon)\b", s) and not re.search(r"\b(past|after|to|till)\b", s):
        return "12:00"
    hour: int | None = None
    minute = 0
    bare = re.sub(r"\s+", " ", _FILLER_RE.sub(" ", s)).strip(" ,")
    if m := re.search(r"\b(\d{1,2})\s*[:.]\s*(\d{2})(?!\d)", s):
        hour, minute = int(m.group(1)), int(m.group(2))
    elif m := re.search(r"^(.*?)\s*(?:hours|hrs)\.?$", bare):
        digits = digits_from_speech(m.group(1))
        if digits is None or not 3 <= len(digits) <= 4:
            return None
        hour, minute = int(digits[:-2]), int(digits[-2:])
        part = None  # the 24-hour clock needs no am/pm
    elif m := re.search(
        r"\b(quarter|half|[a-z0-9]+(?:[\s-][a-z]+)?)(?:\s+minutes?)?\s+(past|after|to|till|before)"
        r"\s+([a-z0-9]+(?:[\s-][a-z]+)?)\b",
        bare,
    ):
        if m.group(1) == "quarter":
            minutes = 15
        elif m.group(1) == "half":
            minutes = 30
        else:
            minutes = number_from_words(m.group(1)) or -1
        hour = _hour(m.group(3))
        if hour is None or not 0 < minutes < 60:
            return None
        if m.group(2) in {"past", "after"}:
            minute = minutes
        else:
            hour, minute = (hour - 1) % 24, 60 - minutes
    elif m := re.search(r"\b([a-z0-9]+(?:[\s-][a-z]+)?)\s+o\s?'?\s?clock\b", bare):
        hour = _hour(m.group(1))
    elif m := re.fullmatch(r"half\s+([a-z0-9]+(?:[\s-][a-z]+)?)", bare):
        hour, minute = _hour(m.group(1)), 30  # British "half three" is half past three
    else:
        words = _words(bare)
        for split in (1, 2):
            head, tail = words[:split], words[split:]
            hour = _hour(" ".join(head)) if head else None
            if hour is None:
                continue
            if not tail:
                if part is None:  # a bare number is a time only with am/pm or a day part
                    return None
                break
            if tail[0] in {"oh", "o"} and len(tail) == 2 and tail[1] in _UNITS:
                minute = _UNITS[tail[1]]
                break
            tail_value = number_from_words(" ".join(tail))
            if tail_value is not None and 10 <= tail_value <= 59:
                minute = tail_value
                break
            hour = None
    if hour is None or not 0 <= minute <= 59:
        return None
    hour = _apply_day_part(hour, part)
    if hour == 24:
        hour = 0
    if not 0 <= hour <= 23:
        return None
    return f"{hour:02d}:{minute:02d}"


# ----------------------------------------------------------------------------------------- dates
_MONTH_RE = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b")
_WEEKDAY_RE = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b")
_ORDINAL_RE = re.compile(
    r"\b(?:(?:twenty|thirty)[\s-]+)?(?:"
    + "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True))
    + r")\b|\b\d{1,2}(?:st|nd|rd|th)?\b"
)


def year_from_words(text: str) -> int | None:
    """A year: "2026", "twenty twenty-six", "nineteen eighty-one", "nineteen oh five",
    "two thousand and five"."""
    if m := re.search(r"\b(1[89]\d\d|20\d\d)\b", text):
        return int(m.group(1))
    tokens = _words(text)
    if len(tokens) >= 2 and tokens[0] in {"nineteen", "twenty"}:
        century = _NUMBER_WORDS[tokens[0]] * 100
        rest = tokens[1:]
        if rest[0] in {"oh", "o"} and len(rest) == 2 and rest[1] in _UNITS:
            return century + _UNITS[rest[1]]
        if rest == ["hundred"]:
            return century
        value = number_from_words(" ".join(rest))
        # "twenty six" alone is a number, not the year 2006: a year's second half is 10-99
        if value is not None and 10 <= value <= 99:
            return century + value
    value = number_from_words(text)
    if value is not None and 1900 <= value <= 2100:
        return value
    return None


def most_recent_weekday(weekday: int, on_or_before: date) -> date:
    """The latest date with that weekday (Monday 0) not after ``on_or_before``."""
    return on_or_before - timedelta(days=(on_or_before.weekday() - weekday) % 7)


def _with_inferred_year(month: int, day: int, statement_date: date) -> date | None:
    """A day and month said without a year: the most recent one on or before the statement."""
    for year in (statement_date.year, statement_date.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= statement_date:
            return candidate
    return None


def normalise_date(text: str, *, statement_date: date) -> date | None:
    """A calendar date, resolved against the day the statement is taken.

    "yesterday", "last night" → the day before; "last Friday" / "on Friday" → the most recent
    Friday on or before ``statement_date``; "Tuesday the seventeenth of November" → 17 November
    of the most recent such year; "the 7th of February 2026", "21/06/1954" → as said.
    """
    s = text.lower().replace("’", "'")
    if m := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", s):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    if m := re.search(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})\b", s):
        year = int(m.group(3))
        if year < 100:
            year += 2000 if year <= statement_date.year % 100 else 1900
        try:
            return date(year, int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
    if month_match := _MONTH_RE.search(s):
        month = MONTHS[month_match.group(1)]
        before, after = s[: month_match.start()], s[month_match.end() :]
        day: int | None = None
        year_text = ""
        ordinals_before = list(_ORDINAL_RE.finditer(before))
        if ordinals_before:
            day = ordinal_from_words(ordinals_before[-1].group())
            year_text = after
        elif first_after := _ORDINAL_RE.search(after):
            day = ordinal_from_words(first_after.group())
            year_text = after[first_after.end() :]
        if day is None or not 1 <= day <= 31:
            return None
        said_year = year_from_words(year_text.strip(" ,"))
        if said_year is None:
            return _with_inferred_year(month, day, statement_date)
        try:
            return date(said_year, month, day)
        except ValueError:
            return None
    if re.search(r"\bday before yesterday\b", s):
        return statement_date - timedelta(days=2)
    if re.search(r"\b(?:yesterday|last night)\b", s):
        return statement_date - timedelta(days=1)
    if re.search(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", s):
        return statement_date
    if m := _WEEKDAY_RE.search(s):
        return most_recent_weekday(WEEKDAYS[m.group(1)], statement_date)
    return None


# --------------------------------------------------------------------------------------- heights
_HEIGHT_FEET_RE = re.compile(
    r"\b([a-z]+|\d)\s*(?:foot|feet|ft\b|(?<=\d)')\s*(?:(\d{1,2})|([a-z]+)(?:[\s-]([a-z]+))?)?"
)


def height_cm(text: str) -> int | None:
    """A person's height in whole centimetres: "five foot four" → 163, "six foot" → 183,
    "5'4\"" → 163, "1.75 metres" → 175, "170cm" → 170."""
    s = text.lower().replace("’", "'")
    if m := re.search(r"\b([12](?:\.\d{1,2})?)\s*(?:m|metres?|meters?)\b", s):
        return round(float(m.group(1)) * 100)
    if m := re.search(r"\b(\d{2,3})\s*(?:cm|centimetres?|centimeters?)\b", s):
        return int(m.group(1))
    for m in _HEIGHT_FEET_RE.finditer(s):
        feet = number_from_words(m.group(1))
        if feet is None or not 2 <= feet <= 7:
            continue  # "he's" is not a height
        inches = 0
        if m.group(2):
            inches = int(m.group(2))
        elif m.group(3):
            # "five foot two with ...": the longest leading words that make a number
            two_words = f"{m.group(3)} {m.group(4)}" if m.group(4) else None
            said = (number_from_words(two_words) if two_words else None) or number_from_words(
                m.group(3)
            )
            inches = said or 0  # "six foot tall": the next word is not a number
        if not 0 <= inches <= 11:
            return None
        return round((feet * 12 + inches) * 2.54)
    return None


# ---------------------------------------------------------------------------------- emails, names
_EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")


def normalise_email(text: str) -> str | None:
    """An email address, lower case: "tom dot baker at example dot org" →
    "tom.baker@example.org"; a written address is only lower-cased."""
    s = text.lower().strip().rstrip(".")
    s = re.sub(r"\s+dot\s+", ".", s)
    s = re.sub(r"\s+(?:at)\s+", "@", s)
    s = re.sub(r"\s+underscore\s+", "_", s)
    s = re.sub(r"\s+(?:dash|hyphen)\s+", "-", s)
    s = re.sub(r"\s+", "", s)
    return s if _EMAIL_RE.fullmatch(s) else None


def title_case_name(text: str) -> str:
    """A name in title case as the contract wants it, leaving names that already mix case
    alone ("McDonald", "O'Brien", "Mary-Jane")."""
    words = []
    for word in text.split():
        if word.islower() or word.isupper():
            word = re.sub(r"[a-zA-Z]+", lambda m: m.group().capitalize(), word)
        words.append(word)
    return " ".join(words)


# ----------------------------------------------------------------------------------------- towns
def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _plain_place(text: str) -> str:
    """ "Barrow-in-Furness" and "barrow in furness" alike."""
    return re.sub(r"[\s-]+", " ", text.strip()).lower()


@cache
def _listed_towns() -> Mapping[str, str]:
    """The listed towns by their plain key ("barrow in furness" → "Barrow-in-Furness")."""
    return MappingProxyType({_plain_place(t): t for t in lexicons.words("towns")})


@cache
def canonical_town(name: str) -> str | None:
    """The listed town (``data/towns.txt``) a name is, as the list spells it, forgiving one
    slip of the ear in names of seven letters or more: "Kendall" → "Kendal", "barrow in furness" →
    "Barrow-in-Furness". ``None`` for a name that is not (or not unambiguously) a listed town."""
    key = _plain_place(name)
    towns = _listed_towns()
    if key in towns:
        return towns[key]
    if len(key) < 7:
        # a short name one letter from a listed one is as likely another place ("Dalton" is
        # not "Dalston"): keep what was said
        return None
    close = {
        town
        for listed, town in towns.items()
        if abs(len(listed) - len(key)) <= 1 and _edit_distance(key, listed) <= 1
    }
    return close.pop() if len(close) == 1 else None


# -------------------------------------------------------------------------------------- addresses
_LEADING_NUMBER_RE = re.compile(
    r"^(?P<prefix>(?:flat|apartment|unit|number|no\.?)\s+)?(?P<number>[a-z]+(?:[\s-][a-z]+){0,3}"
    r"|\d+[a-z]?)\b(?P<rest>.*)$",
    re.IGNORECASE,
)


def _number_prefix_to_digits(part: str) -> str:
    """ "fourteen Lowther Street" → "14 Lowther Street"; words that are not a number are kept."""
    m = _LEADING_NUMBER_RE.match(part)
    if not m or m.group("number")[0].isdigit():
        return part
    words = m.group("number").split()
    # the longest run of leading words that reads as a number ("twenty three Main St")
    for n in range(len(words), 0, -1):
        value = number_from_words(" ".join(words[:n]))
        if value is not None:
            rest = " ".join(words[n:]) + m.group("rest")
            prefix = (m.group("prefix") or "").strip()
            prefix = prefix.capitalize() + " " if prefix else ""
            return f"{prefix}{value} {rest.strip()}".strip()
    return part


def normalise_address(text: str) -> str:
    """An address as said → "number street, town": number words become digits, "near" goes
    ("High Fell Farm, Threlkeld, near Keswick" → "High Fell Farm, Threlkeld, Keswick"),
    "in Town" becomes ", Town", and a listed town misheard by one letter is spelled as listed
    ("Kendall" → "Kendal")."""
    s = re.sub(r"\s+", " ", text).strip(" ,.;")
    s = re.sub(r"\s+in\s+(?=[A-Z])", ", ", s)
    parts = [p.strip() for p in s.split(",")]
    out = []
    for part in parts:
        part = re.sub(r"^(?:near|nr\.?|just outside|outside)\s+", "", part, flags=re.IGNORECASE)
        if part:
            out.append(canonical_town(part) or _number_prefix_to_digits(part))
    return ", ".join(out)
