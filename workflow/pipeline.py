"""The statement pipeline: a recording (or a text) in, a draft Statement out.

Models load once per ``StatementPipeline`` and stay warm for every recording it handles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

from models import Flag, Statement, Template, Transcript
from nlp import Extractor, load_extractor
from transcription.audio import decode_audio
from transcription.engines import DecodingOptions, Engine, ProgressCallback, load_engine
from transcription.provisioning import ModelStore
from transcription.transcribe import transcribe_audio
from transcription.vad import VadOptions
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


class StatementPipeline:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.store = ModelStore(self.settings.data_dir)

    @cached_property
    def engine(self) -> Engine:
        s = self.settings
        resolved = self.store.resolve(s.model, engine=s.engine)
        return load_engine(
            resolved,
            compute_type=s.compute_type,
            device=s.device,
            threads=s.threads,
            download_root=str(self.store.models_dir / "openai"),
        )

    @cached_property
    def extractor(self) -> Extractor:
        return load_extractor(self.settings.spacy_model)

    @cached_property
    def initial_prompt(self) -> str | None:
        return build_prompt(load_vocabulary(self.settings.vocabulary_file))

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
            initial_prompt=request.initial_prompt or self.initial_prompt,
        )
        vad = VadOptions() if request.use_vad else None
        return transcribe_audio(
            audio, self.engine, decoding=decoding, vad=vad, progress=progress, on_speech=on_speech
        )

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
