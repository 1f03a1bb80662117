"""Names heard from audio, with and without the names already known on the job in the prompt.

    .venv/bin/python -m benchmarks.names [--gold DIR] [--model M] [--out FILE.json]

An officer often knows some names before the account is recorded: the missing child's name
from the call, the witness's from their ID. ``TranscribeRequest.known_terms`` (``transcribe
--known``) puts them first in Whisper's prompt. This runs every recording of a gold set (default
the shared dev set) twice: with the service vocabulary alone, and with the gold names of that
statement (witness, missing person, other persons) added as known terms, as if the officer had
typed them. It reports, both ways, how many gold names came out spelled exactly (the scorer's
true positives for witness.name, missing.name and persons), their recall and F1, and the
scorer's F1 over every field.
The second figure is an upper bound on the gain: it assumes every name was known beforehand.
Writes JSON (default benchmarks/results/names.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import machine
from nlp.scoring import Counts, Produced, ScoreReport, score_statements
from workflow.evaluation import GoldInput, load_gold_inputs
from workflow.pipeline import StatementPipeline, TranscribeRequest
from workflow.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GOLD = REPO.parent / "shared" / "eval" / "dev"
NAME_FIELDS = ("witness.name", "missing.name", "persons")


def known_names(item: GoldInput) -> tuple[str, ...]:
    expected = item.gold.expected
    names = [
        str(expected.fields[f]) for f in ("witness.name", "missing.name") if f in expected.fields
    ]
    return tuple(dict.fromkeys([*names, *(str(p) for p in expected.persons)]))


def run(pipeline: StatementPipeline, inputs: list[GoldInput], *, with_names: bool) -> ScoreReport:
    produced: dict[str, Produced | None] = {}
    for item in inputs:
        assert item.audio_path is not None
        request = TranscribeRequest(known_terms=known_names(item) if with_names else ())
        transcript = pipeline.transcribe(item.audio_path, request)
        statement = pipeline.draft(
            transcript, template=item.template, statement_date=item.statement_date
        )
        produced[item.gold.id] = Produced.from_dict(statement.to_dict())
    return score_statements([item.gold for item in inputs], produced)


def names_counts(report: ScoreReport) -> Counts:
    total = Counts()
    per_field = report.per_field()
    for name in NAME_FIELDS:
        if name in per_field:
            total.add(per_field[name])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "names.json")
    args = parser.parse_args()
    inputs = load_gold_inputs(args.gold, from_audio=True)
    pipeline = StatementPipeline(Settings(model=args.model))
    results = {}
    for label, with_names in (("vocabulary only", False), ("with the job's names", True)):
        report = run(pipeline, inputs, with_names=with_names)
        names = names_counts(report)
        results[label] = {
            "names_f1": round(names.f1, 3),
            "names_tp": names.true_positives,
            "names_gold": names.gold,
            "names_recall": round(names.recall, 3),
            "f1": round(report.f1, 3),
        }
    summary = {"machine": machine(), "gold": str(args.gold), "model": args.model, **results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("| prompt | names spelled right | names recall | names F1 | all fields F1 |")
    print("|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['names_tp']} of {r['names_gold']} | {r['names_recall']:.3f} "
            f"| {r['names_f1']:.3f} | {r['f1']:.3f} |"
        )


if __name__ == "__main__":
    main()
