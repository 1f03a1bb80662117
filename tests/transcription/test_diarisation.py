"""Telling voices apart, on the project's synthetic two-voice dialogues (tests/fixtures/
dialogues, made by scripts/make_dialogues.py): the real Whisper model, the real speaker encoder,
real audio."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from models import OFFICER, Transcript, Word
from tests.conftest import FIXTURES
from transcription.audio import decode_audio
from transcription.diarisation import (
    DiarisationOptions,
    ResemblyzerEncoder,
    VoiceEmbedding,
    diarise,
    enrol_voice,
    load_speaker_encoder,
)
from transcription.errors import ModelError
from transcription.transcribe import speech_regions
from transcription.vad import SpeechRegion, VadOptions
from workflow.pipeline import StatementPipeline

DIALOGUES = FIXTURES / "dialogues"

pytestmark = pytest.mark.slow


def gold(name: str) -> dict[str, Any]:
    return dict(json.loads((DIALOGUES / f"{name}.json").read_text()))


def gold_role(word: Word, turns: list[dict[str, Any]]) -> str:
    """The role of the gold turn the word's middle falls in (or is nearest to)."""
    middle = (word.start + word.end) / 2

    def distance(turn: dict[str, Any]) -> float:
        return max(turn["start"] - middle, middle - turn["end"], 0.0)

    return str(min(turns, key=distance)["role"])


def attribution(transcript: Transcript, turns: list[dict[str, Any]]) -> float:
    """Share of words whose speaker is the right one, under the best naming of the voices."""
    pairs = Counter((gold_role(w, turns), w.speaker) for w in transcript.words)
    voices = sorted({s for _, s in pairs}, key=str)
    roles = sorted({r for r, _ in pairs})
    best = max(
        sum(
            n
            for (role, voice), n in pairs.items()
            if dict(zip(voices, p, strict=False)).get(voice) == role
        )
        for p in itertools.permutations(
            roles + [""] * max(0, len(voices) - len(roles)), len(voices)
        )
    )
    return best / sum(pairs.values())


class Heard:
    def __init__(self, pipeline: StatementPipeline, name: str) -> None:
        path = DIALOGUES / f"{name}.ogg"
        self.audio = decode_audio(path)
        self.regions = speech_regions(self.audio.samples, VadOptions())
        self.transcript = pipeline.transcribe(path)
        self.turns = gold(name)["turns"]


@pytest.fixture(scope="module")
def d01(faster_pipeline: StatementPipeline) -> Heard:
    return Heard(faster_pipeline, "d01")


def enrolment(name: str) -> VoiceEmbedding:
    sample = decode_audio(DIALOGUES / gold(name)["officer_enrolment"])
    return enrol_voice(
        sample.samples, speech_regions(sample.samples, VadOptions()), load_speaker_encoder()
    )


def test_every_word_goes_to_the_voice_that_said_it(d01: Heard) -> None:
    found = diarise(d01.audio.samples, d01.regions, d01.transcript, load_speaker_encoder())
    transcript = found.transcript
    assert {w.speaker for w in transcript.words} == {"S1", "S2"}
    assert attribution(transcript, d01.turns) >= 0.95
    # turns alternate, and their words are the transcript's words, none lost or added
    assert all(a.speaker != b.speaker for a, b in itertools.pairwise(transcript.turns))
    # (compared without spaces: a turn may begin inside what Whisper wrote as one token, as in
    # a postcode spelled "C-A-1-2-B-S" whose "C" the officer's turn ends with)
    joined = "".join(t.text for t in transcript.turns)
    assert joined.replace(" ", "") == transcript.text.replace(" ", "")
    # the officer speaks first in every dialogue: S1 asks the first question
    assert transcript.turns[0].speaker == "S1" and transcript.turns[0].text.endswith("?")
    # the JSON keeps a speaker on every word, and reads back the same
    again = Transcript.from_dict(json.loads(json.dumps(transcript.to_dict())))
    assert again.to_dict() == transcript.to_dict() and again.turns == transcript.turns


def test_the_enrolled_officer_is_found_and_a_stranger_is_not(d01: Heard) -> None:
    encoder = load_speaker_encoder()
    officer = diarise(
        d01.audio.samples, d01.regions, d01.transcript, encoder, officer_voice=enrolment("d01")
    ).transcript
    matched = [s for s in officer.speakers if s.role == OFFICER]
    assert len(matched) == 1 and matched[0].role_basis == "enrolled_voice" and matched[0].confirmed
    assert matched[0].similarity is not None and matched[0].similarity >= 0.75
    officer_words = [w for w in officer.words if w.speaker == matched[0].id]
    said_by_officer = [gold_role(w, d01.turns) == OFFICER for w in officer_words]
    assert sum(said_by_officer) >= 0.95 * len(officer_words)

    # the other voice is nothing like the enrolled one
    others = [s for s in officer.speakers if s.role != OFFICER]
    assert all(s.similarity is not None and s.similarity < 0.75 for s in others)

    # The match follows the voice, not who speaks first or asks: "enrolling" the witness's
    # voice (its monologue) marks the voice that answers.
    witness_sample = decode_audio(DIALOGUES / "d01_monologue.ogg")
    witness_voice = enrol_voice(
        witness_sample.samples,
        speech_regions(witness_sample.samples, VadOptions()),
        encoder,
    )
    swapped = diarise(
        d01.audio.samples, d01.regions, d01.transcript, encoder, officer_voice=witness_voice
    ).transcript
    (marked,) = [s for s in swapped.speakers if s.role == OFFICER]
    answers = [gold_role(w, d01.turns) for w in swapped.words if w.speaker == marked.id]
    assert answers.count("witness") >= 0.95 * len(answers)


def test_a_third_voice_is_counted_when_asked_to_count(faster_pipeline: StatementPipeline) -> None:
    d06 = Heard(faster_pipeline, "d06")
    assert {t["role"] for t in d06.turns} == {"officer", "witness", "other"}
    encoder = load_speaker_encoder()
    counted = diarise(
        d06.audio.samples,
        d06.regions,
        d06.transcript,
        encoder,
        options=DiarisationOptions(speakers=None),
    ).transcript
    assert len(counted.speakers) == 3
    assert attribution(counted, d06.turns) >= 0.95


def test_an_enrolment_sample_must_hold_a_few_seconds_of_speech() -> None:
    sample = decode_audio(DIALOGUES / gold("d01")["officer_enrolment"])
    short = [SpeechRegion(0, 16_000)]
    with pytest.raises(ModelError) as caught:
        enrol_voice(sample.samples, short, load_speaker_encoder())
    assert caught.value.code == "enrolment_too_short"


def test_a_voice_enrolled_with_another_encoder_is_refused(d01: Heard) -> None:
    foreign = replace(enrolment("d01"), encoder="other-encoder", encoder_sha256="0" * 64)
    with pytest.raises(ModelError) as caught:
        diarise(
            d01.audio.samples,
            d01.regions,
            d01.transcript,
            load_speaker_encoder(),
            officer_voice=foreign,
        )
    assert caught.value.code == "voice_encoder_mismatch"
    # and a stored embedding that is not one is refused when read back
    with pytest.raises(ModelError) as bad:
        VoiceEmbedding.from_dict({"vector": "loud"})
    assert bad.value.code == "voice_embedding_invalid"


def test_speakers_must_be_a_sensible_number() -> None:
    for wrong in (0, 7):
        with pytest.raises(ModelError) as caught:
            DiarisationOptions(speakers=wrong)
        assert caught.value.code == "speakers_invalid"


def test_the_encoder_weights_are_checked_against_their_pin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ResemblyzerEncoder, "sha256", "0" * 64)
    with pytest.raises(ModelError) as caught:
        ResemblyzerEncoder()
    assert caught.value.code == "speaker_encoder_checksum"


def test_silence_and_no_words_give_the_transcript_back_unchanged(d01: Heard) -> None:
    empty = replace(d01.transcript, segments=())
    found = diarise(d01.audio.samples, d01.regions, empty, load_speaker_encoder())
    assert found.transcript == empty and found.voices == {}
    quiet = np.zeros(16_000 * 3, dtype=np.float32)
    nothing = diarise(quiet, [], d01.transcript, load_speaker_encoder())
    assert nothing.transcript == d01.transcript
