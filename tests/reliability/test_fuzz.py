"""Fuzzing what reads untrusted input first: the audio decoder and the spoken-form normaliser.

The decoder (``transcription.audio``: ``decode_audio``, ``probe_duration`` and the MP3/MP4
header sniffing they do) is fed arbitrary bytes and real recordings damaged every way a phone
or a network damages them (bit flips, truncations, spliced headers, lost and repeated runs):
each input either decodes to what the contract says (16 kHz mono float32, its own SHA-256, no
shorter than the minimum, finite samples) or is refused with the project's own ``AudioError``,
never another exception, and within a time bound (a watchdog thread catches a hang that a
per-example deadline never could, since a stuck FFmpeg call never returns to be timed).

The normaliser (``nlp.normalise``) is fed arbitrary text and text built from the words it
reads (numbers, ordinals, months, weekdays, NATO letters, times, postcodes, plates, phones):
every public function returns its declared type and never raises, each normal form it gives is
read back as itself (a value already written as the contract writes it is kept), and a
10,000-character input finishes in under a second (no catastrophic regex backtracking).

Hypothesis runs derandomised at CI size (the same examples every run, so CI cannot turn red
on a new random draw) and randomly under ``--long``. Counts go to the ``fuzzing`` section of
the reliability report.
"""

from __future__ import annotations

import gc
import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, get_args

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nlp import lexicons
from nlp import normalise as n
from tests.conftest import AUDIO_FIXTURES, wav_bytes
from tests.reliability.conftest import Report, Scale
from transcription.audio import (
    DEFAULT_MIN_DURATION_S,
    SAMPLE_RATE,
    AudioError,
    AudioErrorCode,
    DecodedAudio,
    decode_audio,
    probe_duration,
)

T = TypeVar("T")

AUDIO_BOUND_S = 10.0  # one decode of a file under 100 kB; a healthy one takes milliseconds
TEXT_BOUND_S = 1.0  # CPU time of one normaliser call on a 10,000-character input
WATCHDOG_S = 30.0  # wall time after which a call counts as hung, however busy the machine
AUDIO_CODES = frozenset(get_args(AudioErrorCode))


def within(watchdog_s: float, what: str, call: Callable[[], T]) -> tuple[T, float]:
    """``call()`` and the CPU time it took, run in a watchdog thread that fails the example
    (rather than hanging the suite) when it is still running after ``watchdog_s`` of wall time.
    CPU time, not wall time, is what a bound is checked against: the machine is shared, and
    catastrophic backtracking or a decoder loop is CPU spent, whatever else runs beside it. An
    exception raised by ``call`` is raised here."""
    box: dict[str, Any] = {}

    def run() -> None:
        started = time.thread_time()
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller to judge
            box["error"] = exc
        box["cpu_s"] = time.thread_time() - started

    worker = threading.Thread(target=run, name=f"fuzz: {what}", daemon=True)
    worker.start()
    worker.join(watchdog_s)
    if worker.is_alive():
        raise AssertionError(f"{what} still running after {watchdog_s} s (a hang)")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    cpu_s: float = box["cpu_s"]
    return value, cpu_s


@dataclass
class Tally:
    """Examples run and the slowest one, per fuzzing target, for the report."""

    examples: int = 0
    slowest_s: float = 0.0

    def count(self, elapsed: float) -> None:
        self.examples += 1
        self.slowest_s = max(self.slowest_s, elapsed)


def fuzz_settings(scale: Scale, *, ci: int, full: int, deadline_ms: int) -> settings:
    return settings(
        max_examples=scale.pick(ci, full),
        deadline=deadline_ms,
        derandomize=not scale.long,
        database=None,  # derandomised CI needs no example database; --long explores afresh
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the audio decoder ---------------------------------------------------------------------


def _speech(seconds: float) -> np.ndarray:
    """The opening of the JFK fixture: real speech, decoded by the decoder under test."""
    samples = decode_audio(AUDIO_FIXTURES / "jfk.flac").samples
    return samples[: int(seconds * SAMPLE_RATE)]


def _encode(samples: np.ndarray, container: str, codec: str, rate: int) -> bytes:
    """``samples`` encoded as a phone or browser would send them, with PyAV's own FFmpeg."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[np.newaxis, :], format="flt", layout="mono")
        frame.rate = SAMPLE_RATE
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def audio_seeds() -> dict[str, bytes]:
    """Small valid recordings, one per container the service takes, plus the real fixtures:
    the damage is done to these."""
    speech = _speech(1.5)
    seeds = {
        ".wav": wav_bytes(speech),
        ".flac": _encode(speech, "flac", "flac", SAMPLE_RATE),
        ".ogg": (AUDIO_FIXTURES / "mg11_assault.ogg").read_bytes(),
        ".mp3": _encode(speech, "mp3", "libmp3lame", 22050),
        ".m4a": _encode(speech, "ipod", "aac", SAMPLE_RATE),
        ".webm": _encode(speech, "webm", "libopus", 48000),
    }
    # The real FLAC fixture's header (STREAMINFO, seek table) is spliced onto other bodies.
    seeds[".fixture.flac"] = (AUDIO_FIXTURES / "jfk.flac").read_bytes()[:16384]
    return seeds


@st.composite
def damaged(draw: st.DrawFn, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """A real recording damaged by one to four operations."""
    suffix = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[suffix])
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        at = draw(st.integers(0, max(size - 1, 0)))
        operation = draw(
            st.sampled_from(["flip", "truncate", "splice", "drop", "repeat", "overwrite"])
        )
        if operation == "flip" and size:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "truncate":
            del data[at:]
        elif operation == "splice":  # one recording's header onto another's body
            donor = seeds[draw(st.sampled_from(sorted(seeds)))]
            head = draw(st.integers(4, min(4096, len(donor))))
            data = bytearray(donor[:head]) + data[min(head, size) :]
        elif operation == "drop":
            del data[at : at + draw(st.integers(1, 4096))]
        elif operation == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 4096))]
        elif operation == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=64))
            data[at : at + len(junk)] = junk
    return suffix.rsplit(".", 1)[-1], bytes(data)


MAGIC = [
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"fLaC\x00\x00\x00\x22",
    b"OggS\x00\x02",
    b"ID3\x04\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64",
    b"\x00\x00\x00\x20ftypM4A ",
    b"\x00\x00\x00\x01ftypisom",
    b"\x1a\x45\xdf\xa3",
    b"#!AMR\n",
    b"",
]

arbitrary_bytes = st.tuples(
    st.sampled_from(["wav", "flac", "ogg", "mp3", "m4a", "webm", "3gp", "bin"]),
    st.builds(lambda magic, rest: magic + rest, st.sampled_from(MAGIC), st.binary(max_size=4096)),
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_decoder(directory: Path, suffix: str, data: bytes, tally: Tally) -> None:
    """``data`` decodes as the contract says, or is refused with an ``AudioError``; so is its
    probe, each within the bound."""
    path = directory / f"upload.{suffix}"
    path.write_bytes(data)
    try:
        decoded: DecodedAudio | None
        decoded, elapsed = within(
            AUDIO_BOUND_S, f"decode_audio({len(data)} bytes)", lambda: decode_audio(path)
        )
    except AudioError as refused:
        assert refused.code in AUDIO_CODES
        assert str(refused) and path.name in str(refused)  # one line naming the file
        decoded, elapsed = None, 0.0
    if decoded is not None:
        samples = decoded.samples
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert len(samples) >= DEFAULT_MIN_DURATION_S * SAMPLE_RATE
        assert np.isfinite(samples).all(), "decoded samples hold NaN or infinity"
        assert decoded.info.sha256 == hashlib.sha256(data).hexdigest()
        assert decoded.info.bytes == len(data)
    try:
        declared, probe_s = within(AUDIO_BOUND_S, "probe_duration", lambda: probe_duration(path))
        assert declared is None or declared >= 0
    except AudioError as refused:
        assert refused.code in AUDIO_CODES
        probe_s = 0.0
    tally.count(elapsed + probe_s)


def test_decoder_survives_arbitrary_bytes(
    scale: Scale, reliability_report: Report, fuzz_dir: Path
) -> None:
    tally = Tally()

    @fuzz_settings(scale, ci=300, full=3000, deadline_ms=int(AUDIO_BOUND_S * 1000))
    @given(arbitrary_bytes)
    def run(case: tuple[str, bytes]) -> None:
        check_decoder(fuzz_dir, case[0], case[1], tally)

    run()
    reliability_report.record("fuzzing", "decoder_arbitrary_bytes_examples", tally.examples)
    reliability_report.record(
        "fuzzing", "decoder_arbitrary_bytes_slowest_cpu_s", round(tally.slowest_s, 3)
    )
    assert tally.examples >= scale.pick(200, 2000)


def test_decoder_survives_damaged_recordings(
    scale: Scale, reliability_report: Report, fuzz_dir: Path, audio_seeds: dict[str, bytes]
) -> None:
    for suffix, data in audio_seeds.items():  # the seeds themselves are sound
        if suffix != ".fixture.flac":
            check_decoder(fuzz_dir, suffix.lstrip("."), data, Tally())
            assert decode_audio(fuzz_dir / f"upload.{suffix.lstrip('.')}").info.duration_s > 1.0
    tally = Tally()

    @fuzz_settings(scale, ci=400, full=5000, deadline_ms=int(AUDIO_BOUND_S * 1000))
    @given(damaged(audio_seeds))
    def run(case: tuple[str, bytes]) -> None:
        check_decoder(fuzz_dir, case[0], case[1], tally)

    run()
    reliability_report.record("fuzzing", "decoder_damaged_examples", tally.examples)
    reliability_report.record("fuzzing", "decoder_damaged_slowest_cpu_s", round(tally.slowest_s, 3))
    assert tally.examples >= scale.pick(250, 3000)


@pytest.mark.parametrize("format_tag", [0x0000, 0x1234, 0xFFFF])
def test_decoder_refuses_a_wav_naming_an_unknown_codec(
    fuzz_dir: Path, audio_seeds: dict[str, bytes], format_tag: int
) -> None:
    data = bytearray(audio_seeds[".wav"])
    assert data[12:16] == b"fmt " and data[20:22] == b"\x01\x00"  # PCM
    data[20:22] = format_tag.to_bytes(2, "little")  # WAVEFORMATEX wFormatTag
    check_decoder(fuzz_dir, "wav", bytes(data), Tally())


# --- the spoken-form normaliser ------------------------------------------------------------

STATEMENT_DATE = date(2026, 11, 20)

# Every public function of nlp.normalise that reads text, with the types it may return.
TARGETS: dict[str, tuple[Callable[[str], Any], tuple[type, ...]]] = {
    "number_from_words": (n.number_from_words, (int, type(None))),
    "ordinal_from_words": (n.ordinal_from_words, (int, type(None))),
    "digits_from_speech": (n.digits_from_speech, (str, type(None))),
    "uk_phone_from_digits": (n.uk_phone_from_digits, (str, type(None))),
    "normalise_phone": (n.normalise_phone, (str, type(None))),
    "code_symbols": (n.code_symbols, (list,)),
    "code_symbols_strict": (lambda t: n.code_symbols(t, strict_case=True), (list,)),
    "postcode_from_chars": (
        lambda t: n.postcode_from_chars(t, letter_o_as_zero=True),
        (str, type(None)),
    ),
    "registration_match": (
        lambda t: n.registration_match(t, context=True),
        (n.RegistrationFormat, type(None)),
    ),
    "registration_from_chars": (
        lambda t: n.registration_from_chars(t, context=True),
        (str, type(None)),
    ),
    "normalise_postcode": (n.normalise_postcode, (str, type(None))),
    "normalise_registration": (n.normalise_registration, (str, type(None))),
    "normalise_registration_context": (
        lambda t: n.normalise_registration(t, context=True),
        (str, type(None)),
    ),
    "normalise_road": (n.normalise_road, (str, type(None))),
    "day_part": (n.day_part, (str, type(None))),
    "normalise_time": (n.normalise_time, (str, type(None))),
    "normalise_time_night": (
        lambda t: n.normalise_time(t, day_part_hint="night"),
        (str, type(None)),
    ),
    "year_from_words": (n.year_from_words, (int, type(None))),
    "normalise_date": (
        lambda t: n.normalise_date(t, statement_date=STATEMENT_DATE),
        (date, type(None)),
    ),
    "height_cm": (n.height_cm, (int, type(None))),
    "normalise_email": (n.normalise_email, (str, type(None))),
    "title_case_name": (n.title_case_name, (str,)),
    "canonical_town": (n.canonical_town, (str, type(None))),
    "normalise_address": (n.normalise_address, (str,)),
}


def _normal_forms(text: str) -> Iterator[tuple[str, Callable[[str], str | None], str]]:
    """(name, normaliser, normal form) for each value the text reads as: each must read back
    as itself, since the extractor and the narrative writer run on text that already holds
    values written as the contract writes them."""
    readers: dict[str, Callable[[str], str | None]] = {
        "normalise_phone": n.normalise_phone,
        "normalise_postcode": n.normalise_postcode,
        "normalise_registration": n.normalise_registration,
        "normalise_registration_context": lambda t: n.normalise_registration(t, context=True),
        "normalise_road": n.normalise_road,
        "normalise_time": n.normalise_time,
        "normalise_email": n.normalise_email,
        "title_case_name": n.title_case_name,
    }
    for name, reader in readers.items():
        value = reader(text)
        if value is not None:
            yield name, reader, value
    when = n.normalise_date(text, statement_date=STATEMENT_DATE)
    if when is not None:
        written = when.isoformat()
        yield (
            "normalise_date",
            lambda t: str(n.normalise_date(t, statement_date=STATEMENT_DATE)),
            written,
        )


def _vocabulary() -> list[str]:
    words = [
        *lexicons.int_mapping("number_words"),
        *lexicons.int_mapping("ordinal_words"),
        *lexicons.mapping("nato"),
        *n.MONTHS,
        *n.WEEKDAYS,
        *("double", "treble", "triple", "hundred", "thousand", "and", "a", "oh", "o", "nought"),
        *("quarter", "half", "past", "to", "till", "after", "before", "o'clock", "hours"),
        *("am", "pm", "a.m.", "p.m.", "at", "night", "morning", "afternoon", "evening"),
        *("midnight", "noon", "midday", "yesterday", "today", "tonight", "last", "the", "of"),
        *("foot", "feet", "ft", "cm", "metres", "inches", "tall", "plus", "dot", "underscore"),
        *("near", "in", "flat", "number", "street", "road", "Kendal", "Kendall", "Carlisle"),
        *("Barrow-in-Furness", "Penrith", "Keswick", "the", "A66", "M6", "registration"),
        *("LA9 7AD", "CA11 7QT", "KX71 BRT", "AB12 CDE", "07700 900301", "+44", "10.30pm"),
        *("22:15", "21/06/1954", "2026-11-20", "1.75", "5'4\"", "tom@example.org"),
        *("0", "7", "12", "77", "123", "2026", "1981", "I", "L", "A", "Q", "Z", "O"),
    ]
    return sorted(set(words))


VOCABULARY = _vocabulary()
SEPARATORS = [" ", " ", " ", "-", ", ", ". ", "", "  ", "\n", "/", ":", "'"]

spoken_text = st.lists(
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), max_size=14
).map(lambda parts: "".join(w + s for w, s in parts).strip())

# Plates and postcodes are ASCII: the patterns' \d would also draw Arabic-Indic digits.
ASCII = st.characters(codec="ascii")
plates = st.one_of(
    *(st.from_regex(f.pattern, fullmatch=True, alphabet=ASCII) for f in n.registration_formats())
).map(lambda chars: n.registration_from_chars(chars, context=True) or "")
postcodes = st.from_regex(n._POSTCODE_RE, fullmatch=True, alphabet=ASCII).map(
    lambda chars: n.postcode_from_chars(chars) or ""
)
any_text = st.one_of(st.text(max_size=200), spoken_text, plates, postcodes)


def check_normaliser(text: str, tally: Tally) -> None:
    started = time.perf_counter()
    for name, (function, kinds) in TARGETS.items():
        result = function(text)
        assert isinstance(result, kinds), (name, text, result)
        if isinstance(result, str):
            assert result == result.strip() or name == "title_case_name", (name, text, result)
    for name, reader, value in _normal_forms(text):
        again = reader(value)
        assert again == value, f"{name}({text!r}) = {value!r}, but {name}({value!r}) = {again!r}"
    tally.count(time.perf_counter() - started)


def test_normaliser_never_raises_and_keeps_its_normal_forms(
    scale: Scale, reliability_report: Report
) -> None:
    tally = Tally()

    @fuzz_settings(scale, ci=400, full=10000, deadline_ms=1000)
    @given(any_text)
    @example("1" * 5000)  # found: int() refused a digit group past 4,300 digits (ValueError)
    def run(text: str) -> None:
        check_normaliser(text, tally)

    run()
    reliability_report.record("fuzzing", "normaliser_examples", tally.examples)
    reliability_report.record("fuzzing", "normaliser_functions", len(TARGETS))
    reliability_report.record("fuzzing", "normaliser_slowest_ms", round(tally.slowest_s * 1000, 1))
    assert tally.examples >= scale.pick(300, 8000)


def test_written_plates_and_postcodes_read_as_themselves(
    scale: Scale, reliability_report: Report
) -> None:
    """A plate or postcode already written in its normal form (as Whisper or an officer
    writes it) is read as itself: the extractor and the narrative writer rely on it."""
    tally = Tally()

    @fuzz_settings(scale, ci=300, full=5000, deadline_ms=1000)
    @given(st.one_of(plates, postcodes).filter(bool))
    @example("AB12 ONE")  # a current plate whose letters spell a number word
    @example("SIX 12A")  # a suffix plate likewise
    @example("OH12 ABC")  # letters that read as "oh", zero, when spoken
    @example("OH0 0AA")  # a postcode likewise (found by the --long run)
    def run(value: str) -> None:
        started = time.perf_counter()
        if n.postcode_from_chars(value.replace(" ", "")) == value:
            assert n.normalise_postcode(value) == value
        else:
            assert n.normalise_registration(value, context=True) == value
            if n.registration_match(value.replace(" ", "")) is not None:  # a current plate
                assert n.normalise_registration(value) == value
        tally.count(time.perf_counter() - started)

    run()
    reliability_report.record("fuzzing", "written_codes_examples", tally.examples)
    assert tally.examples >= scale.pick(200, 3000)


LONG_TEXT = 10_000

# What the fuzzers found, for the report: each is kept above as an explicit example or case.
FINDINGS = {
    "fixed": [
        "nlp/normalise.py number_from_words/ordinal_from_words: ValueError from int() on a "
        "digit group over 4,300 digits",
        "nlp/normalise.py normalise_registration: a plate written in capitals whose letters "
        "spell a number word ('AB12 ONE') read as another plate ('AB 121') or none",
        "transcription/audio.py decode_audio/probe_duration: AttributeError (not AudioError) "
        "for a WAV naming a codec FFmpeg does not know",
    ],
    "open": [],
}


def _long(unit: str) -> str:
    return (unit * (LONG_TEXT // max(len(unit), 1) + 1))[:LONG_TEXT]


# Inputs shaped against the patterns' repeats: long runs that almost match, then fail late.
ADVERSARIAL_UNITS = [
    "a",
    " ",
    "1",
    "1 ",
    "twenty ",
    "twenty-",
    "quarter past ",
    "o'clock ",
    "a@",
    "a.",
    "a@b.",
    "ab-",
    "one two ",
    "double ",
    "five foot ",
    "flat one ",
    "near ",
    " in X",
    "LA9 ",
    "1/1/",
    "1:",
    "the ",
    "x-ray ",
    "zz ",
]


def test_normaliser_finishes_10k_character_inputs_within_a_second(
    scale: Scale, reliability_report: Report
) -> None:
    tally = Tally()

    def check(text: str) -> None:
        for name, (function, _) in TARGETS.items():
            what = f"{name} on {text[:20]!r}... ({len(text)} characters)"
            _, cpu_s = within(WATCHDOG_S, what, partial(function, text))
            assert cpu_s < TEXT_BOUND_S, f"{what} took {cpu_s:.2f} s of CPU"
            tally.count(cpu_s)

    @fuzz_settings(scale, ci=8, full=200, deadline_ms=30_000)
    @given(spoken_text.filter(bool), st.sampled_from(["", "x", "!", " hours", " o'clock"]))
    def run(unit: str, tail: str) -> None:
        check(_long(unit + " ")[: LONG_TEXT - len(tail)] + tail)

    # The objects already alive (the suite's, the fuzzer's) are left out of garbage collection
    # while this runs: a full collection of them is not time the normaliser spent.
    gc.freeze()
    try:
        for unit in ADVERSARIAL_UNITS:
            check(_long(unit))
        run()
    finally:
        gc.unfreeze()
    reliability_report.record("fuzzing", "normaliser_10k_calls", tally.examples)
    reliability_report.record("fuzzing", "findings", FINDINGS)
    reliability_report.record(
        "fuzzing", "normaliser_10k_slowest_cpu_ms", round(tally.slowest_s * 1000, 1)
    )
    reliability_report.record(
        "fuzzing",
        "time_bounds",
        {
            "decoder_per_file_wall_s": AUDIO_BOUND_S,
            "normaliser_10k_chars_cpu_s": TEXT_BOUND_S,
            "hang_watchdog_s": WATCHDOG_S,
            "normaliser_deadline_ms": 1000,
        },
    )
    assert tally.examples >= len(ADVERSARIAL_UNITS) * len(TARGETS)
