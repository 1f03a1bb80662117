"""The shared dev set end to end: every recording transcribes, and the scorer scores it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from models import Template
from workflow.pipeline import StatementPipeline

pytestmark = pytest.mark.slow


def test_every_dev_recording_transcribes_and_scores_above_zero(
    shared: Path, faster_pipeline: StatementPipeline, tmp_path: Path
) -> None:
    dev = shared / "eval" / "dev"
    golds = sorted(dev.glob("*.json"))
    assert len(golds) == 10
    for gold_path in golds:
        gold = json.loads(gold_path.read_text())
        transcript = faster_pipeline.transcribe(dev / gold["audio"]["file"])
        assert len(transcript.text.split()) > 50, gold_path.name
        assert transcript.duration_s == pytest.approx(gold["audio"]["duration_s"], abs=0.1)
        statement = faster_pipeline.draft(
            transcript,
            template=Template(gold["template"]),
            statement_date=date.fromisoformat(gold["statement_date"]),
        )
        (tmp_path / gold_path.name).write_text(json.dumps(statement.to_dict()))
    scored = subprocess.run(
        [sys.executable, str(shared / "eval" / "score.py"), str(dev), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    last = scored.stdout.strip().splitlines()[-1]
    match = re.match(r"F1 ([0-9.]+) precision ([0-9.]+) recall ([0-9.]+)", last)
    assert match, scored.stdout
    assert float(match.group(1)) > 0.0, scored.stdout
