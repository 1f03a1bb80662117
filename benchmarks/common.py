"""What every benchmark shares: the machine it ran on, where results and plots go, percentiles,
peak memory, a Markdown table, and the long test recordings made from the dev audio.

Results are JSON under ``benchmarks/results/`` (not committed: they belong to the machine that
made them); plots are PNG under ``docs/benchmarks/`` (committed, beside the figures in
``docs/benchmarks.md`` they illustrate).
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PLOTS = REPO / "docs" / "benchmarks"
DEV = REPO.parent / "shared" / "eval" / "dev"
SAMPLE_RATE = 16_000


def machine() -> dict[str, object]:
    """The CPU, core count, memory, Python and platform a figure was measured on."""
    cpu = platform.processor()
    memory_gib: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, data: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``data`` (with the machine added) as ``benchmarks/results/NAME.json``."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n", encoding="utf-8")
    print(f"written: {path}", file=sys.stderr)
    return path


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as numpy computes it."""
    if not values:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=float), q))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The largest peak resident memory of any child process waited for so far, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats keep the digits they were given."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def dev_audio(names: Sequence[str] | None = None) -> list[Path]:
    """The dev set's recordings (all, or those named like ``01.mp3``), in order."""
    audio = DEV / "audio"
    if not audio.is_dir():
        raise SystemExit(f"no dev audio at {audio}: the benchmarks need shared/eval/dev")
    if names is None:
        return sorted(p for p in audio.iterdir() if p.is_file())
    return [audio / name for name in names]


def long_recording(seconds: float, *, cache: Path | None = None) -> Path:
    """A WAV (16 kHz mono, 16-bit) of ``seconds`` made by joining the dev recordings end to end
    (repeated as needed, cut at the length), with 1 s of silence between them: a long statement
    with the pauses of a real one. Made once and cached under ``benchmarks/results/audio``."""
    import wave

    from transcription.audio import decode_audio

    folder = cache or RESULTS / "audio"
    path = folder / f"dev-joined-{int(seconds)}s.wav"
    if path.exists():
        return path
    pieces: list[np.ndarray] = []
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    for recording in dev_audio():
        pieces += [decode_audio(recording).samples.astype(np.float32), gap]
    one_pass = np.concatenate(pieces)
    wanted = int(seconds * SAMPLE_RATE)
    joined = np.tile(one_pass, wanted // one_pass.size + 1)[:wanted]
    pcm = (np.clip(joined, -1.0, 1.0) * 32767).astype("<i2")
    folder.mkdir(parents=True, exist_ok=True)
    # per process: a test and a benchmark making the same length at once must not collide
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    partial.replace(path)
    return path


def run_json(args: Sequence[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m ...args`` from the repository root in a fresh process and return the JSON
    object it prints last on stdout (how a benchmark isolates each configuration's memory)."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def new_figure(width: float = 7.0, height: float = 4.0) -> tuple[Any, Any]:
    """A matplotlib figure and axes, drawn without a display (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save_plot(figure: Any, name: str) -> Path:
    """Save a matplotlib figure as ``docs/benchmarks/NAME.png`` and close it."""
    import matplotlib.pyplot as plt

    PLOTS.mkdir(parents=True, exist_ok=True)
    path = PLOTS / f"{name}.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    print(f"plotted: {path}", file=sys.stderr)
    return path
