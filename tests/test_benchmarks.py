"""Smoke tests of the benchmarks: each runs its ``--quick`` form end to end, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_asr_benchmark_quick(tmp_path: Path) -> None:
    """The references and one of our set-ups run on one dev recording and are scored."""
    out = tmp_path / "asr.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.asr", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang, not slowness: speed is measured by the benchmark itself
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = {row["label"]: row for row in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert set(rows) == {
        "raw faster-whisper (reference)",
        "raw openai-whisper (reference)",
        "faster-whisper float32 beam 1 VAD on",
    }
    for label, row in rows.items():
        assert row["supported"], label
        assert row["rtf"] > 0, label
        assert 0 <= row["wer"] <= 1, label
        assert row["wer_words"] > 0, label  # scored against the dev item's spoken text
        assert row["files"][0]["text"], label
    assert rows["raw faster-whisper (reference)"]["x_raw_faster_whisper"] == 1.0
    assert rows["raw openai-whisper (reference)"]["x_raw_openai_whisper"] == 1.0
    assert (out.with_suffix(".png")).stat().st_size > 0
    assert "| faster-whisper float32 beam 1 VAD on |" in proc.stdout


@pytest.mark.slow
def test_service_benchmark_quick(tmp_path: Path) -> None:
    """Real serve processes: every warm draft completes, the throughput batch is drafted, and
    the API under load answers every request with 2xx."""
    out = tmp_path / "service.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.service", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang, not slowness: speed is measured by the benchmark itself
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    warm = results["warm"]
    assert warm["completed"] == len(warm["drafts"]) == 2
    assert all(d["status"] == "draft" and d["draft_s"] > 0 for d in warm["drafts"])
    assert warm["draft_s"]["p50"] > 0 and warm["draft_s"]["p95"] >= warm["draft_s"]["p50"]
    batch = results["throughput"]["embedded (1 thread)"]
    assert batch["drafted"] == batch["recordings"] == 3 and batch["statements_per_min"] > 0
    load = results["load"]
    endpoints = load["endpoints"]
    assert endpoints["all"]["requests"] > 0 and endpoints["all"]["non_2xx"] == 0
    for name, row in endpoints.items():
        assert row["non_2xx"] == 0, (name, row["statuses"])
        if row["requests"]:
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], name
    assert load["statements_in_database"] >= load["seeded"] == 6
    assert [r["peak_rss_mb"] > 0 for r in results["embedded_peak_rss"]] == [True]
    assert "| officer read |" in proc.stdout
    assert out.with_suffix(".png").stat().st_size > 0


@pytest.mark.slow
def test_pipeline_benchmark_quick(tmp_path: Path, shared: Path) -> None:
    """benchmarks.pipeline --quick runs the CLI and the in-process stages on a 10 s recording
    made from the dev audio, and writes a row with every stage timed and words transcribed."""
    out = tmp_path / "pipeline.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline", "--quick", "--no-plot", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    row = next(r for r in rows if r["length_s"] == 10)
    assert row["audio_s"] > 0
    assert row["cli"]["wall_s"] > 0
    assert row["cli"]["peak_rss_mb"] > 0
    assert row["cli"]["rss_series"]
    for stage in ("load", "decode", "vad", "transcribe", "extract", "raw_engine"):
        assert row["stages"][f"{stage}_s"] > 0, stage
    assert row["words"] > 0
    assert row["cli"]["words"] > 0
    assert "| 10 s |" in proc.stdout


@pytest.mark.slow
def test_diarisation_benchmark_quick(tmp_path: Path) -> None:
    """One dialogue through the two-voice benchmark: attribution, DER, roles, fields, time."""
    out = tmp_path / "diarisation.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.diarisation",
            "--only",
            "d01",
            "--repeat",
            "1",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang, not slowness: speed is measured by the benchmark itself
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    summary, (d01,) = result["summary"], result["dialogues"]
    assert result["machine"]["cores"] >= 1
    assert d01["id"] == "d01" and d01["voices_found"] == 2
    assert d01["words"] > 100 and 0.0 <= d01["word_attribution"] <= 1.0
    assert 0.0 <= d01["der"] <= d01["der_no_collar"]
    assert d01["officer_identified_enrolled"] is True
    assert d01["questions_in_narrative"] == []
    assert d01["transcribe_s"] > 0 and d01["diarise_s"] > 0
    for scored in (summary["fields_dialogue"], summary["fields_monologue"]):
        assert 0.0 < scored["f1"] <= 1.0
    assert "| d01 | mg11 |" in proc.stdout
