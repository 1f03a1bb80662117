"""Ages said in words or digits, shared by the witness and missing-person rules."""

from __future__ import annotations

import re

from nlp.normalise import SMALL_PATTERN, TENS_PATTERN, UNIT_PATTERN, number_from_words
from nlp.rules.context import Found

# "twenty-nine", "nine", "79", "104"
AGE_NUMBER = rf"(?:(?:{TENS_PATTERN})(?:[\s-](?:{UNIT_PATTERN}))?|{SMALL_PATTERN}|\d{{1,3}})"

# A number followed by one of these is a height, a sum or a time, not an age ("I'm five foot
# ten", "she's one of ...", "17.9").
_NOT_AN_AGE = re.compile(
    r"[.,]\d|\s*(?:foot|feet|ft\b|inch|inches|cm\b|centimetres|metres|m\b|pounds|quid|pence|p\b|minutes"
    r"|mins\b|hours|seconds|miles|yards|stone|kilos?|kg\b|percent|%|o['’]?\s?clock|past\b|to\b"
    r"|till\b|am\b|pm\b|times\b|of\b|or\s+so\s+minutes|doors?\b|weeks|months|days)",
    re.IGNORECASE,
)
# "sixty-nine, no, sorry, sixty-eight": the corrected number is the age.
_CORRECTION = re.compile(
    r"\s*[,.]?\s*(?:no|sorry|I mean|I meant)\b[\s,.]*(?:(?:no|sorry)\b[\s,.]*)*"
    rf"(?:I['’]m\s+|I am\s+|(?:s?he|they)['’]s\s+|it['’]s\s+)?(?P<n>{AGE_NUMBER})\b",
    re.IGNORECASE,
)


def age_value(text: str, m: re.Match[str]) -> Found | None:
    """The age in match group ``n`` (and optional ``years``), or ``None`` when the number is
    not an age."""
    if not m.group("years") and _NOT_AN_AGE.match(text, m.end("n")):
        return None
    value = number_from_words(m.group("n"))
    if value is None or not 0 < value < 120:
        return None
    return Found(value, m.start("n"), m.end("n"))


def age_after_correction(text: str, found: Found) -> Found:
    """The age as corrected right after it was said, else ``found``."""
    m = _CORRECTION.match(text, found.end)
    if m:
        value = number_from_words(m.group("n"))
        if value is not None and 0 < value < 120:
            return Found(value, m.start("n"), m.end("n"))
    return found
