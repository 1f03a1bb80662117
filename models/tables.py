"""Where statements live: the SQLAlchemy tables behind the service.

The evidence record is split the way a court reads it: the machine draft (version 1) and each
officer edit (a further version holding who, when, and each field's old and new value) are rows
that are only ever added, never rewritten; the confirmation holds the exact content the witness
accepted and its SHA-256. Jobs, progress events and the delivery outbox are tables too, so that
every worker process, embedded or distributed, reads the same durable state.

The schema is created and changed only by the Alembic migrations in ``models/migrations``.
"""

from __future__ import annotations

import json
import weakref
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ContentSealer(Protocol):
    """Encrypts what a column holds before it reaches the database, and decrypts it on the way
    back. ``label`` names the column: it is bound into the ciphertext, so a value cannot be
    moved to another column unnoticed. The implementation (AES-GCM under data keys wrapped by a
    key-encryption key) is ``security.crypto``."""

    def seal(self, plaintext: bytes, *, label: str) -> bytes: ...

    def open(self, sealed: bytes, *, label: str) -> bytes: ...


class SealerMissing(RuntimeError):
    """Content columns were read or written through an engine with no sealer attached."""


# One sealer per engine (keyed by its dialect instance, which each engine has its own of): two
# services in one process (tests, or an API and an embedded worker) may hold different keys.
_SEALERS: weakref.WeakKeyDictionary[Dialect, ContentSealer] = weakref.WeakKeyDictionary()
SEALED_PREFIX = b"vs-sealed:"


def attach_sealer(dialect: Dialect, sealer: ContentSealer) -> None:
    """Encrypt content columns on every connection of the engine this dialect belongs to."""
    _SEALERS[dialect] = sealer


def _sealer(dialect: Dialect) -> ContentSealer:
    try:
        return _SEALERS[dialect]
    except KeyError:
        raise SealerMissing(
            "statement content is encrypted at rest, and this database engine has no key: "
            "open it through workflow.services.Services (which attaches one)"
        ) from None


def _as_bytes(value: Any) -> bytes:
    # SQLite hands back TEXT for a value written before its column became binary.
    return value.encode() if isinstance(value, str) else bytes(value)


class SealedBytes(TypeDecorator[bytes]):
    """Bytes encrypted at rest. A value written before encryption was switched on (no prefix) is
    read as it is, and is sealed by ``voice-statement keys rotate``."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return SEALED_PREFIX + _sealer(dialect).seal(bytes(value), label=self.label)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        value = _as_bytes(value)
        if not value.startswith(SEALED_PREFIX):
            return value
        return _sealer(dialect).open(value[len(SEALED_PREFIX) :], label=self.label)


class SealedJSON(TypeDecorator[Any]):
    """A JSON value encrypted at rest, kept in a binary column."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return SEALED_PREFIX + _sealer(dialect).seal(plaintext, label=self.label)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = _as_bytes(value)
        if value.startswith(SEALED_PREFIX):
            value = _sealer(dialect).open(value[len(SEALED_PREFIX) :], label=self.label)
        return json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class StatementStatus(StrEnum):
    """The lifecycle, enforced by the service: received → transcribing → draft → confirmed →
    submitted, or failed; any of them → erased."""

    RECEIVED = "received"
    TRANSCRIBING = "transcribing"
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    SUBMITTED = "submitted"
    FAILED = "failed"
    ERASED = "erased"  # content and audio removed by retention or an administrator


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # attempts exhausted, or refused for good (a 4xx)
    NO_DESTINATION = "no_destination"  # nothing configured to send it to


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class StatementRecord(Base):
    __tablename__ = "statements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    template: Mapped[str] = mapped_column(String(32), index=True)
    statement_date: Mapped[date] = mapped_column(Date, index=True)
    officer: Mapped[str] = mapped_column(String(200), index=True)  # the owner's name, as shown
    # The owning officer's user id and unit: who may see the statement (None: recorded before
    # accounts existed; only its officer's name is known).
    officer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    unit: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when retention or an administrator erased the content and audio; the row stays so
    # that the audit log's references resolve, with nothing personal left in it.
    erased_at: Mapped[datetime | None] = mapped_column()

    # The original upload, kept byte for byte in the audio store under ``audio_key``.
    audio_key: Mapped[str] = mapped_column(String(200))
    audio_sha256: Mapped[str] = mapped_column(String(64))
    audio_bytes: Mapped[int] = mapped_column(BigInteger)
    audio_filename: Mapped[str | None] = mapped_column(String(255))
    audio_content_type: Mapped[str | None] = mapped_column(String(100))
    audio_duration_s: Mapped[float | None] = mapped_column(Float)
    # How many voices the recording holds, as the officer said when sending it: None for one
    # voice (a dictation), "2".."6", or "auto" to count them. Drafting tells them apart.
    speakers: Mapped[str | None] = mapped_column(String(8))

    # The machine transcript (Transcript.to_dict), kept apart from every version of the text.
    transcript: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON("statements.transcript"))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)

    versions: Mapped[list[StatementVersion]] = relationship(
        back_populates="statement", order_by="StatementVersion.number"
    )
    confirmation: Mapped[Confirmation | None] = relationship(back_populates="statement")


class StatementVersion(Base):
    """Version 1 is the machine draft; each later one is an officer's edit."""

    __tablename__ = "statement_versions"
    __table_args__ = (UniqueConstraint("statement_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # "machine" or "edit"
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the contract JSON, less transcript
    content: Mapped[dict[str, Any]] = mapped_column(SealedJSON("statement_versions.content"))
    # [{field, old, new}]
    changes: Mapped[list[Any]] = mapped_column(
        SealedJSON("statement_versions.changes"), default=list
    )

    statement: Mapped[StatementRecord] = relationship(back_populates="versions")


class Confirmation(Base):
    """What the witness accepted: the content, its hash, the declaration and who took it."""

    __tablename__ = "confirmations"

    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.id"), primary_key=True)
    officer: Mapped[str] = mapped_column(String(200))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    place: Mapped[str | None] = mapped_column(SealedJSON("confirmations.place"))
    version_number: Mapped[int] = mapped_column(Integer)
    witness_declaration_accepted: Mapped[bool] = mapped_column(Boolean)
    declaration: Mapped[str] = mapped_column(Text)
    page_count: Mapped[int] = mapped_column(Integer)
    signature_png: Mapped[bytes | None] = mapped_column(SealedBytes("confirmations.signature"))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    # exactly what was hashed
    content: Mapped[dict[str, Any]] = mapped_column(SealedJSON("confirmations.content"))
    content_sha256: Mapped[str] = mapped_column(String(64))

    statement: Mapped[StatementRecord] = relationship(back_populates="confirmation")


class Job(Base):
    """Background work on a statement, claimed under a lease so that it finishes exactly once."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class StatementEvent(Base):
    """Progress and lifecycle events, read by the SSE stream and the poll endpoint."""

    __tablename__ = "statement_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to another system, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "submission" or "referral"
    destination: Mapped[str | None] = mapped_column(String(1000))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON("outbox.payload"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class AudioBlob(Base):
    """Audio kept in the database itself: the store every distributed worker can reach."""

    __tablename__ = "audio_blobs"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- accounts, audit, keys, retention (issue 5) ---


class User(Base):
    """A local account. Its API tokens and web password are kept only as argon2 hashes."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    roles: Mapped[list[Any]] = mapped_column(JSON)  # [Role values]
    unit: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    # The officer's enrolled voice (``VoiceEmbedding.to_dict``: a voice print and the encoder
    # that made it; never the sample's audio), to know which voice of a recording is theirs.
    # Biometric data: sealed at rest like statement content.
    voice_embedding: Mapped[dict[str, Any] | None] = mapped_column(
        SealedJSON("users.voice_embedding")
    )
    voice_enrolled_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    """A bearer token ``vs_<id>_<secret>``: the id finds the row, argon2 checks the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie value is kept."""

    __tablename__ = "web_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log (DPA 2018 s.62).

    ``entry_hash`` is the SHA-256 of the previous entry's hash and this entry's canonical
    fields, so that changing, removing or reordering any entry breaks every hash after it.
    Entries hold no statement content: only who, when, what, which statement and why.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[str] = mapped_column(String(200), index=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_roles: Mapped[list[Any]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(16), index=True)  # s.62 category
    operation: Mapped[str] = mapped_column(String(64))  # e.g. statement.view, audio.play
    statement_id: Mapped[str | None] = mapped_column(String(36), index=True)
    justification: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row holding the chain's last sequence number and hash. Appending updates it
    first, which serialises concurrent appends on every backend (a row lock on PostgreSQL,
    the write lock on SQLite)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class DataKey(Base):
    """A data-encryption key, stored only wrapped (AES-GCM) by a key-encryption key.

    Rotating the key-encryption key re-wraps these rows; the audio and content they encrypt are
    not touched. Deleting a row makes what it encrypted unreadable for good.
    """

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "content" or "audio"
    kek_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()  # no longer used for new content


class RetentionPolicy(Base):
    """How long things are kept, set by an administrator (one row; absent: the defaults)."""

    __tablename__ = "retention_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_days: Mapped[int] = mapped_column(Integer)
    unconfirmed_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


# --- resumable uploads (issue 6) ---


class UploadSession(Base):
    """A recording arriving in pieces over a poor signal (``/api/v1/uploads``).

    ``received`` is how many bytes have arrived, always the offset the next piece must start
    at: it only ever moves forward, by a guarded UPDATE, so two copies of one piece sent at
    once append it once. When it reaches ``size`` the pieces are assembled into the audio
    store, checked against the declared ``sha256`` and made a statement (``statement_id``).

    Assembly is claimed under a lease (``assembly_token``, ``assembly_expires_at``) so that two
    requests finishing the same upload make one statement. ``audio_key`` is set once the
    assembled recording is in the audio store and before its statement is created: an
    assembly that died in between is recognised (a statement holds that key, or none does).
    """

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(32))
    statement_date: Mapped[date] = mapped_column(Date)
    size: Mapped[int] = mapped_column(BigInteger)  # declared by the client
    sha256: Mapped[str] = mapped_column(String(64))  # declared by the client, lowercase hex
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    speakers: Mapped[str | None] = mapped_column(String(8))  # as ``StatementRecord.speakers``
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last piece's arrival: an upload untouched for long is abandoned (and expires).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    assembly_token: Mapped[str | None] = mapped_column(String(36))
    assembly_expires_at: Mapped[datetime | None] = mapped_column()
    audio_key: Mapped[str | None] = mapped_column(String(200))
    statement_id: Mapped[str | None] = mapped_column(String(36))


class UploadChunk(Base):
    """One piece of an upload, encrypted at rest until the recording is assembled. At most one
    piece starts at each offset of an upload (the unique constraint); the surrogate ``id`` is
    the single-column key that ``voice-statement keys rotate`` pages sealed tables by."""

    __tablename__ = "upload_chunks"
    __table_args__ = (UniqueConstraint("upload_id", "offset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upload_id: Mapped[str] = mapped_column(ForeignKey("upload_sessions.id"))
    offset: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(SealedBytes("upload_chunks.data"))
