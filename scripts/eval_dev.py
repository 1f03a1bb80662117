#!/usr/bin/env python3
"""Run the extractor on the dev set (its spoken text, or its recordings) and score it.

    .venv/bin/python scripts/eval_dev.py [--dev-dir ../shared/eval/dev] [--out DIR] [--verbose]
    .venv/bin/python scripts/eval_dev.py --from-audio [--engine openai-whisper] [--model M]

A thin wrapper over :func:`workflow.evaluation.evaluate` (``voice-statement evaluate``) with the
dev set as its default gold. ``--from-audio`` transcribes each recording (as ``voice-statement
transcribe --json`` does) and extracts from the transcript; without it the extractor reads the
``spoken`` text (as ``voice-statement extract --json`` does).

The default dev dir is ``$VOICE_STATEMENT_SHARED/eval/dev``, else ``../shared/eval/dev``.

Writes ``OUT/NN.json`` (``Statement.to_dict()``) for each ``dev/NN.json``. When the shared
scorer sits beside the dev set (``<dev-dir>/../score.py``) its report is printed, the official
figure; otherwise the project's own (``nlp.scoring``, which gives the same report). The last line
is ``F1 0.xxx precision 0.xxx recall 0.xxx``. The dev set is for measuring, not for fitting rules
to.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nlp import DEFAULT_SPACY_MODEL  # noqa: E402
from workflow.evaluation import EvaluationError, evaluate  # noqa: E402
from workflow.pipeline import StatementPipeline  # noqa: E402
from workflow.settings import Settings  # noqa: E402

# The shared folder sits beside the checkout unless VOICE_STATEMENT_SHARED says otherwise.
DEFAULT_DEV_DIR = (
    Path(os.environ.get("VOICE_STATEMENT_SHARED") or REPO.parent / "shared") / "eval" / "dev"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR)
    parser.add_argument("--out", type=Path, help="where to write NN.json (default: a temp dir)")
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses per statement")
    parser.add_argument("--from-audio", action="store_true", help="transcribe the recordings")
    parser.add_argument("--engine", default="faster-whisper")
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args(argv)

    dev_dir: Path = args.dev_dir.resolve()
    out_dir: Path = args.out or Path(tempfile.mkdtemp(prefix="eval-dev-"))
    settings = Settings(spacy_model=args.spacy_model, engine=args.engine, model=args.model)
    try:
        report = evaluate(
            dev_dir, StatementPipeline(settings), from_audio=args.from_audio, out_dir=out_dir
        )
    except EvaluationError as exc:
        parser.error(str(exc))
    print(
        f"extracted {len(report.statements)} statements into {out_dir} in {report.elapsed_s:.1f} s",
        file=sys.stderr,
    )
    scorer = dev_dir.parent / "score.py"
    if not scorer.is_file():
        print("\n".join(report.lines(verbose=args.verbose)))
        return 0
    command = [sys.executable, str(scorer), str(dev_dir), str(out_dir)]
    if args.verbose:
        command.append("--verbose")
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
