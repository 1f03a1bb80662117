"""Decode a phone or browser recording to 16 kHz mono float32 with PyAV (bundled FFmpeg).

Works for the containers and codecs a phone or a browser's MediaRecorder produces: m4a/aac,
webm/opus, ogg/opus, mp3, wav, flac, 3gp/amr-nb (and anything else the bundled FFmpeg reads).
No system ``ffmpeg`` binary is used.

Decoding streams frame by frame: each decoded frame is resampled to 16 kHz and written into
one growing float32 buffer, so the whole recording is never held twice. Stereo (or more
channels) is mixed down as the plain mean of the channels: FFmpeg's own float downmix adds
the channels at -3 dB each, which is 3 dB louder than the source and peaks above 1.0.

Every refusal is an :class:`AudioError` with a stable ``code``:

``not_found``   the path does not exist or is not a file.
``empty_file``  the file has 0 bytes.
``not_audio``   FFmpeg cannot open it (text, image, random bytes, a damaged header) or it
                holds no audio stream, or not one packet of its audio decodes.
``truncated``   the file was cut short or is damaged: the decoded audio is clearly shorter
                than the duration its index or header declares (mp4/m4a/3gp, webm/mkv, flac,
                mp3 with a Xing/Info/VBRI header); an mp4/m4a/3gp whose boxes run past the end
                of the file (cut before its index was written); or packets that fail to decode
                with more audio decoding after them (damage in the middle). Errors at the very
                end (junk after the last frame) are not damage in themselves: the duration
                check decides.
``too_long``    longer than ``max_duration_s``: refused from the declared duration before
                decoding, or as soon as decoding passes the cap when none is declared.
``too_short``   shorter than ``min_duration_s`` once decoded: too short to hold speech.

PyAV keeps FFmpeg's log silent by default; decoding also runs inside ``av.logging.Capture``
so that, should another part of the program have turned PyAV logging on, FFmpeg's chatter
about a damaged file is captured rather than written out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import av
import av.logging
import numpy as np

from models.transcript import AudioInfo
from transcription.errors import TranscriptionError
from transcription.files import sha256_file

SAMPLE_RATE: Final = 16_000
"""Samples per second of every decoded recording (what Whisper expects)."""

DEFAULT_MAX_DURATION_S: Final = 7200.0
"""Longest recording accepted by default (two hours)."""

DEFAULT_MIN_DURATION_S: Final = 0.5
"""Shortest recording accepted by default: less than this cannot hold a spoken statement."""

TRUNCATION_TOLERANCE_S: Final = 0.5
"""Decoded audio may fall this many seconds short of the declared duration (encoder delay,
padding, rounding) before the file counts as truncated; see also the ratio below."""

TRUNCATION_TOLERANCE_RATIO: Final = 0.02
"""...or this fraction of the declared duration, whichever is larger (2 %: a 10-minute
recording may be 12 s short before it counts as truncated)."""

DAMAGE_TOLERANCE_S: Final = 1.0
"""Audio that still decodes after a packet failed to decode: more than this many seconds means
the damage is in the middle of the recording (refused); less is junk after the last frame."""

AudioErrorCode = Literal[
    "not_found", "empty_file", "not_audio", "truncated", "too_long", "too_short"
]

_INITIAL_CAPACITY_S = 60.0  # buffer size when the container declares no duration
# Containers whose declared duration FFmpeg reads from an index or header (not estimated from
# the bitrate), so a shortfall in decoded audio means the file was cut. Ogg and WAV durations
# are worked out from the bytes actually present, so the check could never fire for them;
# mp3's comes from its Xing/Info/VBRI header, read here (see _mp3_header_duration).
_INDEXED_FORMATS: Final = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "flac"})


class AudioError(TranscriptionError, ValueError):
    """A recording that cannot be used, with a stable machine-readable ``code``.

    ``str(error)`` is a one-line message naming the file and the problem; ``path`` is the
    path as given.
    """

    code: AudioErrorCode

    def __init__(self, code: AudioErrorCode, message: str, *, path: str | Path = "") -> None:
        super().__init__(code, message)
        self.code = code
        self.path = str(path)

    def __reduce__(self) -> tuple[type[AudioError], tuple[str, str], dict[str, str]]:
        # pickles (for a worker process) despite the keyword-only path
        return (type(self), (self.code, self.message), {"path": self.path})


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded recording: ``samples`` is float32, mono, :data:`SAMPLE_RATE` Hz, and
    ``info`` describes the source file (its hash, container, codec, rate and channels)."""

    samples: np.ndarray
    info: AudioInfo


def decode_audio(
    path: str | Path,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
) -> DecodedAudio:
    """Decode a recording to 16 kHz mono float32.

    ``max_duration_s``: a recording declared longer than this is refused before it is
    decoded; one that declares no duration (live webm from a browser) is refused as soon as
    the decoded audio passes it. ``min_duration_s``: a recording that decodes to less than
    this is refused as too short to hold speech.

    ``info.sha256`` and ``info.bytes`` are of the file exactly as stored; ``sample_rate_hz``
    and ``channels`` are the source stream's; ``duration_s`` is the decoded length.

    Raises :class:`AudioError` (codes in the module docstring).
    """
    path = Path(path)
    name = path.name or str(path)
    size = _check_file(path, name)
    sha256 = sha256_file(path)

    with _open_audio(path, name) as (container, stream):
        fmt_name = _format_name(container.format.name, path)
        codec = stream.codec.canonical_name
        declared = _declared_duration(container, stream)
        exact = _exact_duration(container.format.name, declared, path)
        if declared is not None and declared > max_duration_s:
            raise AudioError(
                "too_long",
                f"{name}: recording is {_fmt_s(declared)} long, over the "
                f"{_fmt_s(max_duration_s)} limit",
                path=path,
            )
        decoded = _decode_stream(
            container,
            stream,
            declared=declared,
            max_duration_s=max_duration_s,
            name=name,
            path=path,
        )
        rate = stream.rate or decoded.first_rate
        channels = stream.channels or decoded.first_channels

    samples = decoded.samples
    duration = len(samples) / SAMPLE_RATE
    if decoded.errors:
        if len(samples) == 0:
            raise AudioError(
                "not_audio", f"{name}: not one packet of the audio stream decodes (damaged)",
                path=path,
            )  # fmt: skip
        assert decoded.first_error_s is not None
        if duration - decoded.first_error_s > DAMAGE_TOLERANCE_S:
            raise AudioError(
                "truncated",
                f"{name}: recording is damaged: {decoded.errors} packet(s) failed to decode, "
                f"the first at {_fmt_s(decoded.first_error_s)}",
                path=path,
            )
    if exact is not None and exact - duration > max(
        TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_RATIO * exact
    ):
        failed = " (decoding failed there)" if decoded.errors else ""
        raise AudioError(
            "truncated",
            f"{name}: recording is incomplete (cut short): {_fmt_s(duration)} of audio "
            f"decoded{failed} where the file declares {_fmt_s(exact)}",
            path=path,
        )
    if duration < min_duration_s:
        raise AudioError(
            "too_short",
            f"{name}: recording is {_fmt_s(duration)} long, too short to hold speech "
            f"(minimum {_fmt_s(min_duration_s)})",
            path=path,
        )
    info = AudioInfo(
        sha256=sha256,
        bytes=size,
        format=fmt_name,
        codec=codec,
        sample_rate_hz=int(rate),
        channels=int(channels),
        duration_s=round(duration, 3),
    )
    return DecodedAudio(samples=samples, info=info)


def probe_duration(path: str | Path) -> float | None:
    """The duration in seconds that the container declares, without decoding; ``None`` when
    it declares none (a live webm from a browser, say).

    Raises :class:`AudioError` (``not_found``, ``empty_file``, ``not_audio``) for a file that
    cannot be opened as audio, and ``truncated`` for an mp3 shorter than the byte count its
    Xing/Info header states (the one cut that shows without decoding; an mp4/m4a cut before its
    index does not open).
    """
    path = Path(path)
    name = path.name or str(path)
    size = _check_file(path, name)
    with _open_audio(path, name) as (container, stream):
        declared = _declared_duration(container, stream)
        fmt = container.format.name
    if fmt == "mp3":
        stated = _mp3_header_bytes(path)
        if stated is not None and size < stated * (1 - TRUNCATION_TOLERANCE_RATIO):
            raise AudioError(
                "truncated",
                f"{name}: recording is incomplete (cut short): {size} bytes where its header "
                f"states {stated}",
                path=path,
            )
    return declared


def _mp3_audio_start(path: Path) -> bytes:
    """The first 8 KiB of an mp3's audio, after its ID3 tag (whose text is not a header and may
    hold bytes that look like a frame's)."""
    with path.open("rb") as fh:
        head = fh.read(10)
        offset = 0
        if len(head) == 10 and head[:3] == b"ID3":
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            offset = 10 + size + (10 if head[5] & 0x10 else 0)
        fh.seek(offset)
        return fh.read(8192)


def _mp3_header_bytes(path: Path) -> int | None:
    """The byte count the Xing/Info header of the first MPEG audio frame states (its ``bytes``
    field), or ``None`` when there is none."""
    data = _mp3_audio_start(path)
    for i in range(len(data) - 3):
        if data[i] != 0xFF or data[i + 1] & 0xE0 != 0xE0:
            continue
        frame = data[i : i + 200]
        for tag in (b"Xing", b"Info"):
            at = frame.find(tag, 4, 64)
            if at >= 0 and len(frame) >= at + 16:
                flags = struct.unpack(">I", frame[at + 4 : at + 8])[0]
                if not flags & 2:
                    return None
                field = at + 8 + (4 if flags & 1 else 0)
                stated: int = struct.unpack(">I", frame[field : field + 4])[0]
                return stated or None
        return None
    return None


@contextmanager
def _open_audio(
    path: Path, name: str
) -> Iterator[tuple[av.container.InputContainer, av.AudioStream]]:
    """Open ``path`` with FFmpeg's log captured, and find its audio stream, or refuse it."""
    with av.logging.Capture():
        try:
            container = av.open(str(path), metadata_errors="replace")
        except av.FFmpegError as exc:
            raise _open_error(path, name) from exc
        with container:
            yield container, _audio_stream(container, name, path)


def _check_file(path: Path, name: str) -> int:
    if not path.exists():
        raise AudioError("not_found", f"{name}: no such file", path=path)
    if not path.is_file():
        raise AudioError("not_found", f"{name}: not a regular file", path=path)
    size = path.stat().st_size
    if size == 0:
        raise AudioError("empty_file", f"{name}: the file is empty (0 bytes)", path=path)
    return size


def _audio_stream(container: av.container.InputContainer, name: str, path: Path) -> av.AudioStream:
    """The audio stream FFmpeg ranks best (the first, for a plain recording)."""
    streams = container.streams.audio
    if not streams:
        raise AudioError("not_audio", f"{name}: no audio stream in the file", path=path)
    best = container.streams.best("audio")
    stream = best if isinstance(best, av.AudioStream) else streams[0]
    if stream.codec_context is None:
        # A header naming a codec FFmpeg has no decoder for (a WAV's format tag of 0x1234,
        # say): PyAV then gives the stream no codec at all, and reading it would be a crash.
        raise AudioError(
            "not_audio",
            f"{name}: the audio is in a codec FFmpeg cannot decode (unknown or damaged format)",
            path=path,
        )
    return stream


def _open_error(path: Path, name: str) -> AudioError:
    if _mp4_runs_past_end(path):
        return AudioError(
            "truncated",
            f"{name}: recording is incomplete or damaged: the MP4/M4A file ends part-way "
            "through (its index is missing)",
            path=path,
        )
    return AudioError(
        "not_audio", f"{name}: not a recording FFmpeg can read (unknown or damaged format)",
        path=path,
    )  # fmt: skip


@dataclass
class _Decoded:
    samples: np.ndarray
    first_rate: int = 0
    first_channels: int = 0
    errors: int = 0  # packets that failed to decode (or a read error that ended the stream)
    first_error_s: float | None = None  # decoded audio before the first failure


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    *,
    declared: float | None,
    max_duration_s: float,
    name: str,
    path: Path,
) -> _Decoded:
    """Decode ``stream`` packet by packet into one float32 buffer at :data:`SAMPLE_RATE`.

    A packet that fails to decode is counted and skipped (as the ffmpeg tool does); a read
    error ends the stream and counts as one failure. The caller judges what they mean.
    """
    max_samples = int(max_duration_s * SAMPLE_RATE)
    capacity_s = declared + 1.0 if declared is not None else _INITIAL_CAPACITY_S
    capacity = max(min(int(capacity_s * SAMPLE_RATE), max_samples + SAMPLE_RATE), SAMPLE_RATE)
    result = _Decoded(samples=np.empty(capacity, dtype=np.float32))
    buf = result.samples
    n = 0
    resampler: av.AudioResampler | None = None
    setup: tuple[str, str, int] | None = None

    def append(frames: list[av.AudioFrame]) -> None:
        nonlocal n
        for out in frames:
            planes = out.to_ndarray()  # (channels, samples), planar float32
            mono = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=np.float32)
            end = n + mono.shape[0]
            if end > buf.shape[0]:
                # realloc in place where it can (mremap for large blocks): no second copy kept
                buf.resize(max(end, int(buf.shape[0] * 1.5)), refcheck=False)
            buf[n:end] = mono
            n = end

    def failed() -> None:
        result.errors += 1
        if result.first_error_s is None:
            result.first_error_s = n / SAMPLE_RATE

    try:
        for packet in container.demux(stream):  # ends with an empty packet that flushes
            try:
                frames = packet.decode()
            except av.FFmpegError:
                failed()
                continue
            for frame in frames:
                assert isinstance(frame, av.AudioFrame)
                if not result.first_rate:
                    result.first_rate = frame.rate
                    result.first_channels = frame.layout.nb_channels
                frame_setup = (frame.format.name, frame.layout.name, frame.rate)
                if frame_setup != setup:
                    # a mid-stream change of rate or layout needs a new resampler
                    if resampler is not None:
                        append(resampler.resample(None))
                    resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
                    setup = frame_setup
                assert resampler is not None
                append(resampler.resample(frame))
            if n > max_samples:
                raise AudioError(
                    "too_long",
                    f"{name}: recording is over the {_fmt_s(max_duration_s)} limit "
                    "(stopped decoding there)",
                    path=path,
                )
    except av.FFmpegError:
        failed()
    if resampler is not None:
        append(resampler.resample(None))
    if n > max_samples:
        raise AudioError(
            "too_long",
            f"{name}: recording is {_fmt_s(n / SAMPLE_RATE)} long, over the "
            f"{_fmt_s(max_duration_s)} limit",
            path=path,
        )
    buf.resize(n, refcheck=False)
    return result


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """Seconds declared by the stream (preferred: a video track may be longer) or container."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _exact_duration(format_name: str, declared: float | None, path: Path) -> float | None:
    """The duration an index or header states, not one estimated from the bitrate: decoding
    clearly less than it means the file was cut short. ``None`` where there is none."""
    if format_name in _INDEXED_FORMATS:
        return declared
    if format_name == "mp3":
        return _mp3_header_duration(path)
    return None


# MPEG audio frame header: version bits -> sample rates; (version, layer) -> samples per frame
_MPEG_RATES: Final = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MPEG_SPF: Final = {(3, 3): 384, (3, 2): 1152, (3, 1): 1152, (2, 3): 384, (2, 2): 1152,
                    (2, 1): 576, (0, 3): 384, (0, 2): 1152, (0, 1): 576}  # fmt: skip


def _mp3_header_duration(path: Path) -> float | None:
    """Seconds stated by the Xing/Info or VBRI header in the first MPEG audio frame (its frame
    count), or ``None`` when there is none and any duration would be a bitrate estimate."""
    data = _mp3_audio_start(path)
    for i in range(len(data) - 3):
        if data[i] != 0xFF or data[i + 1] & 0xE0 != 0xE0:
            continue
        version, layer = (data[i + 1] >> 3) & 3, (data[i + 1] >> 1) & 3
        rate_index = (data[i + 2] >> 2) & 3
        if version == 1 or layer == 0 or rate_index == 3:
            continue  # reserved values: not a frame header
        spf, rate = _MPEG_SPF[(version, layer)], _MPEG_RATES[version][rate_index]
        frame = data[i : i + 200]
        for tag in (b"Xing", b"Info"):
            at = frame.find(tag, 4, 64)
            if at >= 0 and len(frame) >= at + 12:
                flags, frames = struct.unpack(">II", frame[at + 4 : at + 12])
                return frames * spf / rate if flags & 1 and frames else None
        at = frame.find(b"VBRI", 4, 64)
        if at >= 0 and len(frame) >= at + 18:
            frames = struct.unpack(">I", frame[at + 14 : at + 18])[0]
            return frames * spf / rate if frames else None
        return None
    return None


def _mp4_runs_past_end(path: Path) -> bool:
    """True for an ISO-BMFF file (mp4, m4a, 3gp) whose top-level boxes run past the end of
    the file: a recording cut short before its index (``moov`` box) was written."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return False
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(16)
            box_size = struct.unpack(">I", header[:4])[0]
            if box_size == 1:
                if len(header) < 16:
                    return True
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # runs to the end of the file
                return False
            if box_size < 8:
                return False  # not a box structure we understand: call it damaged, not cut
            pos += box_size
        return pos > size


def _format_name(ffmpeg_name: str, path: Path) -> str:
    """A short container name: the file's extension when FFmpeg's demuxer covers it
    (``mov,mp4,m4a,3gp,3g2,mj2`` for ``x.m4a`` gives ``m4a``), else the demuxer's first name."""
    names = ffmpeg_name.split(",")
    ext = path.suffix.lower().lstrip(".")
    return ext if ext in names else names[0]


def _fmt_s(seconds: float | None) -> str:
    """``5.3 s``, ``29 min 53 s``, ``2 h 0 min``: a length as a person reads it."""
    if seconds is None:
        return "unknown length"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
