"""Weapons: objects used or shown to hurt, threaten or damage, and only those."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor


def weapons(extractor: Extractor, account: str) -> list[str]:
    statement = extractor.extract(
        f"My name is Ian Kerr. {account}", template=Template.MG11, statement_date=date(2026, 11, 20)
    )
    return [w.value for w in statement.weapons]


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        # used in the next sentence, referred to as "it"
        (
            "Last night a man picked up a brick from the wall. He threw it at my windscreen on "
            "Lake Road in Keswick.",
            ["brick"],
        ),
        # a tool used to force entry is a weapon in the gold convention (used to damage)
        ("Yesterday someone forced the back door with a crowbar at the farm.", ["crowbar"]),
        ("He had a pool cue. He held it up near my face and said he would have me.", ["pool cue"]),
        ("He came at me with two kitchen knives.", ["kitchen knife"]),
        ("He hit me over the head with a club outside the pub.", ["club"]),
    ],
)
def test_weapons_used_or_shown(extractor: Extractor, account: str, expected: list[str]) -> None:
    assert weapons(extractor, account) == expected


@pytest.mark.parametrize(
    "account",
    [
        "He punched me outside the pub. There was a knife on the table inside. I didn't see "
        "him touch it.",
        "We were playing pool and I put my cue down on the table.",
        "She was wearing glasses and a belt with a silver buckle.",
        "He hit a man outside the club on Friday.",
        "I was at the bar when he punched me.",
    ],
)
def test_objects_merely_present_are_not_weapons(extractor: Extractor, account: str) -> None:
    assert weapons(extractor, account) == []
