"""Score drafted statements against gold: the rules of ``shared/statement-fields.md`` ("How the
evaluation scores it") and ``shared/eval/README.md``, reimplemented so that the project can
measure itself without the shared folder beside it.

It behaves exactly as ``shared/eval/score.py`` does (``tests/nlp/test_scoring.py`` holds the two
to the same report on the same inputs) and prints the same report:

- a gold field is matched when the produced value equals it after normalisation: dates exactly,
  times with ``9:05`` read as ``09:05``, ages and heights as integers; postcodes, phones, emails
  and registrations with spaces and case ignored; free text (names, occupation, address,
  location, clothing) at a token F1 of at least ``TOKEN_F1_MIN`` after lower-casing, removing
  apostrophes and splitting on every other punctuation character;
- a produced field with no gold counterpart counts against precision, a wrong value against both;
- ``persons`` are matched one to one by the free-text rule, ``vehicles`` as a set of
  registrations, ``weapons`` as a set of values;
- precision, recall and F1 are micro-averaged over all statements, and reported per field.

    report = score_dirs(gold_dir, produced_dir)
    print("\\n".join(report.lines(verbose=True)))   # last line: F1 0.xxx precision ... recall ...
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from models.statement import FIELD_NAMES

# A free-text value (name, address, place, clothing) matches its gold at this token F1 or above.
TOKEN_F1_MIN = 0.8

# Removed before splitting, so that O'Donnell = ODonnell; every other punctuation mark splits.
APOSTROPHES = "'\u2019\u2018`\u02bc"

LIST_NAMES: tuple[str, ...] = ("persons", "vehicles", "weapons")


class MatchRule(StrEnum):
    """How a field's produced value is compared with its gold value."""

    TEXT = "text"  # token F1 >= TOKEN_F1_MIN
    INTEGER = "int"  # equal as whole numbers (34 = "34" = 34.0)
    DATE = "date"  # equal ISO strings
    TIME = "time"  # equal HH:MM, an hour of one digit padded
    COMPACT = "nospace"  # equal with spaces removed and case ignored


FIELD_RULES: dict[str, MatchRule] = {
    "witness.name": MatchRule.TEXT,
    "witness.age": MatchRule.INTEGER,
    "witness.date_of_birth": MatchRule.DATE,
    "witness.occupation": MatchRule.TEXT,
    "witness.address": MatchRule.TEXT,
    "witness.postcode": MatchRule.COMPACT,
    "witness.phone": MatchRule.COMPACT,
    "witness.email": MatchRule.COMPACT,
    "incident.date": MatchRule.DATE,
    "incident.time": MatchRule.TIME,
    "incident.location": MatchRule.TEXT,
    "missing.name": MatchRule.TEXT,
    "missing.age": MatchRule.INTEGER,
    "missing.last_seen_date": MatchRule.DATE,
    "missing.last_seen_time": MatchRule.TIME,
    "missing.last_seen_location": MatchRule.TEXT,
    "missing.clothing": MatchRule.TEXT,
    "missing.height": MatchRule.INTEGER,
}


class GoldError(ValueError):
    """A gold directory that cannot be scored against: not there, empty, or unreadable."""


# --- normalisation ---------------------------------------------------------------------------


def tokens(value: object) -> list[str]:
    """Lower-cased words of ``value``: apostrophes removed, other punctuation splits words."""
    text = str(value).lower()
    for apostrophe in APOSTROPHES:
        text = text.replace(apostrophe, "")
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return text.split()


def token_f1(gold: object, produced: object) -> float:
    """The F1 of the produced value's words against the gold value's (as multisets)."""
    gold_words, produced_words = Counter(tokens(gold)), Counter(tokens(produced))
    if not gold_words or not produced_words:
        return 1.0 if gold_words == produced_words else 0.0
    common = sum((gold_words & produced_words).values())
    if common == 0:
        return 0.0
    precision = common / sum(produced_words.values())
    recall = common / sum(gold_words.values())
    return 2 * precision * recall / (precision + recall)


def normal_time(value: object) -> str:
    """``9:05`` → ``09:05``; anything else as it is, trimmed."""
    text = str(value).strip()
    short = re.fullmatch(r"(\d):(\d\d)", text)
    return f"0{short.group(1)}:{short.group(2)}" if short else text


def whole_number(value: object) -> int | None:
    """``34``, ``"34"``, ``34.0`` → 34; booleans, fractions and words → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(float(text))
    return None


def compact(value: object) -> str:
    """Upper case with every space removed: ``ca3 8da`` → ``CA38DA``."""
    return re.sub(r"\s+", "", str(value)).upper()


def weapon_key(value: object) -> str:
    return " ".join(tokens(value))


def field_matches(name: str, gold: object, produced: object) -> bool:
    """Whether a produced value counts as the gold value of field ``name`` (a field this module
    does not know is compared as free text)."""
    if produced is None:
        return False
    rule = FIELD_RULES.get(name, MatchRule.TEXT)
    if rule is MatchRule.TEXT:
        return token_f1(gold, produced) >= TOKEN_F1_MIN
    if rule is MatchRule.INTEGER:
        gold_number = whole_number(gold)
        return gold_number is not None and gold_number == whole_number(produced)
    if rule is MatchRule.DATE:
        return str(gold).strip() == str(produced).strip()
    if rule is MatchRule.TIME:
        return normal_time(gold) == normal_time(produced)
    return compact(gold) == compact(produced)


# --- what is compared ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A gold file's ``expected`` block: the fields and list items a careful officer would fill."""

    fields: dict[str, Any] = field(default_factory=dict)
    persons: list[Any] = field(default_factory=list)
    vehicles: list[Any] = field(default_factory=list)
    weapons: list[Any] = field(default_factory=list)

    @classmethod
    def from_dict(cls, block: Mapping[str, Any]) -> Expected:
        return cls(
            fields=dict(block.get("fields", {})),
            persons=list(block.get("persons", [])),
            vehicles=list(block.get("vehicles", [])),
            weapons=list(block.get("weapons", [])),
        )


@dataclass(frozen=True)
class Produced:
    """A drafted statement reduced to what is scored: field values and list item values."""

    template: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    persons: list[Any] = field(default_factory=list)
    vehicles: list[Any] = field(default_factory=list)
    weapons: list[Any] = field(default_factory=list)

    @classmethod
    def from_dict(cls, statement: Mapping[str, Any]) -> Produced:
        """From the statement JSON (``Statement.to_dict()``, ``extract --json``). List items with
        no value (a vehicle without a registration) are left out."""

        def items(key: str, attribute: str) -> list[Any]:
            out = []
            for item in statement.get(key) or []:
                value = item.get(attribute) if isinstance(item, dict) else item
                if value is None or str(value).strip() == "":
                    continue
                out.append(value)
            return out

        return cls(
            template=statement.get("template"),
            fields={
                name: value.get("value") if isinstance(value, dict) else value
                for name, value in (statement.get("fields") or {}).items()
            },
            persons=items("persons", "name"),
            vehicles=items("vehicles", "registration"),
            weapons=items("weapons", "value"),
        )


@dataclass(frozen=True)
class GoldStatement:
    """One gold file: its id (the file name without ``.json``), template and expectations;
    ``document`` is the whole file (``spoken``, ``statement_date``, ``audio``, ...)."""

    id: str
    template: str | None
    expected: Expected
    document: dict[str, Any] = field(default_factory=dict)


# --- counting --------------------------------------------------------------------------------


@dataclass
class Counts:
    """True positives, false positives and false negatives of one field (or of everything)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def add(self, other: Counts) -> None:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives

    @property
    def gold(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def produced(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> float:
        return self.true_positives / self.produced if self.produced else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


ProblemKind = Literal["miss", "wrong", "extra"]


@dataclass(frozen=True)
class Problem:
    """A gold value not produced (``miss``), produced wrongly (``wrong``), or a produced value
    with no gold counterpart (``extra``)."""

    kind: ProblemKind
    name: str
    gold: Any = None
    produced: Any = None

    def line(self) -> str:
        if self.kind == "miss":
            return f"  miss   {self.name:<27} gold {self.gold!r}"
        if self.kind == "wrong":
            return f"  wrong  {self.name:<27} gold {self.gold!r}  produced {self.produced!r}"
        return f"  extra  {self.name:<27} produced {self.produced!r}"


@dataclass
class StatementScore:
    """The counts and problems of one statement; ``produced`` is None when nothing was."""

    id: str
    counts: dict[str, Counts] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    template_right: bool | None = None  # None: nothing produced to judge

    def _count(self, name: str, tp: int = 0, fp: int = 0, fn: int = 0) -> None:
        self.counts.setdefault(name, Counts()).add(Counts(tp, fp, fn))


def one_to_one(
    gold_items: Sequence[Any], produced_items: Sequence[Any], match: Callable[[Any, Any], bool]
) -> list[tuple[int, int]]:
    """A maximum one-to-one matching (augmenting paths); (gold index, produced index) pairs."""
    candidates = [[j for j, p in enumerate(produced_items) if match(g, p)] for g in gold_items]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(gold_items)):
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


def _first_of_each(values: Iterable[Any], key: Callable[[Any], Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for value in values:
        k = key(value)
        if k not in seen:
            seen.add(k)
            out.append(value)
    return out


def score_statement(gold: GoldStatement, produced: Produced | None) -> StatementScore:
    """Count one statement's matches, misses and extras (``produced`` None: all missed)."""
    result = StatementScore(gold.id)
    expected = gold.expected
    produced_fields = produced.fields if produced else {}
    for name, gold_value in expected.fields.items():
        if name not in produced_fields:
            result._count(name, fn=1)
            result.problems.append(Problem("miss", name, gold_value))
        elif field_matches(name, gold_value, produced_fields[name]):
            result._count(name, tp=1)
        else:
            result._count(name, fp=1, fn=1)
            result.problems.append(Problem("wrong", name, gold_value, produced_fields[name]))
    for name, value in produced_fields.items():
        if name not in expected.fields:
            result._count(name, fp=1)
            result.problems.append(Problem("extra", name, produced=value))

    gold_persons = list(expected.persons)
    produced_persons = (
        _first_of_each(produced.persons, lambda v: tuple(tokens(v))) if produced else []
    )
    pairs = one_to_one(gold_persons, produced_persons, lambda g, p: token_f1(g, p) >= TOKEN_F1_MIN)
    gold_matched, produced_matched = {i for i, _ in pairs}, {j for _, j in pairs}
    result._count(
        "persons",
        tp=len(pairs),
        fp=len(produced_persons) - len(pairs),
        fn=len(gold_persons) - len(pairs),
    )
    result.problems += [
        Problem("miss", "persons", g) for i, g in enumerate(gold_persons) if i not in gold_matched
    ]
    result.problems += [
        Problem("extra", "persons", produced=p)
        for j, p in enumerate(produced_persons)
        if j not in produced_matched
    ]

    keyed: tuple[tuple[str, Callable[[Any], str]], ...] = (
        ("vehicles", compact),
        ("weapons", weapon_key),
    )
    for name, key in keyed:
        gold_set = {key(v): v for v in getattr(expected, name)}
        produced_set = {key(v): v for v in (getattr(produced, name) if produced else [])}
        both = gold_set.keys() & produced_set.keys()
        result._count(
            name,
            tp=len(both),
            fp=len(produced_set) - len(both),
            fn=len(gold_set) - len(both),
        )
        result.problems += [
            Problem("miss", name, gold_set[k]) for k in sorted(gold_set.keys() - both)
        ]
        result.problems += [
            Problem("extra", name, produced=produced_set[k])
            for k in sorted(produced_set.keys() - both)
        ]
    if produced is not None:
        result.template_right = produced.template == gold.template
    return result


# --- the report ------------------------------------------------------------------------------


@dataclass
class ScoreReport:
    """Every statement's score, and what could not be scored.

    missing: gold ids with no produced statement (all their gold counts as missed).
    unreadable: ``"<id> (<error>)"`` for produced files that could not be read (likewise).
    unmatched: produced ids with no gold (ignored).
    """

    statements: list[StatementScore]
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def per_field(self) -> dict[str, Counts]:
        """Counts per field, in the contract's order, then any other field, then the lists."""
        totals: dict[str, Counts] = {}
        for statement in self.statements:
            for name, counts in statement.counts.items():
                totals.setdefault(name, Counts()).add(counts)
        order = [n for n in FIELD_NAMES if n in totals]
        order += sorted(n for n in totals if n not in FIELD_NAMES and n not in LIST_NAMES)
        order += [n for n in LIST_NAMES if n in totals]
        return {name: totals[name] for name in order}

    @property
    def overall(self) -> Counts:
        total = Counts()
        for counts in self.per_field().values():
            total.add(counts)
        return total

    @property
    def f1(self) -> float:
        return self.overall.f1

    @property
    def precision(self) -> float:
        return self.overall.precision

    @property
    def recall(self) -> float:
        return self.overall.recall

    def summary_line(self) -> str:
        o = self.overall
        return f"F1 {o.f1:.3f} precision {o.precision:.3f} recall {o.recall:.3f}"

    def lines(self, *, verbose: bool = False) -> list[str]:
        """The report as ``score.py`` prints it: the per-field table, with ``verbose`` the
        problems of each statement, a few notes, and last the summary line."""
        rows = self.per_field()
        width = max(len(n) for n in [*rows, "field"])
        out = [
            f"{'field':<{width}}  {'gold':>5} {'prod':>5} {'tp':>5} {'fp':>5} {'fn':>5}  "
            f"{'precision':>9} {'recall':>7} {'f1':>6}"
        ]
        for name, c in [*rows.items(), ("ALL", self.overall)]:
            out.append(
                f"{name:<{width}}  {c.gold:>5} {c.produced:>5} {c.true_positives:>5} "
                f"{c.false_positives:>5} {c.false_negatives:>5}  "
                f"{c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}"
            )
        if verbose:
            out.append("")
            for statement in self.statements:
                status = ""
                if statement.id in self.missing:
                    status = " (no produced file)"
                elif any(u.startswith(statement.id + " ") for u in self.unreadable):
                    status = " (unreadable)"
                if not statement.problems and not status:
                    continue
                out.append(f"{statement.id}:{status}")
                out += [problem.line() for problem in statement.problems]
        out.append("")
        scored = len(self.statements) - len(self.missing) - len(self.unreadable)
        missing = (": " + " ".join(self.missing)) if self.missing else ""
        unreadable = ("; unreadable: " + ", ".join(self.unreadable)) if self.unreadable else ""
        out.append(
            f"statements: {len(self.statements)} gold, {scored} scored, "
            f"{len(self.missing)} without a produced file{missing}{unreadable}"
        )
        if self.unmatched:
            out.append(f"produced files with no gold (ignored): {' '.join(self.unmatched)}")
        judged = [s.template_right for s in self.statements if s.template_right is not None]
        if judged:
            out.append(
                f"template right in {sum(judged)}/{len(judged)} produced files "
                "(not part of the score)"
            )
        out.append(self.summary_line())
        return out


def score_statements(
    gold: Sequence[GoldStatement], produced: Mapping[str, Produced | None]
) -> ScoreReport:
    """Score produced statements (by gold id; absent or None: nothing produced) against gold."""
    if not gold:
        raise GoldError("no gold statements to score against")
    return ScoreReport(
        statements=[score_statement(g, produced.get(g.id)) for g in gold],
        missing=[g.id for g in gold if produced.get(g.id) is None],
    )


# --- directories -----------------------------------------------------------------------------


def load_gold_dir(gold_dir: Path) -> list[GoldStatement]:
    """The gold statements of ``gold_dir``: every ``NN.json`` with an ``expected`` block, by name.

    Raises ``GoldError`` for a directory that is not there, holds none, or holds a file that is
    not JSON.
    """
    if not gold_dir.is_dir():
        raise GoldError(f"{gold_dir}: not a directory of gold statements")
    gold = []
    for path in sorted(gold_dir.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise GoldError(f"{path}: not readable as JSON ({exc})") from exc
        if not isinstance(document, dict) or "expected" not in document:
            continue
        gold.append(
            GoldStatement(
                id=path.stem,
                template=document.get("template"),
                expected=Expected.from_dict(document["expected"]),
                document=document,
            )
        )
    if not gold:
        raise GoldError(f"{gold_dir}: no gold statements (NN.json with an 'expected' block)")
    return gold


def score_dirs(gold_dir: Path, produced_dir: Path) -> ScoreReport:
    """Score ``produced_dir/NN.json`` (the statement JSON) against ``gold_dir/NN.json``, as
    ``score.py GOLD_DIR PRODUCED_DIR`` does."""
    gold = load_gold_dir(gold_dir)
    produced: dict[str, Produced | None] = {}
    unreadable = []
    for g in gold:
        path = produced_dir / f"{g.id}.json"
        if not path.exists():
            continue
        try:
            produced[g.id] = Produced.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError, AttributeError) as exc:
            unreadable.append(f"{g.id} ({exc.__class__.__name__})")
            produced[g.id] = None
    report = score_statements(gold, produced)
    unreadable_ids = {u.split(" ")[0] for u in unreadable}
    report.missing = [m for m in report.missing if m not in unreadable_ids]
    report.unreadable = unreadable
    gold_ids = {g.id for g in gold}
    if produced_dir.is_dir():
        report.unmatched = sorted(
            p.stem for p in produced_dir.glob("*.json") if p.stem not in gold_ids
        )
    return report
