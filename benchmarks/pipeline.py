"""The command-line pipeline end to end (decode, VAD, transcribe, extract) against length.

    .venv/bin/python -m benchmarks.pipeline [--lengths S ...] [--quick] [--repeat N]
                                            [--out FILE.json] [--no-plot] [--profile SECONDS]

Recordings of each length (default 10 s, 60 s, 5 min, 30 min) are the dev recordings joined
end to end (``benchmarks.common.long_recording``). For each length:

* **CLI**: ``voice-statement transcribe FILE --json --quiet --statement-date 2026-11-20`` runs
  in a fresh process, exactly as an officer's laptop would run it. Wall time is from start to
  exit, model loading included. Peak RSS is the kernel's high-water mark for that process
  (``wait4``); the RSS is also sampled every 0.2 s (psutil) to show how it moves over the run.
* **Stages**: a second fresh process (``--worker``) loads the pipeline (``load``: Whisper,
  spaCy, the Silero VAD model, and one short extraction to build the lexicon indexes) and
  runs ``StatementPipeline.transcribe`` then ``draft`` on the file, the code path the CLI
  runs. Timers wrap ``decode_audio`` and ``detect_speech`` where the pipeline calls them, so
  ``transcribe`` is the rest of ``pipeline.transcribe``: joining the speech, Whisper with word
  timestamps, the hallucination filter and mapping times back.
  ``extract`` is ``draft`` (spaCy and every rule); ``serialise`` is the JSON the CLI prints.
* **Raw engine** (the reference): in the same worker, on the same decoded samples, a plain
  ``faster_whisper.WhisperModel(ct2_dir, compute_type="float32")`` with as many threads as
  ours, ``transcribe(samples, beam_size=5)``, every segment consumed. It transcribes the whole
  recording, silence included, whereas our pipeline transcribes only what VAD keeps; it also
  skips word timestamps and the vocabulary prompt, which ours pays for.

Pipeline overhead = (decode + VAD + extract + serialise) / raw engine seconds: what our
pipeline adds around the engine. Total / raw = all our processing (load excluded) over the raw
call. The issue's target is an overhead of at most 10 % over the raw engine on the same audio.
Growth with length: a least-squares fit ``seconds = a + b * audio_seconds`` over the lengths (b
is the marginal real-time factor), and, per stage, the exponent k of ``seconds ~ audio^k``
(log-log fit over the lengths of 60 s and more): k near 1 is linear, k well above 1 means the
stage grows faster than the recording.

``--profile SECONDS`` runs cProfile over one length's in-process pipeline (load excluded),
prints the top 25 functions by cumulative time and writes them (with the top by own time) to
``benchmarks/results/pipeline-profile.txt``.

Prints a Markdown table; writes JSON (default ``benchmarks/results/pipeline.json``) and the
plots ``docs/benchmarks/pipeline-cost.png`` and ``docs/benchmarks/pipeline-memory.png``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.common import (
    REPO,
    RESULTS,
    long_recording,
    markdown_table,
    new_figure,
    peak_rss_mb,
    run_json,
    save_plot,
    write_results,
)

if TYPE_CHECKING:
    from models import Statement, Transcript
    from workflow.pipeline import StatementPipeline

DEFAULT_LENGTHS = (10.0, 60.0, 300.0, 1800.0)
QUICK_LENGTHS = (10.0,)
STATEMENT_DATE = "2026-11-20"
SAMPLE_EVERY_S = 0.2
TARGET_OVERHEAD_PCT = 10.0
# Lengths at least this long take part in the growth exponent: below it the fixed costs of a
# call (a first Whisper window, spaCy's setup) hide how a stage grows.
EXPONENT_FROM_S = 60.0
# A stage whose time grows with an exponent above this is flagged as super-linear.
SUPERLINEAR_K = 1.15
PROFILE_TOP = 25
PROFILE_PATH = RESULTS / "pipeline-profile.txt"
STAGES = ("decode", "vad", "transcribe", "extract", "serialise")


def _mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


def _cli() -> Path:
    """The ``voice-statement`` script of the environment running this benchmark."""
    beside = Path(sys.executable).parent / "voice-statement"
    return beside if beside.exists() else REPO / ".venv" / "bin" / "voice-statement"


# --- the CLI in a fresh process ----------------------------------------------------------------


@dataclass
class _RssSampler:
    """Samples the resident memory of a process and its children every ``every_s`` seconds
    on a background thread, until ``stop`` is set."""

    pid: int
    started: float
    every_s: float = SAMPLE_EVERY_S
    series: list[tuple[float, float]] = field(default_factory=list)  # (s since start, MB)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import psutil

        try:
            process = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                rss = process.memory_info().rss
                rss += sum(c.memory_info().rss for c in process.children(recursive=True))
            except psutil.Error:  # it has exited between two samples
                return
            if rss == 0:  # exited, not yet reaped (a zombie holds no memory)
                return
            self.series.append((round(time.perf_counter() - self.started, 2), _mb(rss)))
            self.stop.wait(self.every_s)


def run_cli(path: Path) -> dict[str, Any]:
    """Run the CLI on ``path`` in a fresh process.

    wall_s: start to exit, model loading included. peak_rss_mb: the kernel's high-water mark
    of the process's resident memory (exact, from ``wait4``). sampled_peak_rss_mb: the highest
    0.2 s sample (can miss a short peak). rss_series: [seconds since start, MB] pairs. words:
    words of the transcript in the JSON printed.
    """
    command = [
        str(_cli()),
        "transcribe",
        str(path),
        "--json",
        "--quiet",
        "--statement-date",
        STATEMENT_DATE,
    ]
    # Files, not pipes: the JSON of a long recording is large, and a full pipe would stall it.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        sampler = _RssSampler(pid=proc.pid, started=started)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        # wait4 rather than proc.wait(): it also gives the child's own peak RSS.
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - started
        sampler.stop.set()
        thread.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    statement = json.loads(stdout)
    return {
        "wall_s": round(wall_s, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kB
        "sampled_peak_rss_mb": max((mb for _, mb in sampler.series), default=math.nan),
        "words": len(statement["transcript"]["text"].split()),
        "exit_code": proc.returncode,
        "rss_series": sampler.series,
    }


# --- the stages, in process --------------------------------------------------------------------


@dataclass
class _StageTimer:
    """Seconds spent in each wrapped function, and the last value each returned."""

    seconds: dict[str, float] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
            self.last[stage] = result
            return result

        return timed


@contextmanager
def _timed(timer: _StageTimer, stage: str, module: Any, name: str) -> Iterator[None]:
    """Wrap ``module.name`` in a timer for the duration: the real function still runs."""
    original = getattr(module, name)
    setattr(module, name, timer.wrap(stage, original))
    try:
        yield
    finally:
        setattr(module, name, original)


def load_pipeline() -> StatementPipeline:
    """The pipeline the CLI builds, with every model loaded and warm: Whisper, spaCy, the
    Silero VAD model, and the extractor's lazy lexicon indexes. The CLI pays the last two on
    its first VAD call and its first extraction; paying them here keeps those stages to the
    work that grows with the recording (a fixed cost inside them would hide how they grow)."""
    from faster_whisper.vad import get_vad_model

    from models import Template
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    pipeline = StatementPipeline(Settings())
    _ = pipeline.engine, pipeline.initial_prompt
    get_vad_model()
    pipeline.extract_text(
        "My name is Jane Smith. On Friday at ten past nine I saw a man on Castle Street.",
        template=Template.MG11,
        statement_date=date.fromisoformat(STATEMENT_DATE),
    )
    return pipeline


@dataclass(frozen=True)
class PipelineRun:
    """One recording through the pipeline: seconds per stage, the transcript, the statement,
    and the decoded samples (for the raw engine to transcribe the same audio)."""

    seconds: dict[str, float]
    transcript: Transcript
    statement: Statement
    samples: np.ndarray


def run_pipeline(pipeline: StatementPipeline, path: Path) -> PipelineRun:
    """Decode, VAD, transcribe, extract and serialise ``path`` as ``run_transcribe`` does."""
    import transcription.transcribe
    import workflow.pipeline
    from models import Template
    from workflow.pipeline import TranscribeRequest

    timer = _StageTimer()
    with (
        _timed(timer, "decode", workflow.pipeline, "decode_audio"),
        _timed(timer, "vad", transcription.transcribe, "detect_speech"),
    ):
        started = time.perf_counter()
        transcript = pipeline.transcribe(path, TranscribeRequest())
        whole = time.perf_counter() - started
    seconds = dict(timer.seconds)
    seconds["transcribe"] = whole - seconds["decode"] - seconds.get("vad", 0.0)

    started = time.perf_counter()
    statement = pipeline.draft(
        transcript, template=Template.MG11, statement_date=date.fromisoformat(STATEMENT_DATE)
    )
    seconds["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    json.dumps(statement.to_dict(), ensure_ascii=False, indent=2)
    seconds["serialise"] = time.perf_counter() - started
    return PipelineRun(
        seconds=seconds,
        transcript=transcript,
        statement=statement,
        samples=timer.last["decode"].samples,
    )


def run_raw_engine(pipeline: StatementPipeline, samples: np.ndarray) -> tuple[float, int]:
    """The reference: plain faster-whisper on the same weights and samples, default options
    but beam 5, every segment consumed. Returns (seconds, words); loading is not timed."""
    from faster_whisper import WhisperModel

    s = pipeline.settings
    resolved = pipeline.store.resolve(s.model, engine="faster-whisper")
    threads = s.threads if s.threads > 0 else (os.cpu_count() or 1)
    model = WhisperModel(str(resolved.ct2_dir), compute_type="float32", cpu_threads=threads)
    started = time.perf_counter()
    segments, _ = model.transcribe(samples, beam_size=5)
    text = " ".join(segment.text.strip() for segment in segments)
    return time.perf_counter() - started, len(text.split())


def worker(seconds: float, *, repeat: int = 1) -> dict[str, Any]:
    """One length's stages in this (fresh) process; see the module docstring. With ``repeat``
    above 1 the pipeline and the raw engine take turns and each figure is the best of its
    runs (on a shared machine the load changes from minute to minute; taking turns spreads
    it over both)."""
    path = long_recording(seconds)
    started = time.perf_counter()
    pipeline = load_pipeline()
    load_s = time.perf_counter() - started
    best: dict[str, float] = {}
    for _ in range(max(1, repeat)):
        run = run_pipeline(pipeline, path)
        raw_s, raw_words = run_raw_engine(pipeline, run.samples)
        for stage, value in [*run.seconds.items(), ("raw_engine", raw_s)]:
            best[stage] = min(best.get(stage, math.inf), value)
    return {
        "audio_s": round(run.transcript.duration_s, 2),
        "speech_s": round(run.transcript.speech_s or 0.0, 2),
        "words": len(run.transcript.text.split()),
        "repeat": max(1, repeat),
        "load_s": round(load_s, 3),
        **{f"{stage}_s": round(best[stage], 3) for stage in (*STAGES, "raw_engine")},
        "raw_engine_words": raw_words,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# --- analysis --------------------------------------------------------------------------------


def linear_fit(audio_s: Sequence[float], seconds: Sequence[float]) -> dict[str, float] | None:
    """``seconds = a + b * audio_s`` by least squares: b is the marginal real-time factor
    (seconds of processing per further second of audio), a the fixed cost."""
    if len(audio_s) < 2:
        return None
    b, a = np.polyfit(np.asarray(audio_s, dtype=float), np.asarray(seconds, dtype=float), 1)
    return {"a_s": round(float(a), 3), "b_rtf": round(float(b), 5)}


def growth_exponent(audio_s: Sequence[float], seconds: Sequence[float]) -> float | None:
    """k in ``seconds ~ audio_s ** k`` (log-log least squares over the lengths of
    EXPONENT_FROM_S and more): 1 is linear, 2 quadratic. None with fewer than two lengths."""
    pairs = [(a, s) for a, s in zip(audio_s, seconds, strict=True) if a >= EXPONENT_FROM_S]
    if len(pairs) < 2 or any(s <= 0 for _, s in pairs):
        return None
    x, y = np.log([a for a, _ in pairs]), np.log([s for _, s in pairs])
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def memory_trend(series: Sequence[Sequence[float]]) -> dict[str, float] | None:
    """How RSS moves over the second half of a run (when the audio is decoded and the models
    are loaded, so only a leak or a growing structure would still raise it): the slope in MB
    per minute of wall time, and the RSS at the half-way point and at the peak. The run ends,
    for this, at its last sample within 80 % of the peak: the fall as the process exits is
    not part of the trend."""
    if len(series) < 4:
        return None
    times = np.asarray([t for t, _ in series], dtype=float)
    rss = np.asarray([mb for _, mb in series], dtype=float)
    end = int(np.nonzero(rss >= 0.8 * rss.max())[0][-1])
    late = (times >= times[end] / 2) & (np.arange(times.size) <= end)
    slope = float(np.polyfit(times[late], rss[late], 1)[0]) * 60 if late.sum() >= 2 else math.nan
    return {
        "late_slope_mb_per_min": round(slope, 1),
        "rss_at_half_mb": round(float(rss[late][0]), 1),
        "peak_mb": round(float(rss.max()), 1),
    }


def analyse(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Fits and exponents over the lengths measured, and the memory of the longest run."""
    audio = [float(r["audio_s"]) for r in rows]
    series = {
        "cli_wall": [float(r["cli"]["wall_s"]) for r in rows],
        "processing": [float(r["processing_s"]) for r in rows],
        "raw_engine": [float(r["stages"]["raw_engine_s"]) for r in rows],
        **{stage: [float(r["stages"][f"{stage}_s"]) for r in rows] for stage in STAGES},
    }
    exponents = {name: growth_exponent(audio, values) for name, values in series.items()}
    superlinear = [
        name
        for name, k in exponents.items()
        if k is not None and k > SUPERLINEAR_K and name not in ("cli_wall", "processing")
    ]
    peaks = [float(r["cli"]["peak_rss_mb"]) for r in rows]
    memory_fit = linear_fit([a / 60 for a in audio], peaks)
    longest = max(rows, key=lambda r: float(r["audio_s"]))
    return {
        "fits": {name: linear_fit(audio, values) for name, values in series.items()},
        "growth_exponents": exponents,
        "superlinear_stages": superlinear,
        # MB of peak RSS per further minute of audio; the decoded audio itself is 3.84 MB a
        # minute (float32 at 16 kHz), and Whisper's log-mel of the whole input adds more.
        "peak_rss_mb_per_audio_min": memory_fit["b_rtf"] if memory_fit else None,
        "longest_run_memory": memory_trend(longest["cli"]["rss_series"]),
    }


def _row(seconds: float, cli: dict[str, Any], stages: dict[str, Any]) -> dict[str, Any]:
    audio_s = float(stages["audio_s"])
    raw = float(stages["raw_engine_s"])
    around = sum(float(stages[f"{s}_s"]) for s in ("decode", "vad", "extract", "serialise"))
    processing = sum(float(stages[f"{s}_s"]) for s in STAGES)
    return {
        "length_s": seconds,
        "audio_s": audio_s,
        "speech_s": stages["speech_s"],
        "words": stages["words"],
        "cli": {**cli, "rtf": round(float(cli["wall_s"]) / audio_s, 4)},
        "stages": stages,
        "processing_s": round(processing, 3),
        "seconds_per_audio_s": {
            "cli_wall": round(float(cli["wall_s"]) / audio_s, 4),
            "processing": round(processing / audio_s, 4),
            "raw_engine": round(raw / audio_s, 4),
        },
        "overhead_pct": round(100 * around / raw, 1),
        "processing_over_raw_pct": round(100 * processing / raw, 1),
    }


def table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "length",
        "audio s",
        "words",
        "CLI wall s",
        "CLI RTF",
        "peak RSS MB",
        "load s",
        "decode s",
        "VAD s",
        "transcribe s",
        "extract s",
        "raw engine s",
        "overhead %",
        "ours / raw %",
    ]
    body = [
        [
            _length_label(float(r["length_s"])),
            f"{r['audio_s']:.1f}",
            r["words"],
            f"{r['cli']['wall_s']:.2f}",
            f"{r['cli']['rtf']:.3f}",
            f"{r['cli']['peak_rss_mb']:.0f}",
            f"{r['stages']['load_s']:.2f}",
            f"{r['stages']['decode_s']:.2f}",
            f"{r['stages']['vad_s']:.2f}",
            f"{r['stages']['transcribe_s']:.2f}",
            f"{r['stages']['extract_s']:.2f}",
            f"{r['stages']['raw_engine_s']:.2f}",
            f"{r['overhead_pct']:.1f}",
            f"{r['processing_over_raw_pct']:.0f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def _length_label(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def summary(analysis: dict[str, Any]) -> list[str]:
    lines = []
    for name, fit in analysis["fits"].items():
        if fit is not None:
            k = analysis["growth_exponents"].get(name)
            lines.append(
                f"- {name}: seconds = {fit['a_s']:.2f} + {fit['b_rtf']:.4f} x audio s"
                + (f"; growth exponent k = {k:.2f}" if k is not None else "")
            )
    if analysis["superlinear_stages"]:
        lines.append(
            f"- SUPER-LINEAR (k > {SUPERLINEAR_K}): {', '.join(analysis['superlinear_stages'])}"
            " - profile the longest length with --profile"
        )
    if analysis["peak_rss_mb_per_audio_min"] is not None:
        lines.append(
            f"- peak RSS grows {analysis['peak_rss_mb_per_audio_min']:.1f} MB per audio minute"
        )
    memory = analysis["longest_run_memory"]
    if memory is not None:
        lines.append(
            f"- longest run: RSS {memory['rss_at_half_mb']:.0f} MB at half-way, peak "
            f"{memory['peak_mb']:.0f} MB; slope over the second half "
            f"{memory['late_slope_mb_per_min']:+.1f} MB per minute"
        )
    return lines


# --- plots -----------------------------------------------------------------------------------


def plot_cost(rows: list[dict[str, Any]], analysis: dict[str, Any]) -> None:
    """Processing seconds against audio seconds (log-log), one line per stage, the raw engine,
    the CLI's wall time, and the linear fit of the CLI's wall time."""
    figure, axes = new_figure()
    audio = np.asarray([float(r["audio_s"]) for r in rows])
    for stage in STAGES:
        values = [max(float(r["stages"][f"{stage}_s"]), 1e-3) for r in rows]
        axes.plot(audio, values, marker="o", linewidth=1, label=stage)
    axes.plot(
        audio,
        [float(r["stages"]["raw_engine_s"]) for r in rows],
        marker="s",
        color="grey",
        linestyle=":",
        label="raw faster-whisper",
    )
    axes.plot(
        audio,
        [float(r["cli"]["wall_s"]) for r in rows],
        marker="D",
        color="black",
        linewidth=2,
        label="CLI wall (load included)",
    )
    fit = analysis["fits"]["cli_wall"]
    if fit is not None:
        grid = np.geomspace(audio.min(), audio.max(), 50)
        axes.plot(
            grid,
            fit["a_s"] + fit["b_rtf"] * grid,
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"fit {fit['a_s']:.1f} s + {fit['b_rtf']:.3f} x audio",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(audio, [_length_label(float(r["length_s"])) for r in rows])
    axes.minorticks_off()
    axes.set_xlabel("audio (s)")
    axes.set_ylabel("processing (s)")
    axes.set_title("voice-statement transcribe: cost against recording length")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_plot(figure, "pipeline-cost")


def plot_memory(rows: list[dict[str, Any]]) -> None:
    """The CLI's RSS over time for each length, the longest drawn bold."""
    figure, axes = new_figure()
    longest = max(rows, key=lambda r: float(r["audio_s"]))
    for r in sorted(rows, key=lambda r: float(r["audio_s"])):
        series = r["cli"]["rss_series"]
        if not series:
            continue
        bold = r is longest
        axes.plot(
            [t for t, _ in series],
            [mb for _, mb in series],
            linewidth=2 if bold else 1,
            alpha=1.0 if bold else 0.6,
            label=f"{_length_label(float(r['length_s']))} (peak {r['cli']['peak_rss_mb']:.0f} MB)",
        )
    axes.set_xlabel("wall time since start (s)")
    axes.set_ylabel("RSS (MB)")
    axes.set_title("voice-statement transcribe: resident memory over the run")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    save_plot(figure, "pipeline-memory")


# --- profile ---------------------------------------------------------------------------------


def profile(seconds: float, *, top: int = PROFILE_TOP) -> str:
    """cProfile over one length's in-process pipeline (load excluded); the report's text."""
    path = long_recording(seconds)
    pipeline = load_pipeline()
    profiler = cProfile.Profile()
    profiler.enable()
    run = run_pipeline(pipeline, path)
    profiler.disable()
    stats_text = []
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order).print_stats(top)
        stats_text.append(f"## top {top} by {order} time\n\n{buffer.getvalue().strip()}\n")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in run.seconds.items())
    header = (
        f"# cProfile: voice-statement pipeline on {run.transcript.duration_s:.0f} s of audio "
        f"({len(run.transcript.text.split())} words), load excluded\n"
        f"# stages (under the profiler, which slows Python code): {stages}\n"
    )
    return header + "\n" + "\n".join(stats_text)


# --- main ------------------------------------------------------------------------------------


def measure(lengths: Sequence[float], *, repeat: int = 1) -> list[dict[str, Any]]:
    rows = []
    for seconds in lengths:
        path = long_recording(seconds)  # made (and cached) before anything is timed
        print(f"running: {_length_label(seconds)} CLI", file=sys.stderr, flush=True)
        cli = run_cli(path)
        print(f"running: {_length_label(seconds)} stages", file=sys.stderr, flush=True)
        stages = run_json(
            ["-m", "benchmarks.pipeline", "--worker", str(seconds), "--repeat", str(repeat)]
        )
        rows.append(_row(seconds, cli, stages))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lengths", type=float, nargs="+", default=list(DEFAULT_LENGTHS), metavar="S"
    )
    parser.add_argument("--quick", action="store_true", help="10 s only (a smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="JSON (default results/)")
    parser.add_argument("--no-plot", action="store_true", help="leave docs/benchmarks/ alone")
    parser.add_argument(
        "--profile", type=float, default=None, metavar="S", help="profile one length"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="in-process runs per length, pipeline and raw engine in turn; best kept",
    )
    parser.add_argument("--worker", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker is not None:
        print(json.dumps(worker(args.worker, repeat=args.repeat)))
        return
    if args.profile is not None:
        text = profile(args.profile)
        print(text)
        PROFILE_PATH.parent.mkdir(parents=True, exist_ok=True)
        PROFILE_PATH.write_text(text, encoding="utf-8")
        print(f"written: {PROFILE_PATH}", file=sys.stderr)
        return

    lengths = list(QUICK_LENGTHS) if args.quick else sorted(args.lengths)
    rows = measure(lengths, repeat=args.repeat)
    analysis = analyse(rows)
    print(table(rows))
    print()
    print("\n".join(summary(analysis)))
    print(
        f"\noverhead = (decode + VAD + extract + serialise) / raw engine; target <= "
        f"{TARGET_OVERHEAD_PCT:.0f} %. The raw engine transcribes the silence that VAD removes "
        "and skips word timestamps and the prompt."
    )
    write_results(
        "pipeline",
        {
            "lengths_s": lengths,
            "repeat": args.repeat,
            "statement_date": STATEMENT_DATE,
            "target_overhead_pct": TARGET_OVERHEAD_PCT,
            "rows": rows,
            "analysis": analysis,
        },
        out=args.out,
    )
    if not args.no_plot:
        plot_cost(rows, analysis)
        plot_memory(rows)


if __name__ == "__main__":
    main()
