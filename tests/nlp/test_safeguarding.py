"""Safeguarding flags: a missing child and a described weapon are flagged with their evidence."""

from __future__ import annotations

from datetime import date

from models import Template
from nlp import load_extractor


def test_a_missing_child_is_flagged_and_an_adult_is_not() -> None:
    extractor = load_extractor()
    child = extractor.extract(
        "My son Liam Kerr is missing. He is twelve years old. I last saw him today at "
        "the bus station in Keswick.",
        template=Template.MISSING_PERSON,
        statement_date=date(2026, 11, 20),
    )
    flags = [f for f in child.flags if f.kind == "safeguarding"]
    assert len(flags) == 1 and flags[0].field == "missing.age"
    assert "missing child" in flags[0].reason and "12" in flags[0].reason

    adult = extractor.extract(
        "My brother Owen Kerr is missing. He is forty years old. I last saw him today at "
        "the bus station in Keswick.",
        template=Template.MISSING_PERSON,
        statement_date=date(2026, 11, 20),
    )
    assert not [f for f in adult.flags if f.kind == "safeguarding"]


def test_a_weapon_is_flagged_and_a_plain_account_is_not() -> None:
    extractor = load_extractor()
    armed = extractor.extract(
        "He pulled out a knife and waved it at me outside the chip shop.",
        template=Template.MG11,
        statement_date=date(2026, 11, 20),
    )
    reasons = [f.reason for f in armed.flags if f.kind == "safeguarding"]
    assert any("knife" in r for r in reasons), armed.flags
    plain = extractor.extract(
        "I saw two cars touch bumpers at the junction. Nobody was hurt.",
        template=Template.MG11,
        statement_date=date(2026, 11, 20),
    )
    assert not [f for f in plain.flags if f.kind == "safeguarding"]
