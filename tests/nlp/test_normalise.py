"""Normalisers: spoken values (and Whisper's digit spellings of them) → contract normal forms."""

from __future__ import annotations

from datetime import date

import pytest

from nlp.normalise import (
    canonical_town,
    digits_from_speech,
    height_cm,
    normalise_address,
    normalise_date,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_registration,
    normalise_road,
    normalise_time,
    number_from_words,
    ordinal_from_words,
    title_case_name,
    year_from_words,
)

# A Thursday, so that weekday arithmetic is visible in the expectations.
STATEMENT_DATE = date(2026, 11, 19)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("sixteen", 16),
        ("twenty-nine", 29),
        ("twenty nine", 29),
        ("Forty", 40),
        ("34", 34),
        ("one hundred and five", 105),
        ("a hundred", 100),
        ("two thousand and five", 2005),
        ("six one two", None),  # digits read out, not a number
        ("twenty twenty-six", None),  # a year, not a number
        ("over eighteen", None),
        ("", None),
    ],
)
def test_number_from_words(said: str, expected: int | None) -> None:
    assert number_from_words(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [("twenty-first", 21), ("seventeenth", 17), ("7th", 7), ("the", None), ("thirtieth", 30)],
)
def test_ordinal_from_words(said: str, expected: int | None) -> None:
    assert ordinal_from_words(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("oh seven seven double oh nine double oh three oh one", "07700900301"),
        ("oh seven seven double oh, nine double oh, three oh one", "07700900301"),
        ("07700 900301", "07700900301"),
        ("077-double-0-9-double-0-301", "07700900301"),
        ("oh seven seven double oh nine hundred three oh one", "07700900301"),
        ("+44 7700 900301", "07700900301"),
        ("oh one seven six eight seven, seven two oh oh oh", "01768772000"),
        ("three oh one", None),  # too short for a UK number
        ("my number", None),
    ],
)
def test_normalise_phone(said: str, expected: str | None) -> None:
    assert normalise_phone(said) == expected


def test_digits_from_speech_keeps_tens_together() -> None:
    assert digits_from_speech("seventy seven double two") == "7722"
    assert digits_from_speech("triple nine") == "999"
    assert digits_from_speech("nine and a bit") is None


@pytest.mark.parametrize(
    ("said", "hint", "expected"),
    [
        ("quarter past ten at night", None, "22:15"),
        ("twenty to eleven at night", None, "22:40"),
        ("about four in the afternoon", None, "16:00"),
        ("ten past five in the afternoon", None, "17:10"),
        ("10.30pm", None, "22:30"),
        ("10:30 p.m.", None, "22:30"),
        ("7am", None, "07:00"),
        ("fourteen ten hours", None, "14:10"),
        ("zero six forty-five hours", None, "06:45"),
        ("eighteen hundred hours", None, "18:00"),
        ("1800 hours", None, "18:00"),
        ("22:15", None, "22:15"),
        ("midnight", None, "00:00"),
        ("twelve at night", None, "00:00"),
        ("two in the morning", None, "02:00"),
        # the sentence's part of the day reads a bare clock time
        ("quarter to twelve", "night", "23:45"),
        ("half past nine", "night", "21:30"),
        ("twenty-five to nine", "morning", "08:35"),
        ("twenty past three", "afternoon", "15:20"),
        ("ten o'clock", "night", "22:00"),
        ("ten o'clock", None, "10:00"),
        ("20 to 11", "night", "22:40"),
        ("ten thirty", None, "10:30"),
        ("seven oh five", "evening", "19:05"),
        # not clock times
        ("about two hours", None, None),
        ("four", None, None),
        ("quarter past", None, None),
    ],
)
def test_normalise_time(said: str, hint: str | None, expected: str | None) -> None:
    assert normalise_time(said, day_part_hint=hint) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("yesterday", date(2026, 11, 18)),
        ("Yesterday morning", date(2026, 11, 18)),
        ("last night", date(2026, 11, 18)),
        ("the day before yesterday", date(2026, 11, 17)),
        ("this afternoon", date(2026, 11, 19)),
        # the most recent such day on or before the statement date
        ("last Friday", date(2026, 11, 13)),
        ("on Tuesday", date(2026, 11, 17)),
        ("Thursday", date(2026, 11, 19)),
        ("Tuesday the seventeenth of November", date(2026, 11, 17)),
        ("the seventeenth of November", date(2026, 11, 17)),
        ("the twenty-first of December", date(2025, 12, 21)),  # not yet this year
        ("the 7th of February 2026", date(2026, 2, 7)),
        ("February 7th, 2026", date(2026, 2, 7)),
        ("the third of May nineteen eighty-one", date(1981, 5, 3)),
        ("Wednesday the first of July twenty twenty-six", date(2026, 7, 1)),
        ("21/06/1954", date(1954, 6, 21)),
        ("2026-03-01", date(2026, 3, 1)),
        ("the thirty-second of May", None),
        ("some time ago", None),
    ],
)
def test_normalise_date(said: str, expected: date | None) -> None:
    assert normalise_date(said, statement_date=STATEMENT_DATE) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("twenty twenty-six", 2026),
        ("nineteen eighty-one", 1981),
        ("nineteen oh five", 1905),
        ("two thousand and five", 2005),
        ("2026", 2026),
        ("twenty six", None),
    ],
)
def test_year_from_words(said: str, expected: int | None) -> None:
    assert year_from_words(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("five foot four", 163),
        ("about five foot seven", 170),
        ("five foot two with long hair", 157),
        ("six foot tall", 183),
        ("5 ft 10", 178),
        ("5'4\"", 163),
        ("five feet four inches", 163),
        ("1.75 metres", 175),
        ("170cm", 170),
        ("he's five foot nine", 175),
        ("forty foot", None),
        ("tall", None),
    ],
)
def test_height_cm(said: str, expected: int | None) -> None:
    assert height_cm(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("L A nine, seven A D", "LA9 7AD"),
        ("C A eleven, seven Q T", "CA11 7QT"),
        ("C A twelve, oh P B", "CA12 0PB"),
        ("C-A-12, O-P-B", "CA12 0PB"),  # Whisper's "O" for "oh" where a digit must be
        ("LA9 7AD", "LA9 7AD"),
        ("la97ad", "LA9 7AD"),
        ("S W one A, one A A", "SW1A 1AA"),
        ("LA9 7", None),
        ("hello", None),
    ],
)
def test_normalise_postcode(said: str, expected: str | None) -> None:
    assert normalise_postcode(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("kilo x-ray seventy-one, bravo romeo tango", "KX71 BRT"),
        ("alpha bravo one two charlie delta echo", "AB12 CDE"),
        ("Bravo Charlie 19 X-ray Yankee Zulu", "BC19 XYZ"),
        ("whiskey golf seventy, kilo lima mike", "WG70 KLM"),
        ("ab12cde", "AB12 CDE"),
        ("AB12 CDE", "AB12 CDE"),
        ("alpha bravo one two", None),
    ],
)
def test_normalise_registration(said: str, expected: str | None) -> None:
    assert normalise_registration(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [("the A six six", "A66"), ("A5091", "A5091"), ("the M six", "M6"), ("the A", None)],
)
def test_normalise_road(said: str, expected: str | None) -> None:
    assert normalise_road(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("tom dot baker at example dot org", "tom.baker@example.org"),
        ("j dot shaw at example dot co dot uk", "j.shaw@example.co.uk"),
        ("S.Holloway@Example.org", "s.holloway@example.org"),
        ("j underscore smith at example dot org", "j_smith@example.org"),
        ("at home", None),
    ],
)
def test_normalise_email(said: str, expected: str | None) -> None:
    assert normalise_email(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("sixteen Brook Street, Keswick", "16 Brook Street, Keswick"),
        ("twenty-three Station Road, Millom", "23 Station Road, Millom"),
        ("High Fell Farm, Threlkeld, near Keswick", "High Fell Farm, Threlkeld, Keswick"),
        ("14 Lowther Street in Carlisle", "14 Lowther Street, Carlisle"),
        ("Flat two, 5 Queen Street, Penrith", "Flat 2, 5 Queen Street, Penrith"),
    ],
)
def test_normalise_address(said: str, expected: str) -> None:
    assert normalise_address(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("sarah jane holloway", "Sarah Jane Holloway"),
        ("MARY-JANE WATTS", "Mary-Jane Watts"),
        ("Mary-Jane Watts", "Mary-Jane Watts"),
        ("Ross McDonald", "Ross McDonald"),
        ("o'brien", "O'Brien"),
    ],
)
def test_title_case_name(said: str, expected: str) -> None:
    assert title_case_name(said) == expected


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("Kendal", "Kendal"),
        ("Kendall", "Kendal"),  # one letter misheard
        ("Carlise", "Carlisle"),
        ("barrow in furness", "Barrow-in-Furness"),
        ("Wigtown", "Wigton"),
        ("Kirkland", None),  # not a listed town
        ("Kent", None),  # too short to forgive a slip
        ("Dalton", "Dalton"),
        ("Dalten", None),  # six letters: as likely another place as a slip for Dalton
        ("Hexam", None),  # ... or for Hexham: keep what was said, never swap towns
    ],
)
def test_canonical_town(heard: str, expected: str | None) -> None:
    assert canonical_town(heard) == expected
