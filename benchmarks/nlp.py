"""Extraction speed: the spaCy pipeline and every field rule, per statement, after warm-up.

    .venv/bin/python -m benchmarks.nlp [--gold DIR ...] [--repeat N] [--out FILE.json]

The statements are the spoken texts of gold sets (default: the project's own gold set under
``tests/nlp/gold`` and, when it is beside the checkout, the shared dev set), the length of a
real street statement (150-300 words). Each is extracted ``repeat`` times after one warm-up
pass (which loads the model and builds the lazy lexicon indexes); the figure per statement is
its median, and the report gives the median and the worst of those. Loading the model is
reported separately: a service pays it once. The issue's target is under 50 ms a statement on
a 2-core machine. Prints a Markdown table and writes JSON (default
benchmarks/results/nlp.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import machine
from models.statement import Template
from nlp import load_extractor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GOLD = [REPO / "tests" / "nlp" / "gold", REPO.parent / "shared" / "eval" / "dev"]
TARGET_MS = 50.0


def load_statements(gold_dirs: list[Path]) -> list[tuple[str, dict[str, str]]]:
    """(label, gold item) for every NN.json with a ``spoken`` text."""
    found = []
    for gold in gold_dirs:
        for path in sorted(gold.glob("*.json")):
            item = json.loads(path.read_text(encoding="utf-8"))
            if "spoken" in item:
                found.append((f"{gold.name}/{path.stem}", item))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, action="append", help="a gold dir (repeatable)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "nlp.json")
    args = parser.parse_args()
    gold_dirs = [g for g in (args.gold or DEFAULT_GOLD) if g.is_dir()]
    statements = load_statements(gold_dirs)
    if not statements:
        raise SystemExit("no gold statements found: pass --gold DIR")

    started = time.perf_counter()
    extractor = load_extractor()
    load_s = time.perf_counter() - started

    def extract(item: dict[str, str]) -> None:
        extractor.extract(
            item["spoken"],
            template=Template(item["template"]),
            statement_date=date.fromisoformat(item["statement_date"]),
        )

    for _, item in statements:  # warm-up: lazy indexes, first-call allocations
        extract(item)
    rows: list[dict[str, str | int | float]] = []
    medians: list[float] = []
    for label, item in statements:
        times_ms = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            extract(item)
            times_ms.append((time.perf_counter() - t0) * 1000)
        medians.append(round(statistics.median(times_ms), 2))
        rows.append(
            {
                "statement": label,
                "words": len(item["spoken"].split()),
                "median_ms": medians[-1],
                "max_ms": round(max(times_ms), 2),
            }
        )
    profile = component_profile(extractor.nlp, [item["spoken"] for _, item in statements])
    summary = {
        "machine": machine(),
        "spacy_model": extractor.spacy_model,
        "load_s": round(load_s, 2),
        "statements": len(rows),
        "median_ms": round(statistics.median(medians), 2),
        "worst_median_ms": round(max(medians), 2),
        "target_ms": TARGET_MS,
        "within_target": max(medians) < TARGET_MS,
        "rows": rows,
        "components_ms": profile,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print("| statement | words | median ms | max ms |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['statement']} | {r['words']} | {r['median_ms']} | {r['max_ms']} |")
    print()
    print(
        f"model load {summary['load_s']} s; {len(rows)} statements; median "
        f"{summary['median_ms']} ms, worst statement {summary['worst_median_ms']} ms "
        f"(target < {TARGET_MS:.0f} ms: {'met' if summary['within_target'] else 'NOT met'})"
    )

    spacy_ms = sum(profile.values())
    print()
    print("Where the time goes (median statement, ms; the rest is our rules, narrative and flags):")
    print()
    print("| pipeline component | ms |")
    print("|---|---|")
    for name, ms in profile.items():
        print(f"| {name} | {ms} |")
    print(f"| all components | {spacy_ms:.2f} |")
    print(
        f"| rules, narrative, flags (whole extraction minus components) | "
        f"{max(0.0, statistics.median(medians) - spacy_ms):.2f} |"
    )


def component_profile(nlp: Any, texts: list[str], *, repeat: int = 5) -> dict[str, float]:
    """Milliseconds each pipeline component takes on the median statement: every component is
    timed on its own, on a document the components before it have already processed."""
    per_component: dict[str, list[float]] = {name: [] for name in nlp.pipe_names}
    for text in texts:
        for _ in range(repeat):
            doc = nlp.make_doc(text)
            for name, component in nlp.pipeline:
                t0 = time.perf_counter()
                doc = component(doc)
                per_component[name].append((time.perf_counter() - t0) * 1000)
    return {name: round(statistics.median(ms), 2) for name, ms in per_component.items()}


if __name__ == "__main__":
    main()
