"""The project's own gold statements (tests/nlp/gold, see its README): well-formed, independent
of the dev set, and drafted from their words above a floor on F1."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from models import Template
from models.statement import FIELD_NAMES
from nlp import Extractor
from nlp.scoring import FIELD_RULES, MatchRule, Produced, load_gold_dir, score_statements

GOLD = Path(__file__).resolve().parent / "gold"

# Measured 0.953 (precision 0.960, recall 0.946) from text when the gold was written (issue 3);
# the floor sits a little below so that a regression fails while noise in unrelated rules does
# not. Raise it as the rules improve; never edit the gold to meet it.
GOLD_F1_FLOOR = 0.93

NORMAL_FORMS = {
    MatchRule.DATE: r"\d{4}-\d\d-\d\d",
    MatchRule.TIME: r"([01]\d|2[0-3]):[0-5]\d",
}


def test_gold_files_are_well_formed() -> None:
    golds = load_gold_dir(GOLD)
    assert len(golds) >= 16
    templates = [g.template for g in golds]
    assert templates.count("mg11") >= 10 and templates.count("missing_person") >= 4
    for g in golds:
        doc = g.document
        assert doc["id"] == g.id
        Template(doc["template"])
        date.fromisoformat(doc["statement_date"])
        assert doc["speaker"] in {"witness", "officer dictating"}
        assert not re.search(r"\d", doc["spoken"]), f"{g.id}: numbers are spoken as words"
        for name, value in g.expected.fields.items():
            assert name in FIELD_NAMES, (g.id, name)
            rule = FIELD_RULES[name]
            if rule in NORMAL_FORMS:
                assert re.fullmatch(NORMAL_FORMS[rule], value), (g.id, name, value)
            if rule is MatchRule.INTEGER:
                assert isinstance(value, int), (g.id, name, value)
        fields = g.expected.fields
        if "witness.postcode" in fields:
            assert re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", fields["witness.postcode"])
        if "witness.phone" in fields:
            assert re.fullmatch(r"0\d{10}", fields["witness.phone"])
        for registration in g.expected.vehicles:
            assert re.fullmatch(r"[A-Z]{2}\d\d [A-Z]{3}", registration), (g.id, registration)
        for weapon in g.expected.weapons:
            assert weapon == weapon.lower()


def test_gold_shares_no_one_with_the_dev_set(shared: Path) -> None:
    """Held out means held out: none of our people or streets is in a dev statement."""
    dev_text = " ".join(
        json.loads(p.read_text(encoding="utf-8"))["spoken"]
        for p in sorted((shared / "eval" / "dev").glob("*.json"))
    )
    for g in load_gold_dir(GOLD):
        fields = g.expected.fields
        names = [fields[n] for n in ("witness.name", "missing.name") if n in fields]
        for name in names + [p for p in g.expected.persons if " " in p]:
            assert name not in dev_text, (g.id, name)


def test_gold_f1_from_text(extractor: Extractor) -> None:
    golds = load_gold_dir(GOLD)
    produced = {}
    for g in golds:
        statement = extractor.extract(
            g.document["spoken"],
            template=Template(g.document["template"]),
            statement_date=date.fromisoformat(g.document["statement_date"]),
        )
        produced[g.id] = Produced.from_dict(statement.to_dict())
    report = score_statements(golds, produced)
    assert report.f1 >= GOLD_F1_FLOOR, "\n".join(report.lines(verbose=True))
