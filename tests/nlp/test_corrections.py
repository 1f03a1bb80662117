"""Spoken corrections: the value the speaker gave instead is the one kept."""

from __future__ import annotations

from datetime import date

from models.statement import Template
from nlp import Extractor

DAY = date(2026, 11, 20)  # a Friday


def incident(extractor: Extractor, text: str) -> dict[str, object]:
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    return {k: f.value for k, f in statement.fields.items() if k.startswith("incident.")}


def test_a_corrected_day_and_time_keep_the_correction(extractor: Extractor) -> None:
    found = incident(
        extractor,
        "My name is Ruth Coates. On Friday morning, no, sorry, it was Thursday morning, at "
        "twenty past seven, no, sorry, it was nearer half past seven, I saw a man kick my car "
        "on Brook Street in Kendal.",
    )
    assert found["incident.date"] == "2026-11-19"
    assert found["incident.time"] == "07:30"


def test_i_mean_and_or_rather_are_corrections(extractor: Extractor) -> None:
    found = incident(
        extractor,
        "My name is Ruth Coates. Last Monday, I mean last Tuesday, at about nine o'clock at "
        "night, or rather quarter past nine, someone smashed my window on Bank Street in Wigton.",
    )
    assert found["incident.date"] == "2026-11-17"
    assert found["incident.time"] == "21:15"


def test_no_as_a_word_of_the_account_is_not_a_correction(extractor: Extractor) -> None:
    found = incident(
        extractor,
        "My name is Ruth Coates. On Saturday at ten past six in the evening, no one else was "
        "about on Bank Street in Wigton. Later, at eight, I phoned my son.",
    )
    assert found["incident.date"] == "2026-11-14"
    assert found["incident.time"] == "18:10"
