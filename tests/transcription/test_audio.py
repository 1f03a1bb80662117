"""Decoding of phone and browser recordings (transcription/audio.py).

Every format is encoded on the fly with PyAV's own encoders from a real speech recording
(tests/fixtures/audio/jfk.flac: 11 s, 44.1 kHz stereo, public domain), so no encoded
binaries beyond that one need to be committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import transcription.audio as audio_mod
from transcription.audio import SAMPLE_RATE, AudioError, DecodedAudio, decode_audio, probe_duration

REPO = Path(__file__).resolve().parents[2]
JFK = REPO / "tests" / "fixtures" / "audio" / "jfk.flac"
JFK_S = 11.0


def _shared_dir() -> Path:
    env = os.environ.get("VOICE_STATEMENT_SHARED")
    return Path(env) if env else (REPO / ".." / "shared").resolve()


def _source_frames(seconds: float | None = None) -> Iterator[av.AudioFrame]:
    """The fixture's decoded frames (44.1 kHz stereo), optionally only the first seconds."""
    with av.open(str(JFK)) as src:
        done = 0
        for frame in src.decode(audio=0):
            if seconds is not None and done >= seconds * frame.rate:
                return
            frame.pts = None
            done += frame.samples
            yield frame


def encode(
    path: Path,
    *,
    container: str,
    codec: str,
    rate: int,
    layout: str,
    bit_rate: int | None = None,
    seconds: float | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode (part of) the fixture into ``path`` with PyAV's encoder ``codec``."""
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        if bit_rate:
            stream.bit_rate = bit_rate
        formats = stream.codec_context.codec.audio_formats
        assert formats
        sample_fmt = formats[0].name
        resampler = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate)
        for frame in _source_frames(seconds):
            for resampled in resampler.resample(frame):
                out.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    return path


# name: (container, encoder, rate, layout, bit_rate, expected format, expected codec)
FORMATS: dict[str, tuple[str, str, int, str, int | None, str, str]] = {
    "mono_8k.mp3": ("mp3", "libmp3lame", 8000, "mono", 16_000, "mp3", "mp3"),
    "stereo_44k.mp3": ("mp3", "libmp3lame", 44100, "stereo", 96_000, "mp3", "mp3"),
    "phone.m4a": ("ipod", "aac", 44100, "mono", 64_000, "m4a", "aac"),
    "browser.webm": ("webm", "libopus", 48000, "mono", 32_000, "webm", "opus"),
    "voice.ogg": ("ogg", "libopus", 48000, "mono", 24_000, "ogg", "opus"),
    "mono_16k.wav": ("wav", "pcm_s16le", 16000, "mono", None, "wav", "pcm_s16le"),
    "stereo_22k.flac": ("flac", "flac", 22050, "stereo", None, "flac", "flac"),
    "old_phone.3gp": ("3gp", "libopencore_amrnb", 8000, "mono", 12_200, "3gp", "amr_nb"),
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("encoded")
    files = {}
    for name, (container, codec, rate, layout, bit_rate, _, _) in FORMATS.items():
        files[name] = encode(
            folder / name, container=container, codec=codec, rate=rate, layout=layout,
            bit_rate=bit_rate,
        )  # fmt: skip
    return files


def test_fixture_is_present() -> None:
    assert JFK.is_file(), f"copy /work/shared/eval/real/jfk.flac to {JFK}"


@pytest.mark.parametrize("name", list(FORMATS))
def test_decodes_every_phone_and_browser_format(encoded: dict[str, Path], name: str) -> None:
    _, _, rate, layout, _, fmt, codec = FORMATS[name]
    path = encoded[name]

    decoded = decode_audio(path)

    assert isinstance(decoded, DecodedAudio)
    samples = decoded.samples
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert np.isfinite(samples).all()
    assert 0.3 < np.abs(samples).max() <= 1.05
    info = decoded.info
    assert info.format == fmt
    assert info.codec == codec
    # the source stream's own rate and channels (an Opus stream always reports 48 kHz)
    assert info.sample_rate_hz == rate
    assert info.channels == (2 if layout == "stereo" else 1)
    assert info.duration_s == pytest.approx(JFK_S, abs=0.1)
    assert len(samples) / SAMPLE_RATE == pytest.approx(info.duration_s, abs=1e-3)
    assert info.bytes == path.stat().st_size
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_decoded_speech_matches_the_source(encoded: dict[str, Path]) -> None:
    """Lossless 16 kHz mono wav decodes to the very samples that were encoded."""
    reference = decode_audio(JFK).samples
    wav = decode_audio(encoded["mono_16k.wav"]).samples
    assert wav.shape == reference.shape
    assert np.abs(wav - reference).max() < 2e-4  # 16-bit quantisation


def test_stereo_mixes_down_to_the_channel_mean(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    left = (rng.standard_normal(SAMPLE_RATE) * 0.2).astype(np.float32)
    right = (rng.standard_normal(SAMPLE_RATE) * 0.2).astype(np.float32)
    path = _write_pcm_wav(tmp_path / "lr.wav", np.stack([left, right]))
    same = _write_pcm_wav(tmp_path / "ll.wav", np.stack([left, left]))

    mixed = decode_audio(path).samples
    assert mixed == pytest.approx((left + right) / 2, abs=1e-3)
    # identical channels give the signal back at its own level (no +3 dB from the downmix)
    assert decode_audio(same).samples == pytest.approx(left, abs=1e-3)


def test_decoded_audio_is_at_16k(encoded: dict[str, Path]) -> None:
    """The 8 kHz amr and 44.1 kHz mp3 both come out with 16 000 samples per second."""
    for name in ("old_phone.3gp", "stereo_44k.mp3"):
        decoded = decode_audio(encoded[name])
        assert len(decoded.samples) == pytest.approx(JFK_S * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)


# ---- refusals ---------------------------------------------------------------------------


def _expect(code: str, path: Path, **kwargs: Any) -> AudioError:
    with pytest.raises(AudioError) as caught:
        decode_audio(path, **kwargs)
    error = caught.value
    assert error.code == code, str(error)
    message = str(error)
    assert path.name in message
    assert "\n" not in message
    assert isinstance(error, ValueError)
    return error


def test_missing_file(tmp_path: Path) -> None:
    error = _expect("not_found", tmp_path / "nothing.m4a")
    assert "no such file" in str(error)


def test_directory_is_not_found(tmp_path: Path) -> None:
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    _expect("not_found", folder)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.m4a"
    path.write_bytes(b"")
    assert "empty" in str(_expect("empty_file", path))


def test_text_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "statement.wav"
    path.write_text("This is a typed statement, not a recording.\n" * 40)
    _expect("not_audio", path)


def test_png_named_m4a(tmp_path: Path) -> None:
    path = tmp_path / "photo.m4a"
    path.write_bytes(_png(64, 48))
    _expect("not_audio", path)


@pytest.mark.parametrize("seed", range(3))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    path = tmp_path / f"noise{seed}.webm"
    path.write_bytes(np.random.default_rng(seed).bytes(40_000))
    _expect("not_audio", path)


def test_mp3_cut_in_half(encoded: dict[str, Path], tmp_path: Path) -> None:
    """PyAV opens the cut mp3 and decodes its first half without error; the Xing/Info header
    still declares 11 s, so the shortfall gives it away."""
    path = _cut_in_half(encoded["stereo_44k.mp3"], tmp_path)
    error = _expect("truncated", path)
    assert "incomplete" in str(error)


def test_mono_8k_mp3_cut_in_half(encoded: dict[str, Path], tmp_path: Path) -> None:
    _expect("truncated", _cut_in_half(encoded["mono_8k.mp3"], tmp_path))


def test_m4a_cut_in_half_without_its_index(encoded: dict[str, Path], tmp_path: Path) -> None:
    """A phone that stops writing early leaves no ``moov`` box at the end: FFmpeg cannot
    open the file at all; the box walk says it was cut short."""
    path = _cut_in_half(encoded["phone.m4a"], tmp_path)
    with pytest.raises(av.FFmpegError):
        av.open(str(path)).close()
    error = _expect("truncated", path)
    assert "incomplete or damaged" in str(error)


def test_faststart_m4a_cut_in_half(tmp_path: Path) -> None:
    """With the index at the front, FFmpeg opens the file; it then fails part-way through or
    decodes half of the declared 11 s, depending on where the cut falls."""
    whole = encode(
        tmp_path / "faststart.m4a", container="ipod", codec="aac", rate=44100, layout="mono",
        bit_rate=64_000, options={"movflags": "+faststart"},
    )  # fmt: skip
    assert decode_audio(whole).info.duration_s == pytest.approx(JFK_S, abs=0.1)
    error = _expect("truncated", _cut_in_half(whole, tmp_path))
    assert "incomplete" in str(error)


def test_3gp_cut_in_half(encoded: dict[str, Path], tmp_path: Path) -> None:
    _expect("truncated", _cut_in_half(encoded["old_phone.3gp"], tmp_path))


def test_flac_cut_in_half(encoded: dict[str, Path], tmp_path: Path) -> None:
    _expect("truncated", _cut_in_half(encoded["stereo_22k.flac"], tmp_path))


def test_webm_with_duration_cut_in_half(encoded: dict[str, Path], tmp_path: Path) -> None:
    _expect("truncated", _cut_in_half(encoded["browser.webm"], tmp_path))


@pytest.mark.parametrize("tail", ["zeros", "random"])
def test_junk_after_the_last_frame_is_not_damage(
    encoded: dict[str, Path], tmp_path: Path, tail: str
) -> None:
    """FFmpeg fails to decode junk appended to an mp3; all of the declared audio is there."""
    junk = bytes(3000) if tail == "zeros" else np.random.default_rng(3).bytes(3000)
    for name in ("stereo_44k.mp3", "mono_8k.mp3", "phone.m4a", "voice.ogg"):
        path = tmp_path / f"{tail}_{name}"
        path.write_bytes(encoded[name].read_bytes() + junk)
        assert decode_audio(path).info.duration_s == pytest.approx(JFK_S, abs=0.1)


@pytest.mark.parametrize("name", ["stereo_44k.mp3", "phone.m4a", "old_phone.3gp"])
def test_damage_in_the_middle(encoded: dict[str, Path], tmp_path: Path, name: str) -> None:
    data = bytearray(encoded[name].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 500] = np.random.default_rng(7).bytes(500)
    path = tmp_path / f"damaged_{name}"
    path.write_bytes(bytes(data))
    error = _expect("truncated", path)
    assert "damaged" in str(error)


def test_mp3_length_header_is_read(encoded: dict[str, Path]) -> None:
    """LAME's Info header counts whole frames, encoder delay and padding included."""
    assert audio_mod._mp3_header_duration(encoded["stereo_44k.mp3"]) == pytest.approx(
        JFK_S, abs=0.1
    )
    assert audio_mod._mp3_header_duration(encoded["mono_8k.mp3"]) == pytest.approx(JFK_S, abs=0.3)


def test_vbr_mp3_without_a_length_header_is_not_called_truncated(tmp_path: Path) -> None:
    """Without a Xing/Info header FFmpeg estimates the duration from the first frames'
    bitrate (14.3 s declared for 14.0 s here); only a header's frame count is trusted."""
    path = tmp_path / "vbr_no_xing.mp3"
    with av.open(str(path), "w", format="mp3", options={"write_xing": "0"}) as out:
        stream = out.add_stream("libmp3lame", rate=44100, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.codec_context.qscale = True
        stream.codec_context.global_quality = 9 * 118  # -V 9: the lowest VBR quality
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=44100)
        quiet = av.AudioFrame.from_ndarray(
            np.zeros((1, 2 * 3 * 44100), dtype=np.int32), format="s32", layout="stereo"
        )
        quiet.sample_rate = 44100
        for frame in [quiet, *_source_frames()]:
            for resampled in resampler.resample(frame):
                out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    assert audio_mod._mp3_header_duration(path) is None
    assert decode_audio(path).info.duration_s == pytest.approx(JFK_S + 3, abs=0.1)


def test_too_short(tmp_path: Path) -> None:
    clip = encode(
        tmp_path / "clip.wav", container="wav", codec="pcm_s16le", rate=16000, layout="mono",
        seconds=0.1,
    )  # fmt: skip
    error = _expect("too_short", clip)
    assert "too short to hold speech" in str(error)
    # the threshold is the caller's
    assert decode_audio(clip, min_duration_s=0.05).info.duration_s < 0.2


def test_too_long_is_refused_before_decoding(
    encoded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file whose declared duration is over the cap")

    monkeypatch.setattr(audio_mod, "_decode_stream", must_not_decode)
    for name in ("phone.m4a", "stereo_44k.mp3", "browser.webm"):
        error = _expect("too_long", encoded[name], max_duration_s=5.0)
        assert "11.0 s" in str(error)
        assert "5.0 s limit" in str(error)


def test_too_long_without_declared_duration_stops_at_the_cap(tmp_path: Path) -> None:
    """A live webm (what a browser's MediaRecorder writes) declares no duration."""
    live = encode(
        tmp_path / "live.webm", container="webm", codec="libopus", rate=48000, layout="mono",
        options={"live": "1"},
    )  # fmt: skip
    assert probe_duration(live) is None
    assert decode_audio(live).info.duration_s == pytest.approx(JFK_S, abs=0.1)
    error = _expect("too_long", live, max_duration_s=3.0)
    assert "stopped decoding" in str(error)


def test_error_survives_pickling(tmp_path: Path) -> None:
    with pytest.raises(AudioError) as caught:
        decode_audio(tmp_path / "gone.ogg")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.code, str(copy), copy.path) == ("not_found", str(caught.value), caught.value.path)


def test_long_lengths_read_as_minutes() -> None:
    assert audio_mod._fmt_s(1793.1) == "29 min 53 s"
    assert audio_mod._fmt_s(7200.0) == "2 h 0 min"


def test_probe_duration(encoded: dict[str, Path], tmp_path: Path) -> None:
    assert probe_duration(encoded["phone.m4a"]) == pytest.approx(JFK_S, abs=0.1)
    assert probe_duration(encoded["stereo_44k.mp3"]) == pytest.approx(JFK_S, abs=0.1)
    text = tmp_path / "x.ogg"
    text.write_text("not audio")
    with pytest.raises(AudioError) as caught:
        probe_duration(text)
    assert caught.value.code == "not_audio"


@pytest.mark.parametrize("level", [None, av.logging.VERBOSE], ids=["pyav-default", "verbose"])
def test_ffmpeg_stays_quiet_on_damaged_input(
    encoded: dict[str, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    level: int | None,
) -> None:
    """Silent with PyAV's default (FFmpeg log off) and even when something else turned PyAV's
    logging on: FFmpeg's complaints about the damage are captured, not written out."""
    damaged = [
        _cut_in_half(encoded["stereo_22k.flac"], tmp_path),
        tmp_path / "junk.mp3",
        tmp_path / "noise.ogg",
    ]
    damaged[1].write_bytes(encoded["stereo_44k.mp3"].read_bytes() + bytes(3000))
    damaged[2].write_bytes(np.random.default_rng(0).bytes(5000))
    previous = av.logging.get_level()
    av.logging.set_level(level)
    try:
        with caplog.at_level(logging.DEBUG, logger="libav"):
            for path in damaged:
                with contextlib.suppress(AudioError):
                    decode_audio(path)
    finally:
        av.logging.set_level(previous)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.name.startswith("libav")] == []


def test_decoding_is_fast(encoded: dict[str, Path]) -> None:
    start = time.perf_counter()
    for path in encoded.values():
        decode_audio(path)
    assert time.perf_counter() - start < 10.0  # 8 x 11 s; about 0.2 s on one core


# ---- committed fixtures ----------------------------------------------------------------

_SIDECARS = sorted((REPO / "tests" / "fixtures" / "audio").glob("*.json"))


@pytest.mark.parametrize("sidecar", _SIDECARS, ids=lambda p: p.stem)
def test_committed_fixture_matches_its_sidecar(sidecar: Path) -> None:
    """The spoken fixtures written by scripts/make_fixtures.py decode to what they declare."""
    meta = json.loads(sidecar.read_text())
    audio = meta["audio"]
    path = sidecar.parent / audio["file"]
    decoded = decode_audio(path)
    info = decoded.info
    assert meta["spoken"]
    assert info.sha256 == audio["sha256"]
    assert info.bytes == audio["bytes"] < 100_000
    assert (info.format, info.codec) == (audio["format"], audio["codec"])
    assert (info.sample_rate_hz, info.channels) == (audio["sample_rate_hz"], audio["channels"])
    assert info.duration_s == pytest.approx(audio["duration_s"], abs=0.1)
    assert 12.0 <= info.duration_s <= 25.0


# ---- the shared dev set -----------------------------------------------------------------

_DEV_AUDIO = _shared_dir() / "eval" / "dev" / "audio"
_DEV_FILES = sorted(p for p in _DEV_AUDIO.glob("*") if p.is_file()) if _DEV_AUDIO.is_dir() else []


@pytest.mark.skipif(not _DEV_FILES, reason=f"shared dev set not found at {_DEV_AUDIO}")
@pytest.mark.parametrize("path", _DEV_FILES or [None], ids=lambda p: p.name if p else "none")
def test_dev_set_decodes(path: Path) -> None:
    decoded = decode_audio(path)
    assert decoded.samples.dtype == np.float32
    meta_path = path.parent.parent / f"{path.stem}.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())["audio"]
        info = decoded.info
        assert (info.format, info.codec) == (meta["format"], meta["codec"])
        assert (info.sample_rate_hz, info.channels) == (meta["sample_rate_hz"], meta["channels"])
        assert info.bytes == meta["bytes"]
        assert info.duration_s == pytest.approx(meta["duration_s"], abs=0.1)


# ---- helpers ----------------------------------------------------------------------------


def _cut_in_half(path: Path, folder: Path) -> Path:
    data = path.read_bytes()
    cut = folder / f"half_{path.name}"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def _write_pcm_wav(path: Path, planes: np.ndarray) -> Path:
    """Write float planes (channels, samples) in [-1, 1] as a 16 kHz 16-bit wav."""
    layout = "mono" if planes.shape[0] == 1 else "stereo"
    pcm = np.round(np.clip(planes, -1, 1) * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16p", layout=layout)
    frame.sample_rate = SAMPLE_RATE
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout=layout)
        assert isinstance(stream, av.AudioStream)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _png(width: int, height: int) -> bytes:
    """A small valid grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
