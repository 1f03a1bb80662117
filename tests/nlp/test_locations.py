"""Where it happened: at the witness's own home when the account says so."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor

HEADER = "My name is Lucy Wren. I live at nine Front Street, Brampton. "


@pytest.mark.parametrize(
    "account",
    [
        "Last night I heard a bang at the front of the house and saw a man run off.",
        "Yesterday someone stole two bikes from my garage.",
        "On Monday a man I didn't know was shouting on my doorstep.",
    ],
)
def test_at_home_means_the_witness_address(extractor: Extractor, account: str) -> None:
    statement = extractor.extract(
        HEADER + account, template=Template.MG11, statement_date=date(2026, 11, 20)
    )
    location = statement.fields["incident.location"]
    assert location.value == "9 Front Street, Brampton"
    assert location.source == "inferred"  # the officer sees it was not said as an address


def test_somewhere_else_named_wins_over_home(extractor: Extractor) -> None:
    statement = extractor.extract(
        HEADER + "Last night, after I left my house, a man hit me on Lowther Street in Penrith.",
        template=Template.MG11,
        statement_date=date(2026, 11, 20),
    )
    assert statement.fields["incident.location"].value == "Lowther Street, Penrith"


@pytest.mark.parametrize("town", ["Glasgow", "Norwich", "Exeter", "Lisburn"])
def test_a_listed_town_is_not_a_person(extractor: Extractor, town: str) -> None:
    statement = extractor.extract(
        HEADER + f"Last week Paul Kerr, who has just moved down from {town}, hit my brother.",
        template=Template.MG11,
        statement_date=date(2026, 11, 20),
    )
    assert [p.name for p in statement.persons] == ["Paul Kerr"]
