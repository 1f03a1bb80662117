"""What each template asks for: the MG11's name, age (or "over 18") and occupation; the missing
person report's name, age, when and where last seen, clothing, description and risk factors.

Items that are not contract fields ("over 18", the description, the risk factors) are
``details``; anything required and not heard is a ``missing_required`` flag, never a guess.
"""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import DETAIL_NAMES, FIELD_NAMES, Statement, Template
from nlp import Extractor

ON = date(2026, 8, 14)


def mg11(extractor: Extractor, text: str) -> Statement:
    return extractor.extract(text, template=Template.MG11, statement_date=ON)


def missing(extractor: Extractor, text: str) -> Statement:
    return extractor.extract(text, template=Template.MISSING_PERSON, statement_date=ON)


def flagged_missing(statement: Statement) -> list[str | None]:
    return [f.field for f in statement.flags if f.kind == "missing_required"]


# ----------------------------------------------------------------------------------- over 18
@pytest.mark.parametrize(
    "said",
    [
        "Statement of Harriet Colley. Age, over eighteen. Occupation, librarian.",
        "My name is Owen Pryce. I'm over 18 and I work as a roofer.",
        "My name is Owen Pryce. I am over the age of eighteen. I work as a roofer.",
        "Statement of Harriet Colley. Age: over 18. Occupation: librarian.",
    ],
)
def test_over_eighteen_is_a_detail_not_an_age(extractor: Extractor, said: str) -> None:
    statement = mg11(extractor, said)
    assert "witness.age" not in statement.fields  # "over eighteen" is no number of years
    over = statement.details["witness.over_18"]
    assert over.value == "over 18"
    assert said[over.start_char : over.end_char].lower().startswith("over")
    # "over 18" answers the MG11's age box: no flag asks for the age
    assert "witness.age" not in flagged_missing(statement)


def test_an_age_in_years_is_the_age_and_not_over_18(extractor: Extractor) -> None:
    statement = mg11(extractor, "My name is Owen Pryce. I'm forty-two and I work as a roofer.")
    assert statement.fields["witness.age"].value == 42
    assert "witness.over_18" not in statement.details


def test_someone_else_over_18_is_not_the_witness(extractor: Extractor) -> None:
    statement = mg11(
        extractor,
        "My name is Sam Reed. I'm a baker. The man who hit me, his name is Carl Dunn, "
        "age over eighteen. He's over 18 I'd say.",
    )
    assert "witness.over_18" not in statement.details
    assert "witness.age" not in statement.fields
    assert "witness.age" in flagged_missing(statement)


# --------------------------------------------------------------------------- MG11 required
def test_mg11_flags_each_required_item_not_heard(extractor: Extractor) -> None:
    statement = mg11(extractor, "My name is Priya Lal. Yesterday someone scratched my car.")
    assert statement.fields["witness.name"].value == "Priya Lal"
    assert flagged_missing(statement) == ["witness.age", "witness.occupation", "incident.location"]
    assert "witness.age" not in statement.fields
    assert "witness.occupation" not in statement.fields


def test_mg11_with_everything_said_has_no_missing_flag(extractor: Extractor) -> None:
    statement = mg11(
        extractor,
        "Statement of Harriet Colley. Age, over eighteen. Occupation, librarian. On Monday I was "
        "walking along Bridge Street in Cockermouth when a man shouted at me.",
    )
    assert flagged_missing(statement) == []
    assert statement.fields["witness.occupation"].value == "librarian"


# ------------------------------------------------------------------------- missing person
REPORT = (
    "My name is Gwen Tallis. I live at four Quarry Lane, Alston. I need to report my husband "
    "missing. His name is Peter Tallis and he's seventy-four. He has dementia and he gets lost "
    "easily. I last saw him at eleven o'clock this morning in the garden at home. He is about five "
    "foot ten, stocky, with a grey beard, and he wears glasses. He was wearing a brown cardigan, "
    "beige trousers and black shoes. He needs his tablets twice a day and he hasn't taken them "
    "with him."
)


def test_missing_person_description_as_stated_without_clothing(extractor: Extractor) -> None:
    statement = missing(extractor, REPORT)
    description = statement.details["missing.description"]
    assert description.value == (
        "about five foot ten, stocky, with a grey beard, and he wears glasses"
    )
    assert "cardigan" not in str(description.value)
    assert REPORT[description.start_char : description.end_char].startswith("about five foot")
    assert description.source == "rule"
    assert (
        statement.fields["missing.clothing"].value == "brown cardigan, beige trousers, black shoes"
    )


def test_missing_person_risk_factors_each_clause_as_stated(extractor: Extractor) -> None:
    statement = missing(extractor, REPORT)
    assert statement.details["missing.risk_factors"].value == (
        "has dementia and he gets lost easily; "
        "needs his tablets twice a day and he hasn't taken them with him"
    )


def test_risk_factor_in_a_clause_of_the_reporters_sentence(extractor: Extractor) -> None:
    statement = missing(
        extractor,
        "I'm reporting my granddaughter, Freya Moss, missing. She's fifteen. Our neighbour, "
        "Colin Reed, saw her getting into a car. She's got long curly red hair and freckles. "
        "I'm worried because she's diabetic and hasn't got her insulin with her. She's never "
        "stayed out overnight before.",
    )
    assert statement.details["missing.description"].value == "long curly red hair and freckles"
    assert statement.details["missing.risk_factors"].value == (
        "diabetic and hasn't got her insulin with her; never stayed out overnight before"
    )


def test_description_drops_hesitations_and_joins_sentences(extractor: Extractor) -> None:
    said = (
        "My name is Jo Kerr. My mother is missing. Her name is Mary Kerr. She's, erm, about five "
        "foot one, slim, with grey hair, and she wears glasses. She's got, um, a small scar on her "
        "chin. Mary has blue eyes."
    )
    description = missing(extractor, said).details["missing.description"]
    assert description.value == (
        "about five foot one, slim, with grey hair, and she wears glasses; "
        "a small scar on her chin; blue eyes"
    )
    assert said[description.start_char :].startswith("about five foot one")
    assert said[: description.end_char].endswith("blue eyes")


def test_dictated_description_and_risk_factors(extractor: Extractor) -> None:
    statement = missing(
        extractor,
        "Missing person report. Reporting person, Dev Anand. Missing person is Ravi Anand, aged "
        "twelve. Last seen today at three o'clock on Station Road, Wigton. Clothing, blue school "
        "blazer, grey trousers. Description, small for his age, short black hair. Risk factors, "
        "asthmatic, no inhaler with him.",
    )
    assert statement.details["missing.description"].value == "small for his age, short black hair"
    assert statement.details["missing.risk_factors"].value == "asthmatic, no inhaler with him"
    assert flagged_missing(statement) == []


def test_other_peoples_looks_and_health_are_not_the_missing_persons(
    extractor: Extractor,
) -> None:
    statement = missing(
        extractor,
        "My name is Ann Hale. I'm reporting my daughter missing. Her name is Kim Hale. She is "
        "twenty. My husband Rob saw her leave at eight. He has diabetes. Her friend Mark Shaw "
        "was with her. Mark is tall with ginger hair and he is epileptic.",
    )
    assert "missing.description" not in statement.details
    assert "missing.risk_factors" not in statement.details
    assert {"missing.description", "missing.risk_factors"} <= set(flagged_missing(statement))


def test_missing_person_flags_what_was_not_said_and_invents_nothing(
    extractor: Extractor,
) -> None:
    statement = missing(
        extractor,
        "My name is Carol Speight. I'm reporting my son, Aaron Speight, missing. He didn't come "
        "home from school today.",
    )
    assert statement.fields["missing.name"].value == "Aaron Speight"
    assert flagged_missing(statement) == [
        "missing.age",
        "missing.last_seen_time",
        "missing.last_seen_location",
        "missing.clothing",
        "missing.description",
        "missing.risk_factors",
    ]
    assert statement.details == {}
    for name in ("missing.age", "missing.clothing", "missing.height"):
        assert name not in statement.fields


def test_details_are_kept_out_of_the_contract_fields(extractor: Extractor) -> None:
    out = missing(extractor, REPORT).to_dict()
    assert set(out["fields"]) <= set(FIELD_NAMES)
    assert not set(out["fields"]) & set(DETAIL_NAMES)
    assert list(out["details"]) == ["missing.description", "missing.risk_factors"]
    assert list(out)[list(out).index("fields") + 1] == "details"
    assert out["details"]["missing.risk_factors"]["start_s"] is None  # typed text: no audio
