"""The project's scorer: the rules of ``shared/statement-fields.md``, and the same report as
``shared/eval/score.py`` on the same inputs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from models import Template
from nlp import Extractor
from nlp.scoring import (
    Expected,
    GoldError,
    GoldStatement,
    Produced,
    field_matches,
    load_gold_dir,
    score_dirs,
    score_statement,
    score_statements,
    token_f1,
)

GOLD = Path(__file__).resolve().parent / "gold"


def gold(fields: dict[str, Any] | None = None, **lists: list[str]) -> GoldStatement:
    return GoldStatement("01", "mg11", Expected(fields=fields or {}, **lists))


def produced(fields: dict[str, Any] | None = None, **lists: list[Any]) -> Produced:
    return Produced(template="mg11", fields=fields or {}, **lists)


# --- the rules -------------------------------------------------------------------------------


def test_free_text_ignores_case_and_punctuation_but_not_missing_words() -> None:
    assert token_f1("Barrow-in-Furness", "barrow in furness") == 1.0
    assert token_f1("O'Donnell", "ODonnell") == 1.0
    assert token_f1("42 Hindpool Road, Barrow", "42 hindpool road barrow") == 1.0
    # One word of four missing is F1 0.857: still a match; abbreviations are not.
    assert field_matches("witness.address", "42 Hindpool Road, Barrow", "42 Hindpool Road")
    assert not field_matches("incident.location", "Duke Street, Barrow", "Duke St, Barrow")
    assert not field_matches("witness.name", "Connor James Whitfield", "Connor Whitfield Smith Jo")
    assert field_matches(
        "missing.clothing",
        "black puffer jacket, grey nike joggers, black trainers",
        "a black puffer jacket, grey Nike joggers and black trainers",
    )


def test_dates_times_ages_and_heights_must_be_exact() -> None:
    assert field_matches("incident.time", "09:05", "9:05")
    assert not field_matches("incident.time", "22:15", "10:15")
    assert not field_matches("incident.date", "2026-03-14", "14/03/2026")
    assert field_matches("witness.age", 34, "34")
    assert not field_matches("witness.age", 34, "thirty-four")
    assert not field_matches("witness.age", 34, True)
    assert field_matches("missing.height", 163, 163.0)
    assert not field_matches("missing.height", 163, 162.6)


def test_codes_ignore_spaces_and_case_only() -> None:
    assert field_matches("witness.postcode", "LA14 2ND", "la142nd")
    assert field_matches("witness.phone", "07700900218", "07700 900 218")
    assert not field_matches("witness.phone", "07700900218", "+447700900218")
    assert field_matches("witness.email", "amira.haddad@example.com", "Amira.Haddad@example.com")
    assert not field_matches("witness.postcode", "LA14 2ND", None)


def test_a_wrong_value_costs_precision_and_recall_and_an_extra_costs_precision() -> None:
    score = score_statement(
        gold({"witness.name": "Fiona McLeod", "witness.age": 19}),
        produced({"witness.name": "Fiona McLeod", "witness.age": 91, "incident.time": "16:10"}),
    )
    counts = {
        n: (c.true_positives, c.false_positives, c.false_negatives) for n, c in score.counts.items()
    }
    assert counts["witness.name"] == (1, 0, 0)
    assert counts["witness.age"] == (0, 1, 1)
    assert counts["incident.time"] == (0, 1, 0)
    assert [(p.kind, p.name) for p in score.problems] == [
        ("wrong", "witness.age"),
        ("extra", "incident.time"),
    ]


def test_persons_match_one_to_one_and_lists_as_sets() -> None:
    score = score_statement(
        gold(
            persons=["Dean Postlethwaite", "Dean Postlethwaite"],
            vehicles=["SF72 VCE"],
            weapons=["pool cue"],
        ),
        produced(
            persons=["dean postlethwaite", "Dean Postlethwaite."],  # the same person twice
            vehicles=["sf72vce", "SF72 VCE"],
            weapons=["Pool cue", "brick"],
        ),
    )
    persons, vehicles, weapons = (score.counts[n] for n in ("persons", "vehicles", "weapons"))
    assert (persons.true_positives, persons.false_positives, persons.false_negatives) == (1, 0, 1)
    assert (vehicles.true_positives, vehicles.false_positives) == (1, 0)
    assert (weapons.true_positives, weapons.false_positives, weapons.false_negatives) == (1, 1, 0)


def test_a_vehicle_without_a_registration_is_not_scored() -> None:
    view = Produced.from_dict(
        {
            "template": "mg11",
            "fields": {"witness.age": {"value": 40}},
            "vehicles": [
                {"registration": None, "make": "Ford"},
                {"registration": " "},
                {"registration": "AJ70 KTV"},
            ],
        }
    )
    assert view.fields == {"witness.age": 40}
    assert view.vehicles == ["AJ70 KTV"]


def test_scores_are_micro_averaged_over_statements() -> None:
    golds = [
        GoldStatement("01", "mg11", Expected({"witness.name": "A B", "witness.age": 3})),
        GoldStatement("02", "mg11", Expected({"witness.name": "C D"})),
    ]
    report = score_statements(
        golds, {"01": produced({"witness.name": "A B", "witness.age": 4}), "02": None}
    )
    # name: 1 right of 2 gold; age: wrong. tp 1, fp 1, fn 2.
    assert report.per_field()["witness.name"].recall == 0.5
    assert report.precision == 0.5 and report.recall == pytest.approx(1 / 3)
    assert report.missing == ["02"]
    assert report.lines()[-1] == "F1 0.400 precision 0.500 recall 0.333"


def test_gold_against_itself_scores_one_and_nothing_scores_zero(tmp_path: Path) -> None:
    same, empty = tmp_path / "same", tmp_path / "empty"
    write_gold_as_produced(GOLD, same)
    empty.mkdir()
    assert score_dirs(GOLD, same).lines()[-1] == "F1 1.000 precision 1.000 recall 1.000"
    report = score_dirs(GOLD, empty)
    assert report.recall == 0.0 and len(report.missing) == len(load_gold_dir(GOLD))


def test_no_gold_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match="not a directory"):
        load_gold_dir(tmp_path / "nowhere")
    with pytest.raises(GoldError, match="no gold statements"):
        load_gold_dir(tmp_path)
    (tmp_path / "01.json").write_text("{not json")
    with pytest.raises(GoldError, match=r"01\.json"):
        load_gold_dir(tmp_path)


# --- agreement with shared/eval/score.py -----------------------------------------------------


def write_gold_as_produced(gold_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for g in load_gold_dir(gold_dir):
        e = g.expected
        (out / f"{g.id}.json").write_text(
            json.dumps(
                {
                    "template": g.template,
                    "fields": {k: {"value": v} for k, v in e.fields.items()},
                    "persons": [{"name": n} for n in e.persons],
                    "vehicles": [{"registration": r} for r in e.vehicles],
                    "weapons": [{"value": w} for w in e.weapons],
                }
            )
        )


def write_messy_produced(gold_dir: Path, out: Path) -> None:
    """Gold turned into a produced set with every kind of difference the scorer must weigh."""
    out.mkdir(parents=True, exist_ok=True)
    for index, g in enumerate(load_gold_dir(gold_dir)):
        e = g.expected
        fields: dict[str, Any] = {k: {"value": v} for k, v in e.fields.items()}
        names = sorted(fields)
        persons: list[Any] = [{"name": n} for n in e.persons]
        vehicles: list[Any] = [{"registration": r.lower().replace(" ", "")} for r in e.vehicles]
        weapons: list[Any] = [{"value": w.upper() + "."} for w in e.weapons]
        variant = index % 7
        if variant == 0 and names:
            del fields[names[0]]  # a miss
            fields["incident.time"] = {"value": "9:05"}  # wrong or extra
            persons.append({"name": "Someone Else"})
        elif variant == 1:
            for name in names:  # numbers as strings, text in other case and punctuation
                value = fields[name]["value"]
                fields[name] = {
                    "value": str(value).upper() + "," if isinstance(value, str) else str(value)
                }
            vehicles.append({"registration": None, "make": "Ford"})
        elif variant == 2:
            fields = {k: v["value"] for k, v in fields.items()}  # bare values
            persons = [p["name"] for p in persons] * 2
            weapons.append("Brick")
        elif variant == 3:
            for name in names[:3]:
                fields[name] = {"value": None}
            fields["witness.nickname"] = {"value": "Tez"}  # a field the contract has not
        elif variant == 4:
            persons = [{"name": " ".join(p["name"].split()[:1])} for p in persons]
            vehicles = []
        elif variant == 5:
            for name in names:
                if isinstance(fields[name]["value"], int):
                    fields[name]["value"] = float(fields[name]["value"]) + 0.5
                elif name.endswith(("location", "address")):
                    fields[name]["value"] += " near the shops"
        if index == 3:
            continue  # no produced file at all
        path = out / f"{g.id}.json"
        if index == 4:
            path.write_text("{truncated")  # unreadable
            continue
        path.write_text(
            json.dumps(
                {
                    "template": "mg11",
                    "fields": fields,
                    "persons": persons,
                    "vehicles": vehicles,
                    "weapons": weapons,
                }
            )
        )
    (out / "99.json").write_text(json.dumps({"template": "mg11", "fields": {}}))


def shared_report(scorer: Path, gold_dir: Path, produced_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(scorer), str(gold_dir), str(produced_dir), "--verbose"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def our_report(gold_dir: Path, produced_dir: Path) -> str:
    return "\n".join(score_dirs(gold_dir, produced_dir).lines(verbose=True)) + "\n"


@pytest.fixture(scope="module")
def score_py(shared: Path) -> Path:
    return shared / "eval" / "score.py"


@pytest.fixture(scope="module")
def shared_scorer(score_py: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("shared_score", score_py)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("gold_set", ["project", "dev"])
@pytest.mark.parametrize("kind", ["same", "empty", "messy"])
def test_same_report_as_the_shared_scorer(
    score_py: Path, shared: Path, gold_set: str, kind: str, tmp_path: Path
) -> None:
    gold_dir = GOLD if gold_set == "project" else shared / "eval" / "dev"
    out = tmp_path / kind
    {"same": write_gold_as_produced, "messy": write_messy_produced}.get(
        kind, lambda _g, o: o.mkdir()
    )(gold_dir, out)
    assert our_report(gold_dir, out) == shared_report(score_py, gold_dir, out)


@pytest.mark.parametrize("gold_set", ["project", "dev"])
def test_same_report_as_the_shared_scorer_on_real_drafts(
    score_py: Path, shared: Path, extractor: Extractor, gold_set: str, tmp_path: Path
) -> None:
    gold_dir = GOLD if gold_set == "project" else shared / "eval" / "dev"
    for g in load_gold_dir(gold_dir):
        statement = extractor.extract(
            g.document["spoken"],
            template=Template(g.document["template"]),
            statement_date=date.fromisoformat(g.document["statement_date"]),
        )
        (tmp_path / f"{g.id}.json").write_text(json.dumps(statement.to_dict()))
    assert our_report(gold_dir, tmp_path) == shared_report(score_py, gold_dir, tmp_path)


FIELD_PAIRS: list[tuple[str, Any, Any]] = [
    ("witness.name", "Lily-Mae Gibson", "lily mae gibson"),
    ("witness.name", "Siobhan O\u2019Neill", "Siobhan ONeill"),
    ("witness.name", "A B C D E", "A B C D"),
    ("witness.name", "A B C", "A B"),
    ("witness.name", "", ""),
    ("witness.name", "", "x"),
    ("witness.name", "Anna", 7),
    ("witness.address", "Flat 2, 18 Harehills Lane, Leeds", "18 Harehills Lane, Leeds"),
    ("witness.age", 34, "34"),
    ("witness.age", 34, " 34.0 "),
    ("witness.age", 34, 34.5),
    ("witness.age", 34, False),
    ("witness.age", "34", 34),
    ("witness.age", "thirty-four", "thirty-four"),
    ("witness.age", 34, "+34"),
    ("missing.height", 160, "160.00"),
    ("incident.time", "08:00", "8:00"),
    ("incident.time", "8:00", "08:00"),
    ("incident.time", "08:00", "08:00:00"),
    ("incident.date", "2026-02-26", " 2026-02-26 "),
    ("witness.postcode", "EX4 6NN", "ex4\t6nn"),
    ("witness.phone", "02920180227", "029 2018 0227"),
    ("witness.email", "a.b@example.org", "A.B@EXAMPLE.ORG "),
    ("witness.nickname", "Tez", "tez."),
    ("incident.location", "Kingsway, Swansea", "The Kingsway, Swansea"),
    ("incident.location", "Market Street, Dalton", "Market Street, Dalston"),
    ("missing.clothing", "x", None),
]


@pytest.mark.parametrize(("name", "gold_value", "produced_value"), FIELD_PAIRS)
def test_same_field_verdict_as_the_shared_scorer(
    shared_scorer: ModuleType, name: str, gold_value: Any, produced_value: Any
) -> None:
    assert field_matches(name, gold_value, produced_value) == shared_scorer.field_match(
        name, gold_value, produced_value
    )
    if isinstance(gold_value, str) and isinstance(produced_value, str):
        assert token_f1(gold_value, produced_value) == shared_scorer.token_f1(
            gold_value, produced_value
        )
