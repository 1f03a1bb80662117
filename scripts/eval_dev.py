#!/usr/bin/env python3
"""Run the extractor on the dev set (its spoken text, or its recordings) and score it.

    .venv/bin/python scripts/eval_dev.py [--dev-dir ../shared/eval/dev] [--out DIR] [--verbose]
    .venv/bin/python scripts/eval_dev.py --from-audio [--engine openai-whisper] [--model M]

``--from-audio`` transcribes each recording (as ``voice-statement transcribe --json`` does)
and extracts from the transcript; without it the extractor reads the ``spoken`` text (as
``voice-statement extract --json`` does).

The default dev dir is ``$VOICE_STATEMENT_SHARED/eval/dev``, else ``../shared/eval/dev``.

Writes ``OUT/NN.json`` (``Statement.to_dict()``) for each ``dev/NN.json``, then runs the shared
scorer (``<dev-dir>/../score.py``) and prints its report; the last line is
``F1 0.xxx precision 0.xxx recall 0.xxx``. The dev set is for measuring, not for fitting rules to.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.statement import Template  # noqa: E402
from nlp import DEFAULT_SPACY_MODEL  # noqa: E402
from workflow.pipeline import StatementPipeline  # noqa: E402
from workflow.settings import Settings  # noqa: E402

# The shared folder sits beside the checkout unless VOICE_STATEMENT_SHARED says otherwise.
DEFAULT_DEV_DIR = (
    Path(os.environ.get("VOICE_STATEMENT_SHARED") or REPO.parent / "shared") / "eval" / "dev"
)


def extract_dev(dev_dir: Path, out_dir: Path, settings: Settings, *, from_audio: bool) -> int:
    """Write one produced statement per dev statement; returns how many."""
    pipeline = StatementPipeline(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(dev_dir.glob("*.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        template = Template(item["template"])
        statement_date = date.fromisoformat(item["statement_date"])
        if from_audio:
            transcript = pipeline.transcribe(dev_dir / item["audio"]["file"])
            statement = pipeline.draft(transcript, template=template, statement_date=statement_date)
        else:
            statement = pipeline.extract_text(
                item["spoken"], template=template, statement_date=statement_date
            )
        (out_dir / path.name).write_text(
            json.dumps(statement.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR)
    parser.add_argument("--out", type=Path, help="where to write NN.json (default: a temp dir)")
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses per statement")
    parser.add_argument("--from-audio", action="store_true", help="transcribe the recordings")
    parser.add_argument("--engine", default="faster-whisper")
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args(argv)

    dev_dir: Path = args.dev_dir.resolve()
    scorer = dev_dir.parent / "score.py"
    if not dev_dir.is_dir() or not scorer.is_file():
        parser.error(f"no dev set at {dev_dir} (with the scorer at {scorer})")
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="eval-dev-"))

    started = time.perf_counter()
    settings = Settings(spacy_model=args.spacy_model, engine=args.engine, model=args.model)
    count = extract_dev(dev_dir, out_dir, settings, from_audio=args.from_audio)
    elapsed = time.perf_counter() - started
    print(f"extracted {count} statements into {out_dir} in {elapsed:.1f} s", file=sys.stderr)

    command = [sys.executable, str(scorer), str(dev_dir), str(out_dir)]
    if args.verbose:
        command.append("--verbose")
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
