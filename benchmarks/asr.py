"""Speech recognition: speed, memory and accuracy of every engine set-up, against its peers.

    .venv/bin/python -m benchmarks.asr [--audio FILE ...] [--repeat N] [--only SUBSTRING]
                                       [--quick] [--out FILE.json]

On the same audio in one run (default: the 10 dev recordings, about a minute each), this
measures our pipeline's transcription (``transcribe_audio`` with the engine the pipeline loads
and its vocabulary prompt) for engine {faster-whisper, openai-whisper} x beam {1, 5} x compute
type {float32, int8} x VAD {on, off}, plus two references on the same tiny.en weights:

* raw faster-whisper: ``WhisperModel(ct2_dir, compute_type="float32").transcribe(samples,
  beam_size=5)``, its defaults otherwise;
* raw openai-whisper: ``whisper.transcribe(model, samples, beam_size=5, fp16=False)`` on the
  checkpoint our engine converts from the same weights, loaded as our engine loads it.

Every configuration runs in its own fresh process, so its peak RSS is its own, and every time
is also given as a ratio to raw faster-whisper (and the openai-whisper ones to raw
openai-whisper): the noise of a shared machine mostly cancels in a ratio. Figures:

* time: processing seconds summed over the files, best of ``--repeat`` runs. Each process
  first transcribes 10 s of the first file untimed, so one-off costs (numba compiling
  openai-whisper's word timing, the VAD model's first load) are paid once as in the service,
  not charged to the first file. Decoding the files is not timed (identical for all).
* RTF (real-time factor): time / audio seconds; lower is faster.
* load s: constructing the engine (weights read, checked, set up); imports not included.
* peak RSS MB: the process's peak resident memory (imports, weights, audio, decoding).
* WER: word error rate against what the synthetic voice said (``spoken`` in the dev item's
  JSON), both sides normalised by openai-whisper's ``EnglishTextNormalizer`` (so "10:15" and
  "ten fifteen" agree), over all files: total errors / total reference words. Speed is never
  worth reporting without the accuracy it costs.

A configuration the engine refuses (``ModelError``, e.g. int8 on an engine without it) is
reported as "not supported". Prints a Markdown table, writes JSON (default
``benchmarks/results/asr.json``) and, for a full run on the default audio, the plot
``docs/benchmarks/asr-rtf.png``; any other run draws its plot beside the JSON instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import (
    RESULTS,
    SAMPLE_RATE,
    dev_audio,
    machine,
    markdown_table,
    new_figure,
    peak_rss_mb,
    run_json,
    save_plot,
    write_results,
)

RAW_FASTER = "raw faster-whisper (reference)"
RAW_OPENAI = "raw openai-whisper (reference)"
QUICK_AUDIO = "02.wav"  # one dev recording, 48.5 s, for the smoke test
QUICK_OURS = "faster-whisper float32 beam 1 VAD on"
WARM_UP_S = 10.0
PLOT = "asr-rtf"

Kind = Literal["raw-faster-whisper", "raw-openai-whisper", "ours"]


@dataclass(frozen=True)
class Config:
    """One way of transcribing. ``vad``: Silero VAD gates the audio first (our pipeline only;
    the raw calls are given the whole recording, as their defaults do)."""

    label: str
    kind: Kind
    engine: str
    beam: int
    compute_type: str = "float32"
    vad: bool = False


def configurations() -> list[Config]:
    """The two references first, then every set-up of our pipeline."""
    configs = [
        Config(RAW_FASTER, "raw-faster-whisper", "faster-whisper", beam=5),
        Config(RAW_OPENAI, "raw-openai-whisper", "openai-whisper", beam=5),
    ]
    for engine in ("faster-whisper", "openai-whisper"):
        for compute_type in ("float32", "int8"):
            for beam in (1, 5):
                for vad in (True, False):
                    label = f"{engine} {compute_type} beam {beam} VAD {'on' if vad else 'off'}"
                    configs.append(Config(label, "ours", engine, beam, compute_type, vad))
    return configs


def _by_label(label: str) -> Config:
    for config in configurations():
        if config.label == label:
            return config
    raise SystemExit(f"no configuration {label!r}")


# -- the worker: one configuration, in its own process ----------------------------------------


Transcriber = Callable[[Any], str]  # decoded audio -> text


def _load(config: Config) -> tuple[Transcriber, float]:
    """Import what ``config`` needs, then construct its engine (timed: the load seconds)."""
    if config.kind == "raw-faster-whisper":
        from faster_whisper import WhisperModel

        from transcription.provisioning import BUNDLED, ModelStore, default_data_dir

        ct2_dir = ModelStore(default_data_dir()).bundled_ct2_dir(BUNDLED["tiny.en"])
        started = time.perf_counter()
        fw_model = WhisperModel(str(ct2_dir), compute_type="float32")
        load_s = time.perf_counter() - started

        def raw_faster(audio: Any) -> str:
            segments, _ = fw_model.transcribe(audio.samples, beam_size=config.beam)
            return " ".join(s.text.strip() for s in segments)

        return raw_faster, load_s

    if config.kind == "raw-openai-whisper":
        import whisper

        from transcription.openai_checkpoint import load_checkpoint
        from transcription.provisioning import ModelStore, default_data_dir

        # Resolving converts the checkpoint once and caches it, as our engine's load does.
        resolved = ModelStore(default_data_dir()).resolve("tiny.en", engine="openai-whisper")
        assert resolved.openai_checkpoint is not None
        started = time.perf_counter()
        oa_model = load_checkpoint(
            resolved.openai_checkpoint, alignment_heads=resolved.alignment_heads
        )
        load_s = time.perf_counter() - started

        def raw_openai(audio: Any) -> str:
            result = whisper.transcribe(oa_model, audio.samples, beam_size=config.beam, fp16=False)
            return str(result["text"]).strip()

        return raw_openai, load_s

    # The engine imports its library when constructed; imported first, it is not timed.
    importlib.import_module("whisper" if config.engine == "openai-whisper" else "faster_whisper")
    from transcription.engines import DecodingOptions
    from transcription.transcribe import transcribe_audio
    from transcription.vad import VadOptions
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    pipeline = StatementPipeline(
        Settings(engine=config.engine, beam_size=config.beam, compute_type=config.compute_type)
    )
    decoding = DecodingOptions(beam_size=config.beam, initial_prompt=pipeline.initial_prompt)
    vad = VadOptions() if config.vad else None
    # Converting the openai checkpoint happens once per data directory, untimed, as for the
    # raw call; the engine's load still checks the cached file's hash, as in the service.
    pipeline.store.resolve(pipeline.settings.model, engine=config.engine)
    started = time.perf_counter()
    engine = pipeline.engine  # raises ModelError for a compute type the engine refuses
    load_s = time.perf_counter() - started

    def ours(audio: Any) -> str:
        return transcribe_audio(audio, engine, decoding=decoding, vad=vad).text

    return ours, load_s


def worker(config: Config, audio_paths: Sequence[Path], repeat: int) -> dict[str, object]:
    """Run one configuration in this process and return its figures and transcripts."""
    from transcription.audio import decode_audio
    from transcription.errors import ModelError

    decoded = [decode_audio(p) for p in audio_paths]
    audio_s = sum(a.samples.size for a in decoded) / SAMPLE_RATE
    row: dict[str, object] = {**dataclasses.asdict(config), "audio_s": round(audio_s, 2)}
    try:
        transcribe, load_s = _load(config)
    except ModelError as error:
        return {**row, "supported": False, "error": f"{error.code}: {error.message}"}

    first = decoded[0]
    warm_up = dataclasses.replace(
        first,
        samples=first.samples[: int(WARM_UP_S * SAMPLE_RATE)],
        info=dataclasses.replace(
            first.info, duration_s=min(WARM_UP_S, first.samples.size / SAMPLE_RATE)
        ),
    )
    transcribe(warm_up)

    totals: list[float] = []
    texts: list[str] = []
    for _ in range(repeat):
        texts, total = [], 0.0
        for audio in decoded:
            started = time.perf_counter()
            texts.append(transcribe(audio))
            total += time.perf_counter() - started
        totals.append(total)
    best = min(totals)
    return {
        **row,
        "supported": True,
        "load_s": round(load_s, 2),
        "seconds": [round(t, 2) for t in totals],
        "best_s": round(best, 3),
        "rtf": round(best / audio_s, 4),
        "peak_rss_mb": round(peak_rss_mb()),
        "texts": texts,
    }


# -- accuracy ---------------------------------------------------------------------------------


def reference_text(audio_path: Path) -> str | None:
    """What was said in a dev recording (``spoken`` of ``NN.json`` beside ``audio/``)."""
    item = audio_path.resolve().parent.parent / f"{audio_path.stem}.json"
    if not item.is_file():
        return None
    spoken = json.loads(item.read_text(encoding="utf-8")).get("spoken")
    return str(spoken) if spoken else None


@dataclass(frozen=True)
class WordErrors:
    """Word errors of one transcript: substitutions + deletions + insertions, over the
    reference's word count, after both sides are normalised."""

    errors: int
    words: int

    @property
    def rate(self) -> float:
        return self.errors / self.words if self.words else 0.0


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    ref, hyp = normalise(reference).strip(), normalise(hypothesis).strip()
    if not ref:
        return WordErrors(errors=len(hyp.split()), words=0)
    if not hyp:
        return WordErrors(errors=len(ref.split()), words=len(ref.split()))
    out = jiwer.process_words(ref, hyp)
    return WordErrors(
        errors=out.substitutions + out.deletions + out.insertions, words=len(ref.split())
    )


def score(row: dict[str, Any], audio_paths: Sequence[Path]) -> None:
    """Add per-file and overall WER to a worker's row (files without a reference are skipped)."""
    files: list[dict[str, object]] = []
    errors = words = 0
    for path, text in zip(audio_paths, row.pop("texts"), strict=True):
        reference = reference_text(path)
        entry: dict[str, object] = {"file": path.name, "text": text}
        if reference is not None:
            counted = word_errors(reference, text)
            errors += counted.errors
            words += counted.words
            entry["wer"] = round(counted.rate, 4)
        files.append(entry)
    row["wer"] = round(errors / words, 4) if words else None
    row["wer_errors"], row["wer_words"] = errors, words
    row["files"] = files


# -- the run ----------------------------------------------------------------------------------


def _ratio(row: dict[str, Any], reference: dict[str, Any] | None) -> float | None:
    if not row.get("supported") or reference is None or not reference.get("supported"):
        return None
    return round(float(row["best_s"]) / float(reference["best_s"]), 2)


def _cell(value: object, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def table(rows: Sequence[dict[str, Any]]) -> str:
    headers = [
        "configuration",
        "RTF",
        "× raw faster-whisper",
        "× raw openai-whisper",
        "load s",
        "peak RSS MB",
        "WER %",
    ]
    cells = []
    for r in rows:
        if not r["supported"]:
            cells.append([r["label"], "not supported", "", "", "", "", ""])
            continue
        wer = None if r["wer"] is None else 100 * r["wer"]
        cells.append(
            [
                r["label"],
                f"{r['rtf']:.3f}",
                _cell(r["x_raw_faster_whisper"], "{:.2f}"),
                _cell(r["x_raw_openai_whisper"], "{:.2f}"),
                f"{r['load_s']:.2f}",
                r["peak_rss_mb"],
                _cell(wer, "{:.1f}"),
            ]
        )
    return markdown_table(headers, cells)


def plot(rows: Sequence[dict[str, Any]], *, title: str) -> Any:
    """Horizontal bars of RTF per configuration, WER beside each bar, references hatched."""
    figure, axes = new_figure(8.0, 0.35 * len(rows) + 1.4)
    labels = [str(r["label"]) for r in rows]
    positions = list(range(len(rows)))[::-1]  # first row at the top
    top = max((float(r["rtf"]) for r in rows if r["supported"]), default=1.0)
    for y, r in zip(positions, rows, strict=True):
        if not r["supported"]:
            axes.text(0, y, " not supported", va="center", fontsize=8, color="grey")
            continue
        reference = r["kind"] != "ours"
        colour = "tab:blue" if r["engine"] == "faster-whisper" else "tab:orange"
        axes.barh(
            y,
            r["rtf"],
            color="white" if reference else colour,
            edgecolor=colour,
            hatch="//" if reference else None,
        )
        wer = "WER —" if r["wer"] is None else f"WER {100 * r['wer']:.1f} %"
        axes.text(
            float(r["rtf"]) + top * 0.01, y, f"{r['rtf']:.3f}  {wer}", va="center", fontsize=8
        )
    from matplotlib.patches import Patch

    axes.legend(
        handles=[
            Patch(color="tab:blue", label="faster-whisper (ours)"),
            Patch(color="tab:orange", label="openai-whisper (ours)"),
            Patch(facecolor="white", edgecolor="grey", hatch="//", label="raw call (reference)"),
        ],
        fontsize=7,
        loc="lower right",
    )
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlim(0, top * 1.35)
    axes.set_xlabel("real-time factor (processing s / audio s, lower is faster)")
    axes.set_title(title, fontsize=9)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, nargs="+", help="default: the dev recordings")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; best kept")
    parser.add_argument("--only", help="run only configurations whose label contains this")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK_AUDIO} only, the references and {QUICK_OURS}",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/asr.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.quick:
        audio = [p.resolve() for p in (args.audio or dev_audio([QUICK_AUDIO]))]
    else:
        audio = [p.resolve() for p in (args.audio or dev_audio())]
    if args.worker is not None:
        print(json.dumps(worker(_by_label(args.worker), audio, args.repeat)))
        return

    configs = configurations()
    only = QUICK_OURS if args.quick else args.only
    if only is not None:
        configs = [c for c in configs if c.kind != "ours" or only in c.label]

    rows: list[dict[str, Any]] = []
    for config in configs:
        print(f"running: {config.label}", file=sys.stderr)
        row = run_json(
            [
                "-m",
                "benchmarks.asr",
                "--worker",
                config.label,
                "--repeat",
                str(args.repeat),
                "--audio",
                *map(str, audio),
            ]
        )
        if row["supported"]:
            score(row, audio)
        rows.append(row)

    raw_faster = next(r for r in rows if r["label"] == RAW_FASTER)
    raw_openai = next(r for r in rows if r["label"] == RAW_OPENAI)
    for r in rows:
        r["x_raw_faster_whisper"] = _ratio(r, raw_faster)
        r["x_raw_openai_whisper"] = (
            _ratio(r, raw_openai) if r["engine"] == "openai-whisper" else None
        )

    audio_s = float(raw_faster["audio_s"])
    heading = f"tiny.en on {len(audio)} recording(s), {audio_s:.1f} s; best of {args.repeat} run(s)"
    print(f"\nMachine: {machine()}\nAudio: {', '.join(p.name for p in audio)}; {heading}\n")
    print(table(rows))

    out = args.out or RESULTS / "asr.json"
    write_results(
        "asr",
        {
            "audio": [str(p) for p in audio],
            "audio_s": audio_s,
            "repeat": args.repeat,
            "only": only,
            "quick": args.quick,
            "rows": rows,
        },
        out,
    )
    figure = plot(rows, title=heading)
    full_run = not args.quick and args.only is None and args.audio is None
    if full_run:
        save_plot(figure, PLOT)
    else:
        # A partial run's figures must not replace the documented plot.
        import matplotlib.pyplot as plt

        path = out.with_suffix(".png")
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        print(f"plotted: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
