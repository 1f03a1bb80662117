"""Descriptions attach to the person described, in the witness's words, and to no one else."""

from __future__ import annotations

from datetime import date

from models.statement import Person, Template
from nlp import Extractor

DAY = date(2026, 11, 20)


def persons(extractor: Extractor, text: str) -> dict[str, Person]:
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    return {p.name: p for p in statement.persons}


def test_pronoun_sentences_after_a_name_describe_that_person(extractor: Extractor) -> None:
    found = persons(
        extractor,
        "My name is Tom Reid. On Friday night a man I know as Kieran Walsh punched me outside "
        "the Crown on Scotch Street in Carlisle. He was about six foot tall, stocky, with a "
        "shaved head and a ginger beard. He was wearing a grey hoodie and black jeans. My "
        "friend Priya Shah saw it. She was shocked.",
    )
    assert found["Kieran Walsh"].description == (
        "about six foot tall, stocky, with a shaved head and a ginger beard; "
        "wearing a grey hoodie and black jeans"
    )
    # "She was shocked" says how she felt, not what she looked like
    assert found["Priya Shah"].description is None


def test_a_description_by_name_and_the_next_person_named_takes_the_pronouns(
    extractor: Extractor,
) -> None:
    found = persons(
        extractor,
        "Statement of Helen Gray. At about ten past nine I saw Gary Hodgson kick the door of "
        "number four. Gary is in his forties with short grey hair. He has a tattoo on his neck. "
        "Then his brother Lee Hodgson came out. He was thin and had a black beanie on.",
    )
    assert found["Gary Hodgson"].description == (
        "in his forties with short grey hair; a tattoo on his neck"
    )
    assert found["Lee Hodgson"].description == "thin and had a black beanie on"


def test_what_someone_did_is_not_their_description(extractor: Extractor) -> None:
    found = persons(
        extractor,
        "My name is Aled Jones. Yesterday Sean Murray hit me with a bottle on Lowther Street in "
        "Penrith. He ran off towards the bus station.",
    )
    assert found["Sean Murray"].description is None
