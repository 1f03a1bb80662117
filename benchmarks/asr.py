"""Speech-recognition speed and memory: both engines, beam 1 and 5, on the same audio.

    .venv/bin/python -m benchmarks.asr [--audio FILE ...] [--repeat N] [--out FILE.json]

Every configuration runs in its own fresh process (so peak RSS is its own) on the same
audio, next to a raw faster-whisper call with its default options as the reference: our
configurations are reported as a ratio to it, so the noise of a shared machine mostly cancels.
Real-time factor (RTF) = processing seconds / audio seconds, lower is faster; the time
includes VAD for our pipeline, not decoding the file (identical for all). Load time is
separate. Prints a Markdown table and writes JSON (default benchmarks/results/asr.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_AUDIO = [
    REPO / ".." / "shared" / "eval" / "dev" / "audio" / name
    for name in ("01.mp3", "04.ogg", "06.flac")
]

CONFIGS: list[dict[str, object]] = [
    {"label": "raw faster-whisper (reference)", "kind": "raw", "beam": 5},
    {
        "label": "faster-whisper float32 beam 1",
        "kind": "ours",
        "engine": "faster-whisper",
        "beam": 1,
    },
    {
        "label": "faster-whisper float32 beam 5",
        "kind": "ours",
        "engine": "faster-whisper",
        "beam": 5,
    },
    {
        "label": "openai-whisper float32 beam 1",
        "kind": "ours",
        "engine": "openai-whisper",
        "beam": 1,
    },
    {
        "label": "openai-whisper float32 beam 5",
        "kind": "ours",
        "engine": "openai-whisper",
        "beam": 5,
    },
]


def _load_audio(paths: list[Path]) -> np.ndarray:
    from transcription.audio import decode_audio

    return np.concatenate([decode_audio(p).samples for p in paths])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def worker(config: dict[str, object], audio_paths: list[Path], repeat: int) -> dict[str, object]:
    """Run one configuration in this process and report its figures."""
    samples = _load_audio(audio_paths)
    duration = samples.size / 16_000
    beam = int(str(config["beam"]))
    started = time.perf_counter()
    if config["kind"] == "raw":
        from faster_whisper import WhisperModel

        from transcription.provisioning import BUNDLED, ModelStore, default_data_dir

        ct2_dir = ModelStore(default_data_dir()).bundled_ct2_dir(BUNDLED["tiny.en"])
        model = WhisperModel(str(ct2_dir), device="cpu", compute_type="float32")
        load_s = time.perf_counter() - started

        def run() -> str:
            segments, _ = model.transcribe(samples, beam_size=beam)
            return " ".join(s.text.strip() for s in segments)
    else:
        from models import AudioInfo
        from transcription.audio import DecodedAudio
        from transcription.engines import DecodingOptions
        from workflow.pipeline import StatementPipeline
        from workflow.settings import Settings

        pipeline = StatementPipeline(Settings(engine=str(config["engine"]), beam_size=beam))
        engine = pipeline.engine
        load_s = time.perf_counter() - started
        info = AudioInfo(
            sha256="",
            bytes=0,
            format="",
            codec="",
            sample_rate_hz=16_000,
            channels=1,
            duration_s=duration,
        )
        decoded = DecodedAudio(samples=samples, info=info)
        decoding = DecodingOptions(beam_size=beam, initial_prompt=pipeline.initial_prompt)

        def run() -> str:
            from transcription.transcribe import transcribe_audio

            return transcribe_audio(decoded, engine, decoding=decoding).text

    timings, text = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        text = run()
        timings.append(time.perf_counter() - t0)
    best = min(timings)
    return {
        "label": config["label"],
        "audio_s": round(duration, 2),
        "load_s": round(load_s, 2),
        "seconds": [round(t, 2) for t in timings],
        "rtf": round(best / duration, 4),
        "peak_rss_mb": round(_peak_rss_mb()),
        "text": text,
    }


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, nargs="+", default=DEFAULT_AUDIO)
    parser.add_argument("--repeat", type=int, default=2, help="runs per configuration; best kept")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "asr.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker is not None:
        print(json.dumps(worker(CONFIGS[int(args.worker)], args.audio, args.repeat)))
        return

    results = []
    for index, config in enumerate(CONFIGS):
        print(f"running: {config['label']}", file=sys.stderr)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.asr",
                "--worker",
                str(index),
                "--repeat",
                str(args.repeat),
                "--audio",
                *map(str, args.audio),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    reference = results[0]
    print(
        f"\nMachine: {machine()}; audio {reference['audio_s']} s "
        f"({', '.join(p.name for p in args.audio)}); best of {args.repeat} runs\n"
    )
    print(
        "| configuration | RTF | time × reference | load s | peak RSS MB | text = faster-whisper |"
    )
    print("|---|---|---|---|---|---|")
    by_label = {str(r["label"]): r for r in results}
    for r in results:
        ratio = float(str(r["rtf"])) / float(str(reference["rtf"]))
        twin = by_label.get(str(r["label"]).replace("openai-whisper", "faster-whisper"))
        same = (
            "—"
            if r is reference or twin is None
            else ("yes" if twin["text"] == r["text"] else "no")
        )
        print(
            f"| {r['label']} | {r['rtf']:.3f} | {ratio:.2f} | {r['load_s']} | "
            f"{r['peak_rss_mb']} | {same} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    print(f"\nwritten: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
