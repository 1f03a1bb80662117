"""The bad recordings of ``test_bad_input``, made small from the committed fixtures with PyAV.

Every file is made here rather than committed: each is a few bytes to a hundred kilobytes, and
making them shows exactly what each one is (a real encode cut in half, a PNG named ``.wav``...).
FLAC of digital silence is tiny (constant subframes): three hours at 8 kHz is about 26 KB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.conftest import AUDIO_FIXTURES
from transcription.audio import decode_audio

GOOD_RECORDING = AUDIO_FIXTURES / "mg11_assault.ogg"
SHORT_RECORDING = AUDIO_FIXTURES / "jfk.flac"  # 11 s of speech: drafts quickest


@dataclass(frozen=True)
class BadRecording:
    """One bad input: its file, the error code the service answers with, and a word the
    message must contain (for a person: what is wrong)."""

    name: str
    path: Path
    code: str
    says: str


def encode(samples: np.ndarray, path: Path, *, fmt: str, codec: str, rate: int = 16_000) -> Path:
    """``samples`` (float32 mono, or int16) encoded with FFmpeg's ``codec`` into ``path``."""
    options = {"frame_size": "65535", "compression_level": "0"} if codec == "flac" else {}
    sample_format = "s16" if samples.dtype == np.int16 else "fltp"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        step = rate * 600  # ten minutes a frame: few Python round trips for hours of silence
        for start in range(0, len(samples), step):
            frame = av.AudioFrame.from_ndarray(
                samples[np.newaxis, start : start + step], format=sample_format, layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def silence_flac(path: Path, seconds: int, *, rate: int = 16_000) -> Path:
    """``seconds`` of digital silence as FLAC (tiny: every block is one constant subframe)."""
    return encode(
        np.zeros(seconds * rate, dtype=np.int16), path, fmt="flac", codec="flac", rate=rate
    )


def cut_in_half(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def png_bytes() -> bytes:
    image = Image.new("RGB", (64, 32), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_bad_recordings(directory: Path) -> list[BadRecording]:
    """Every bad recording the issue lists that is refused (silence and the over-size upload
    are tested on their own): written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    speech = decode_audio(AUDIO_FIXTURES / "jfk.flac").samples
    whole_mp3 = encode(speech, directory / "whole.mp3", fmt="mp3", codec="libmp3lame")
    whole_m4a = encode(speech, directory / "whole.m4a", fmt="ipod", codec="aac")
    text = b"Witness statement notes: this is a text file, not a recording.\n" * 8
    image = png_bytes()
    files = {
        "empty file": ("empty.wav", b""),
        "text named .wav": ("notes.wav", text),
        "text named .m4a": ("notes.m4a", text),
        "PNG named .wav": ("photo.wav", image),
        "PNG named .m4a": ("photo.m4a", image),
        "random bytes": ("noise.ogg", np.random.default_rng(8).bytes(40_000)),
    }
    made: dict[str, Path] = {}
    for case, (name, data) in files.items():
        made[case] = directory / name
        made[case].write_bytes(data)
    made["truncated mp3"] = cut_in_half(whole_mp3, directory / "truncated.mp3")
    made["truncated m4a"] = cut_in_half(whole_m4a, directory / "truncated.m4a")
    made["0.1 s clip"] = encode(speech[:1_600], directory / "click.flac", fmt="flac", codec="flac")
    # Three hours of a phone's 8 kHz recording: over the two-hour cap.
    made["3-hour recording"] = silence_flac(directory / "three_hours.flac", 3 * 3600, rate=8_000)
    expected = {
        "empty file": ("empty_file", "empty"),
        "text named .wav": ("not_audio", "not a recording"),
        "text named .m4a": ("not_audio", "not a recording"),
        "PNG named .wav": ("not_audio", "no audio stream"),
        "PNG named .m4a": ("not_audio", "no audio stream"),
        "random bytes": ("not_audio", "not a recording"),
        "truncated mp3": ("truncated", "cut short"),
        "truncated m4a": ("truncated", "incomplete"),
        "0.1 s clip": ("too_short", "too short"),
        "3-hour recording": ("too_long", "limit"),
    }
    return [BadRecording(case, made[case], code, says) for case, (code, says) in expected.items()]
