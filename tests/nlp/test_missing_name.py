"""Who is missing: the person the report is about, however the reporter is related to them."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor


@pytest.mark.parametrize(
    ("said", "missing"),
    [
        ("I am reporting my flatmate, Megan Oduya, missing.", "Megan Oduya"),
        ("I'm reporting my elderly mother, Joan Bell, missing. She has dementia.", "Joan Bell"),
        ("I want to report my teenage son Callum Ritson missing.", "Callum Ritson"),
        ("I'm reporting my foster daughter, Skye Dunn, missing from home.", "Skye Dunn"),
    ],
)
def test_missing_person_named_after_the_relation(
    extractor: Extractor, said: str, missing: str
) -> None:
    statement = extractor.extract(
        f"My name is Ann Bell. {said}",
        template=Template.MISSING_PERSON,
        statement_date=date(2026, 11, 20),
    )
    assert statement.fields["missing.name"].value == missing
    assert missing not in [p.name for p in statement.persons]
