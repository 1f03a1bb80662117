"""Safeguarding flags: each indicator (a child, a vulnerable adult, domestic abuse, a weapon, an
injury, a sexual offence, self-harm) is flagged once per sentence with its reason and evidence;
what is denied, hypothetical or about strangers is not."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from models import Statement, Template
from nlp import Extractor, load_extractor
from nlp.safeguarding import INDICATORS, indicator_of

MG11 = Template.MG11
MISSING = Template.MISSING_PERSON


def _draft(extractor: Extractor, text: str, template: Template = MG11) -> Statement:
    return extractor.extract(text, template=template, statement_date=date(2026, 11, 20))


def _indicators(statement: Statement, text: str) -> dict[str, list[str]]:
    """Indicator → the evidence text (in ``text``, what was said) of each of its flags."""
    out: dict[str, list[str]] = {}
    for flag in statement.flags:
        if flag.kind != "safeguarding":
            continue
        indicator = indicator_of(flag)
        assert indicator is not None, flag.reason
        assert flag.start_char is not None and flag.end_char is not None, flag
        evidence = text[flag.start_char : flag.end_char]
        # the reason names the indicator and quotes the evidence
        assert flag.reason.startswith(INDICATORS[indicator] + ": ") and evidence in flag.reason
        out.setdefault(indicator, []).append(evidence)
    return out


def _flags(extractor: Extractor, text: str, template: Template = MG11) -> dict[str, list[str]]:
    return _indicators(_draft(extractor, text, template), text)


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


@pytest.mark.parametrize("age", ["²", "1" * 5000])
def test_an_age_that_is_no_number_is_not_read_and_does_not_crash(age: str) -> None:
    # Found by fuzzing: int() refuses "²" (a digit to isdigit) and a run of 5,000 digits.
    statement = load_extractor().extract(
        f"My son Liam Kerr is missing. He is {age} years old.",
        template=Template.MISSING_PERSON,
        statement_date=date(2026, 11, 20),
    )
    assert not [f for f in statement.flags if f.kind == "safeguarding"]


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


# (text, template, {indicator: words of the evidence}): each flagged once, nothing else.
POSITIVE = [
    # a child
    ("My daughter, aged seven, went missing from the play area.", MISSING, {"child": "seven"}),
    ("My grandson Kai is only 14.", MISSING, {"child": "is only 14"}),
    ("He's in year eight at school and has never stayed out.", MISSING, {"child": "year eight"}),
    ("She took the baby with her when she left.", MISSING, {"child": "baby"}),
    ("I am fifteen and I saw the whole fight from my bedroom.", MG11, {"child": "fifteen"}),
    # a vulnerable adult
    (
        "My uncle has Alzheimer's and wanders off at night.",
        MISSING,
        {"vulnerable_adult": "Alzheimer"},
    ),
    ("He has a learning disability.", MISSING, {"vulnerable_adult": "learning disability"}),
    (
        "She is going through a mental health crisis.",
        MISSING,
        {"vulnerable_adult": "mental health"},
    ),
    ("Dad needs his insulin every evening.", MISSING, {"vulnerable_adult": "needs his insulin"}),
    ("Mum is not safe on her own.", MISSING, {"vulnerable_adult": "not safe on"}),
    # domestic abuse
    ("Her boyfriend grabbed her by the throat.", MG11, {"domestic_abuse": "grabbed"}),
    ("My husband threatened me again last night.", MG11, {"domestic_abuse": "threatened"}),
    ("My ex keeps turning up at my flat.", MG11, {"domestic_abuse": "keeps turning"}),
    ("He is very controlling and checks my phone.", MG11, {"domestic_abuse": "controlling"}),
    (
        "Toby lives with his stepdad in Carnforth. Yesterday he punched Toby in the stomach.",
        MG11,
        {"domestic_abuse": "punched"},
    ),
    # an injury
    ("She was bleeding from the mouth.", MG11, {"injury": "bleeding"}),
    ("The cyclist was taken to hospital.", MG11, {"injury": "taken to hospital"}),
    ("He needed nine stitches.", MG11, {"injury": "stitches"}),
    ("The lad had a broken nose.", MG11, {"injury": "broken nose"}),
    ("The driver was knocked unconscious.", MG11, {"injury": "knocked unconscious"}),
    ("I've got a bump on the back of my head.", MG11, {"injury": "bump on the back of my head"}),
    # a sexual offence
    (
        "A man touched her inappropriately on the train.",
        MG11,
        {"sexual_offence": "inappropriately"},
    ),
    ("A man exposed himself to us by the canal.", MG11, {"sexual_offence": "exposed himself"}),
    ("He was filming up her skirt on the escalator.", MG11, {"sexual_offence": "up her skirt"}),
    ("She told me she had been sexually assaulted.", MG11, {"sexual_offence": "sexually"}),
    # self-harm or suicide
    ("He said he would kill himself.", MISSING, {"self_harm": "kill himself"}),
    ("She has taken an overdose before.", MISSING, {"self_harm": "overdose"}),
    ("He threatened to jump off the bridge.", MISSING, {"self_harm": "threatened to jump"}),
    ("I am worried she might self-harm.", MISSING, {"self_harm": "self-harm"}),
    # more than one
    (
        "My two children were in the house when my partner hit me.",
        MG11,
        {"child": "children", "domestic_abuse": "hit"},
    ),
    (
        "My son is thirteen. He has been spending time with an older man he met online.",
        MISSING,
        {"child": "thirteen", "exploitation": "older man"},
    ),
]


@pytest.mark.parametrize(("text", "template", "expected"), POSITIVE, ids=lambda v: str(v)[:40])
def test_indicators_are_flagged_with_their_evidence(
    extractor: Extractor, text: str, template: Template, expected: dict[str, str]
) -> None:
    found = _flags(extractor, text, template)
    assert set(found) == set(expected), found
    for indicator, words in expected.items():
        [evidence] = found[indicator]  # one flag per indicator per sentence
        assert words in evidence or evidence in words, (indicator, evidence)


# Nothing to flag: denied, hypothetical, a stranger's assault, a thing's age, a passing child.
NEGATIVE = [
    ("He wasn't injured and nobody was hurt.", MG11),
    ("There were no injuries and no weapon was used.", MG11),
    ("She could have been seriously injured.", MG11),
    ("He said he would break her nose.", MG11),  # a threat by a stranger, not an injury
    ("She has no medical conditions and is not on any medication.", MISSING),
    ("She has never self-harmed and is not suicidal.", MISSING),
    ("My husband and I were walking home when a stranger punched me.", MG11),
    ("My wife and I were at the bus stop. He walked over and shoved me.", MG11),
    ("I was pushed by a man outside the station. My sister rang the police.", MG11),
    ("Someone kicked the door in while my mum was at work.", MG11),
    ("My brother's van had been hit by a lorry.", MG11),
    ("My car is only three years old and now the wing mirror is smashed.", MG11),
    ("I dropped the kids at school and then saw the van reverse into the bollard.", MG11),
    ("There was a power cut on the estate and the alarm went off.", MG11),
    ("The baby seat was still in the back of the car.", MG11),
    ("He is only five foot tall and was wearing a red coat.", MISSING),
    ("I was a bit confused about the time.", MG11),
    ("I drove home from the hospital where I work.", MG11),
    ("He took my car without my consent.", MG11),
]


@pytest.mark.parametrize(("text", "template"), NEGATIVE, ids=lambda v: str(v)[:40])
def test_denied_hypothetical_or_unrelated_is_not_flagged(
    extractor: Extractor, text: str, template: Template
) -> None:
    assert _flags(extractor, text, template) == {}


def test_one_flag_per_indicator_per_sentence(extractor: Extractor) -> None:
    text = (
        "She had a black eye, a cut lip and bruises on both arms. Later she was taken to hospital."
    )
    assert [len(v) for v in _flags(extractor, text).values()] == [2]


def test_an_account_of_one_domestic_incident_gives_one_flag(extractor: Extractor) -> None:
    text = (
        "I saw a man I know as Lee arguing with his girlfriend by the bus shelter. He slapped "
        "her across the face. When I told him to stop he punched me."
    )
    found = _flags(extractor, text)
    # the slap is between partners; the punch on the witness is not domestic abuse
    assert found == {"domestic_abuse": ["slapped"]}


def test_the_negation_of_one_clause_does_not_cover_the_next(extractor: Extractor) -> None:
    text = "He wasn't hurt, but she was bleeding from her ear."
    assert _flags(extractor, text) == {"injury": ["bleeding"]}


def test_a_child_in_passing_is_flagged_only_where_there_is_harm(extractor: Extractor) -> None:
    assert _flags(extractor, "The children were asleep upstairs when we got home.") == {}
    harmed = _flags(extractor, "The children were asleep upstairs when he hit her with a hammer.")
    assert set(harmed) == {"child", "weapon"}


# What each dev statement holds, read from its `spoken` text (shared/eval/dev). Kept here as
# data: the statements themselves are not read by the rules.
DEV_EXPECTED: dict[str, set[str]] = {
    # assault: a man slaps his girlfriend (partners), then punches the witness, who has a swelling
    "01": {"domestic_abuse", "injury"},
    "02": set(),  # theft from a car: no one hurt or threatened
    "03": set(),  # shoplifting (a pushchair, but no child is said to be there)
    "04": {"injury"},  # road collision: "bruising across my chest"
    "05": {"weapon"},  # criminal damage with a baseball bat; no one hurt
    "06": set(),  # burglary while the witness was out
    # domestic incident: boyfriend drags her by the hair, a bottle, a cut and scratches
    "07": {"domestic_abuse", "weapon", "injury"},
    "08": {"child"},  # a missing nine-year-old
    "09": {"vulnerable_adult"},  # a missing 79-year-old with Alzheimer's who needs her tablets
    # a missing sixteen-year-old who has been spending time with an older male
    "10": {"child", "exploitation"},
}


def test_dev_statements_get_exactly_their_safeguarding_flags(
    extractor: Extractor, shared: Path
) -> None:
    dev = sorted((shared / "eval" / "dev").glob("*.json"))
    assert {p.stem for p in dev} == set(DEV_EXPECTED)
    for path in dev:
        item = json.loads(path.read_text(encoding="utf-8"))
        statement = extractor.extract(
            item["spoken"],
            template=Template(item["template"]),
            statement_date=date.fromisoformat(item["statement_date"]),
        )
        found = _indicators(statement, item["spoken"])
        assert set(found) == DEV_EXPECTED[item["id"]], (item["id"], found)
        # one weapon flag per weapon described
        assert len(found.get("weapon", [])) == len(statement.weapons), item["id"]
