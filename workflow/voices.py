"""An officer's enrolled voice: kept in their account, used to tell their voice in a recording.

An officer reads a few sentences once; the sample is decoded, turned into a voice embedding by
the speaker encoder (``StatementPipeline.enrol``) and only that embedding is kept, sealed at
rest in ``users.voice_embedding`` (biometric data, like statement content). The sample's audio
is never kept: it lives in a private temporary file for the seconds the encoder needs it.

When a recording with several voices is drafted (``speakers`` on the statement), the owning
officer's enrolled voice tells which voice is theirs, so their questions stay out of the
statement by voice rather than by a guess from who asked them. Enrolment and removal are
written to the audit log in the same transaction as the change, like every account change.
"""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import User, utcnow
from models.users import Principal
from security import audit
from security.accounts import normalise_name
from security.audit import AuditAction
from transcription.audio import probe_duration
from transcription.diarisation import MAX_SPEAKERS, DiarisationOptions, VoiceEmbedding
from transcription.errors import ModelError
from workflow.database import Database
from workflow.pipeline import StatementPipeline

log = logging.getLogger(__name__)

SPEAKER_CHOICES: tuple[str, ...] = (*(str(n) for n in range(2, MAX_SPEAKERS + 1)), "auto")
"""What a recording's ``speakers`` may be: a number of voices, or ``auto`` to count them (one
voice, a dictation, is no value at all)."""
SPEAKERS_PATTERN = rf"^([2-{MAX_SPEAKERS}]|auto)?$"
"""``SPEAKER_CHOICES`` as a pattern, for request schemas (empty: one voice, as a form's blank
choice sends it)."""

MAX_ENROLMENT_S = 120.0
"""The longest enrolment sample taken: a few sentences are 10 to 30 seconds; more adds nothing
to the voice print and only costs decoding time."""
MAX_ENROLMENT_BYTES = 20 * 1024 * 1024
"""The largest enrolment sample taken (two minutes of WAV at 48 kHz stereo is about 23 MB;
any compressed phone recording of that length is far smaller)."""


class VoiceError(Exception):
    """An enrolment request that cannot be done; ``code`` is stable, ``message`` says why.

    Codes: ``speakers_invalid``, ``no_such_user``, ``no_local_account``, ``no_enrolled_voice``,
    ``enrolment_too_long``, ``enrolment_too_large``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VoiceStatus:
    """Whether an account has an enrolled voice, when, and made by which encoder: never the
    voice print itself."""

    user: str
    enrolled: bool
    enrolled_at: datetime | None = None
    encoder: str | None = None
    encoder_sha256: str | None = None
    speech_s: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "enrolled": self.enrolled,
            "enrolled_at": self.enrolled_at.isoformat() if self.enrolled_at else None,
            "encoder": self.encoder,
            "encoder_sha256": self.encoder_sha256,
            "speech_s": self.speech_s,
        }


def parse_speakers(text: str | None) -> str | None:
    """A recording's ``speakers`` as stored: None (one voice), "2".."6" or "auto". Raises
    ``VoiceError`` ``speakers_invalid`` for anything else."""
    if text is None:
        return None
    value = text.strip().lower()
    if not value:
        return None
    if value not in SPEAKER_CHOICES:
        raise VoiceError(
            "speakers_invalid",
            f"speakers must be a number from 2 to {MAX_SPEAKERS}, or auto: got {text!r}",
        )
    return value


def diarisation_options(speakers: str | None) -> DiarisationOptions | None:
    """The diarisation a stored ``speakers`` value asks for (None: one voice, none)."""
    if speakers is None:
        return None
    if speakers == "auto":
        return DiarisationOptions(speakers=None)
    return DiarisationOptions(speakers=int(speakers))


def _status(user: User) -> VoiceStatus:
    stored = user.voice_embedding
    if not stored:
        return VoiceStatus(user=user.name, enrolled=False)
    return VoiceStatus(
        user=user.name,
        enrolled=True,
        enrolled_at=user.voice_enrolled_at,
        encoder=stored.get("encoder"),
        encoder_sha256=stored.get("encoder_sha256"),
        speech_s=stored.get("speech_s"),
    )


@dataclass(frozen=True)
class Account:
    """Whose voice: a local account by its id (the caller of the API; ``name`` only shows it)
    or, without an id, by its name (the command line)."""

    user_id: str | None = None
    name: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Account:
        return cls(user_id=principal.user_id, name=principal.name)

    @classmethod
    def named(cls, name: str) -> Account:
        return cls(name=normalise_name(name))

    def find(self, session: Session, *, for_update: bool = False) -> User:
        query = select(User)
        query = query.where(User.id == self.user_id if self.user_id else User.name == self.name)
        if for_update:
            query = query.with_for_update()
        user = session.scalars(query).one_or_none()
        if user is not None:
            return user
        if self.user_id is not None:
            # Signed in through OpenID Connect: there is no local account to keep a voice in.
            raise VoiceError(
                "no_local_account",
                "an enrolled voice is kept in a local account, and you signed in without one: "
                "ask an administrator for a local account",
            )
        raise VoiceError("no_such_user", f"there is no user named {self.name!r}")


class VoiceService:
    """Enrol, read and remove an officer's voice, each change in one transaction with its
    audit entry.

    lock: held while the encoder runs (``Services.pipeline_lock``): on a small machine the
    models take turns rather than fight over the cores.
    """

    def __init__(
        self,
        database: Database,
        pipeline: StatementPipeline,
        *,
        lock: threading.Lock | None = None,
        temp_dir: Path | None = None,
    ) -> None:
        self.database = database
        self.pipeline = pipeline
        self.lock = lock
        self.temp_dir = temp_dir

    def status(self, account: Account) -> VoiceStatus:
        with self.database.session() as session:
            try:
                return _status(account.find(session))
            except VoiceError as exc:
                if exc.code != "no_local_account":
                    raise
                return VoiceStatus(user=account.name or "", enrolled=False)

    def enrol_file(self, account: Account, audio_path: Path, *, actor: Principal) -> VoiceStatus:
        """Enrol the voice of the sample at ``audio_path`` (the file is only read), replacing
        any enrolled before. Raises ``VoiceError`` (``enrolment_too_long``, account codes),
        ``AudioError`` for a file that is not usable audio, and ``ModelError``
        ``enrolment_too_short`` for a sample with under 3 s of speech."""
        with self.database.session() as session:
            account.find(session)  # an unknown account is refused before the encoder runs
        duration = probe_duration(audio_path)
        if duration is not None and duration > MAX_ENROLMENT_S:
            raise VoiceError(
                "enrolment_too_long",
                f"the enrolment sample lasts {duration:.0f} s; read a few sentences, at most "
                f"{MAX_ENROLMENT_S:.0f} s",
            )
        with self.lock or nullcontext():
            embedding = self.pipeline.enrol(audio_path)
        with self.database.session() as session:
            user = account.find(session, for_update=True)
            replaced = user.voice_embedding is not None
            user.voice_embedding = embedding.to_dict()
            user.voice_enrolled_at = utcnow()
            audit.record(
                session,
                actor,
                AuditAction.COLLECTION,
                "user.voice_enrol",
                detail={
                    "user": user.name,
                    "encoder": embedding.encoder,
                    "speech_s": round(embedding.speech_s, 1),
                    "replaced": replaced,
                },
            )
            return _status(user)

    def enrol_upload(
        self, account: Account, sample: BinaryIO, *, actor: Principal, suffix: str = ""
    ) -> VoiceStatus:
        """Enrol the voice of a sample sent as a stream: copied to a private temporary file
        (refused past ``MAX_ENROLMENT_BYTES``), enrolled, and the file deleted whatever
        happens."""
        with self._sample_file(sample, suffix=suffix) as path:
            return self.enrol_file(account, path, actor=actor)

    @contextmanager
    def _sample_file(self, sample: BinaryIO, *, suffix: str) -> Iterator[Path]:
        if self.temp_dir is not None:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
        # The decoder reads a file; mkstemp makes it readable by this user only.
        fd, name = tempfile.mkstemp(prefix="vs-enrol-", suffix=suffix[:16], dir=self.temp_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                copied = 0
                while block := sample.read(1 << 20):
                    copied += len(block)
                    if copied > MAX_ENROLMENT_BYTES:
                        raise VoiceError(
                            "enrolment_too_large",
                            f"the enrolment sample is larger than {MAX_ENROLMENT_BYTES} bytes: "
                            f"read a few sentences, at most {MAX_ENROLMENT_S:.0f} s",
                        )
                    out.write(block)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def remove(self, account: Account, *, actor: Principal) -> bool:
        """Forget the account's enrolled voice; False when there was none (nothing logged)."""
        with self.database.session() as session:
            user = account.find(session, for_update=True)
            if user.voice_embedding is None:
                return False
            user.voice_embedding = None
            user.voice_enrolled_at = None
            audit.record(
                session, actor, AuditAction.ERASURE, "user.voice_remove", detail={"user": user.name}
            )
            return True


def stored_voice(user: User) -> VoiceEmbedding | None:
    """The account's enrolled voice, or None when there is none."""
    if not user.voice_embedding:
        return None
    return VoiceEmbedding.from_dict(user.voice_embedding)


def enrolled_voice(database: Database, account: Account) -> VoiceEmbedding:
    """The account's enrolled voice, for ``transcribe --officer``. Raises ``VoiceError``
    ``no_such_user`` or ``no_enrolled_voice``."""
    with database.session() as session:
        user = account.find(session)
        voice = stored_voice(user)
        if voice is None:
            raise VoiceError(
                "no_enrolled_voice",
                f"{user.name!r} has no enrolled voice: enrol one with "
                f"`voice-statement users enrol {shlex.quote(user.name)} SAMPLE`",
            )
        return voice


def officer_voice_for(
    database: Database, user_id: str | None, *, encoder_sha256: str
) -> VoiceEmbedding | None:
    """The enrolled voice of a statement's officer, for drafting: None when the statement has
    no local owner, the owner has no enrolled voice, or it was made by another encoder than
    the one that will compare it (``encoder_sha256``); then roles are only proposed, and the
    officer confirms them. Never raises for a stored voice that cannot be used: it is logged."""
    if user_id is None:
        return None
    with database.session() as session:
        user = session.get(User, user_id)
        if user is None or user.voice_embedding is None:
            return None
        try:
            voice = stored_voice(user)
        except ModelError:
            log.warning("the enrolled voice of user %s cannot be read; not used", user_id)
            return None
    if voice is not None and voice.encoder_sha256 != encoder_sha256:
        log.warning(
            "the enrolled voice of user %s was made by %s, not the encoder in use: not used "
            "(the officer should enrol again)",
            user_id,
            voice.encoder,
        )
        return None
    return voice


__all__ = [
    "MAX_ENROLMENT_BYTES",
    "MAX_ENROLMENT_S",
    "SPEAKERS_PATTERN",
    "SPEAKER_CHOICES",
    "Account",
    "VoiceError",
    "VoiceService",
    "VoiceStatus",
    "diarisation_options",
    "enrolled_voice",
    "officer_voice_for",
    "parse_speakers",
    "stored_voice",
]
