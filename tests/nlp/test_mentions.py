"""Where spoken values are found in running text."""

from __future__ import annotations

import pytest

from nlp.mentions import find_codes, find_mentions


def _found(text: str) -> list[tuple[str, str]]:
    return [(m.label, text[m.start : m.end]) for m in find_mentions(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I live at sixteen Brook Street, Keswick, C A twelve, five T P. My mobile is oh seven "
            "seven double oh, nine double oh, four two one.",
            [
                ("POSTCODE", "C A twelve, five T P"),
                ("PHONE", "oh seven seven double oh, nine double oh, four two one"),
            ],
        ),
        (
            "I live at 16 Brook Street, Keswick, CA12 5TP. My mobile is 07700 900421. At 10.30pm",
            [("POSTCODE", "CA12 5TP"), ("PHONE", "07700 900421"), ("TIME", "10.30pm")],
        ),
        (
            "a blue Ford, registration sierra foxtrot six eight, delta hotel november, drove off",
            [("REGISTRATION", "sierra foxtrot six eight, delta hotel november")],
        ),
        (
            "Last Friday, at about twenty to eleven at night, he was about five foot eleven.",
            [
                ("DATE", "Last Friday"),
                ("TIME", "twenty to eleven at night"),
                ("HEIGHT", "five foot eleven"),
            ],
        ),
        (
            "my email is tom dot baker at example dot org and I was at home",
            [("EMAIL", "tom dot baker at example dot org")],
        ),
        (
            "On Wednesday the first of July twenty twenty-six at zero six forty-five hours",
            [
                ("DATE", "On Wednesday the first of July twenty twenty-six"),
                ("TIME", "zero six forty-five hours"),
            ],
        ),
    ],
)
def test_find_mentions(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I am sure it was him. I'm a postman and I saw a man.",  # "I am" is not a time
        "about two hours later she came back",  # a duration is not a clock time
        "it cost £40.00 and he was 1.8 miles away",
        "My number ended 900301. At home I",  # not an email
    ],
)
def test_no_false_mentions(text: str) -> None:
    assert [m for m in _found(text) if m[0] in {"TIME", "EMAIL"}] == []


def test_registration_is_preferred_to_the_postcode_inside_it() -> None:
    # "SF68DHN" also holds the postcode shape "SF6 8DH"
    text = "registration S F six eight D H N"
    assert [(m.label, text[m.start : m.end]) for m in find_codes(text)] == [
        ("REGISTRATION", "S F six eight D H N")
    ]
