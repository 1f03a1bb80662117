"""Resumable uploads: a recording sent in pieces over one bar of signal, resumed where it stopped.

An officer's phone declares the recording (its size and SHA-256) and sends it in pieces, each
at the offset the service says it has reached. A piece is kept only when it starts exactly
there: the offset moves forward by a guarded UPDATE in the same transaction that stores the
piece, so a piece sent twice at once (a retry racing the original) is kept once, and a piece
that would leave a gap is refused with the offset to resume from. Pieces are sealed
(encrypted) at rest like every other content column (``models.tables.SealedBytes``).

When the last byte has arrived the recording is assembled: the pieces are read back in order
through :class:`ChunkReader`, a file over the rows that holds at most a few pieces in memory,
into the audio store's ``save`` (which encrypts and hashes it as it streams); the API compares
the hash with the declared one and makes the statement exactly as a single-request upload does.
Assembly is claimed under a short lease so that two requests finishing one upload make one
statement, and the stored recording's key is written down before its statement is created so
that an assembly interrupted between the two is recognised when it is tried again.

An upload nobody touched for ``UPLOAD_EXPIRY`` is abandoned: the retention sweep removes it
(:func:`expire_uploads`), its pieces with it.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.statement import Template
from models.tables import StatementRecord, UploadChunk, UploadSession, utcnow
from models.users import SYSTEM, Principal
from security import audit
from security.audit import AuditAction
from workflow import access
from workflow.access import Permission
from workflow.audio_store import AudioStore
from workflow.database import Database

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 1024 * 1024
"""The largest piece one request may carry (1 MiB): enough to finish quickly on a good
signal, small enough that a piece lost to a dropped connection costs little to send again,
and bounded memory per request on the server."""

UPLOAD_EXPIRY = timedelta(days=7)
"""An upload that received nothing for this long is abandoned: its pieces are removed. A week
covers an officer who is off shift or out of signal for days, and keeps encrypted fragments of
recordings no longer than that."""

ASSEMBLY_LEASE = timedelta(minutes=5)
"""How long one request may hold the assembly of an upload (reading the pieces into the audio
store and making the statement takes seconds even at the size limit). Past it, the holder is
presumed dead and the next request for the upload assembles it again."""

_READ_BATCH = 4
"""Pieces read per query while assembling: at most ``_READ_BATCH * MAX_CHUNK_BYTES`` in
memory."""


class UploadNotFound(LookupError):
    """No upload with this id, or none of the caller's: the two are never told apart."""


class OffsetMismatch(Exception):
    """A piece that does not start where the upload has got to; ``current`` is where it has."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the upload has received {current} bytes; send from offset {current}")
        self.current = current


class ChunkTooLarge(Exception):
    """A piece longer than ``MAX_CHUNK_BYTES``, or one that runs past the declared size."""


class UploadIncomplete(RuntimeError):
    """A piece the upload's offset says was received is not in the table."""


@dataclass(frozen=True)
class UploadState:
    """What the client is told: how far the upload has got and, once complete, its statement.

    statement_status: the statement's status now (None until there is one).
    """

    id: str
    offset: int
    size: int
    sha256: str
    statement_id: str | None
    statement_status: str | None

    @property
    def complete(self) -> bool:
        return self.statement_id is not None

    @property
    def ready(self) -> bool:
        """Every byte has arrived and no statement has been made of them yet."""
        return self.statement_id is None and self.offset == self.size


@dataclass(frozen=True)
class Assembly:
    """The claim on one upload's assembly, and what the statement is to be made with.

    previous_audio_key: the recording an earlier assembly stored before it was interrupted
        (None: there was none); see :meth:`UploadService.statement_with_audio`.
    """

    upload_id: str
    token: str
    size: int
    sha256: str
    template: Template
    statement_date: date
    filename: str | None
    content_type: str | None
    previous_audio_key: str | None
    speakers: str | None = None


class ChunkReader(io.RawIOBase):
    """A read-only file over an upload's pieces, in offset order, for the audio store's
    ``save``. Each query reads a few pieces on a short connection of its own: the whole
    recording is never in memory, and no transaction is held open while the store writes."""

    def __init__(self, database: Database, upload_id: str, size: int) -> None:
        super().__init__()
        self._database = database
        self._upload_id = upload_id
        self._size = size
        self._next = 0  # the offset of the next piece to fetch
        self._pieces: list[bytes] = []
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fetch(self) -> None:
        with self._database.engine.connect() as connection:
            rows = connection.execute(
                select(UploadChunk.offset, UploadChunk.data)
                .where(UploadChunk.upload_id == self._upload_id, UploadChunk.offset >= self._next)
                .order_by(UploadChunk.offset)
                .limit(_READ_BATCH)
            ).all()
        for offset, data in rows:
            if offset != self._next:  # pieces are kept only where the last one ended
                raise UploadIncomplete(
                    f"upload {self._upload_id} has no piece at byte {self._next}"
                )
            self._pieces.append(bytes(data))
            self._next += len(data)
        if not rows:
            raise UploadIncomplete(f"upload {self._upload_id} has no piece at byte {self._next}")

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._pending:
            if not self._pieces:
                if self._next >= self._size:
                    return 0
                self._fetch()
            self._pending = memoryview(self._pieces.pop(0))
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _statement_status(session: Session, statement_id: str | None) -> str | None:
    if statement_id is None:
        return None
    return session.scalar(select(StatementRecord.status).where(StatementRecord.id == statement_id))


def _state(session: Session, row: UploadSession) -> UploadState:
    return UploadState(
        id=row.id,
        offset=row.received,
        size=row.size,
        sha256=row.sha256,
        statement_id=row.statement_id,
        statement_status=_statement_status(session, row.statement_id),
    )


class _LostRace(Exception):
    """Another request moved the offset between this one's read and its write."""


class UploadService:
    """Every change to an upload, in one transaction each. Only the upload's owner reaches it."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @staticmethod
    def _owned(session: Session, upload_id: str, actor: Principal) -> UploadSession:
        row = session.scalars(
            select(UploadSession).where(
                UploadSession.id == upload_id, UploadSession.owner_id == actor.user_id
            )
        ).one_or_none()
        if row is None:
            raise UploadNotFound(upload_id)
        return row

    def start(
        self,
        actor: Principal,
        *,
        template: Template,
        statement_date: date,
        size: int,
        sha256: str,
        filename: str | None,
        content_type: str | None,
        speakers: str | None = None,
    ) -> UploadState:
        """Declare a recording about to be sent in pieces. The caller checks ``size`` against
        the upload limit; ``sha256`` is the hex SHA-256 of the whole recording; ``speakers``
        how many voices it holds (as ``StatementService.create``), kept for its statement."""
        access.require(actor, Permission.CREATE)
        if size < 1:
            raise ValueError("an upload has at least one byte")
        now = utcnow()
        row = UploadSession(
            id=str(uuid.uuid4()),
            owner_id=actor.user_id,
            owner_name=actor.name,
            unit=actor.unit,
            template=template.value,
            statement_date=statement_date,
            size=size,
            sha256=sha256.lower(),
            filename=filename,
            content_type=content_type,
            speakers=speakers,
            received=0,
            created_at=now,
            updated_at=now,
        )
        with self.database.session() as session:
            session.add(row)
            session.flush()
            # The pieces are personal data held from now on (encrypted) until they become a
            # statement, are discarded, or expire: each of those is logged too.
            audit.record(
                session,
                actor,
                AuditAction.COLLECTION,
                "upload.start",
                detail={"upload_id": row.id, "size": size},
            )
            return _state(session, row)

    def state(self, upload_id: str, actor: Principal) -> UploadState:
        with self.database.session() as session:
            return _state(session, self._owned(session, upload_id, actor))

    def append(self, upload_id: str, actor: Principal, *, offset: int, data: bytes) -> UploadState:
        """Keep ``data`` as the piece at ``offset`` and return the upload's state.

        A piece at the current offset is kept. One before it (sent again after its reply was
        lost) changes nothing: the bytes already kept stay, and a difference would show in the
        SHA-256 at the end. One after it raises ``OffsetMismatch``. Once the upload is complete
        every piece changes nothing. ``ChunkTooLarge`` for more than ``MAX_CHUNK_BYTES`` or
        bytes past the declared size.
        """
        if len(data) > MAX_CHUNK_BYTES:
            raise ChunkTooLarge(f"a piece may hold at most {MAX_CHUNK_BYTES} bytes")
        try:
            return self._append(upload_id, actor, offset=offset, data=data)
        except (_LostRace, IntegrityError):
            # A copy of this piece (or another) landed first: answer from the state it left.
            state = self.state(upload_id, actor)
            if offset > state.offset and not state.complete:
                raise OffsetMismatch(state.offset) from None
            return state

    def _append(self, upload_id: str, actor: Principal, *, offset: int, data: bytes) -> UploadState:
        with self.database.session() as session:
            row = self._owned(session, upload_id, actor)
            received = row.received
            if row.statement_id is not None:
                return _state(session, row)
            if offset > received:
                raise OffsetMismatch(received)
            if offset < received or not data:
                return _state(session, row)
            end = offset + len(data)
            if end > row.size:
                raise ChunkTooLarge(
                    f"the piece ends at byte {end}, past the declared size of {row.size} bytes"
                )
            # Guarded by the offset read above: of two requests carrying the same piece, one
            # moves the offset and the other changes nothing (PostgreSQL re-checks the condition
            # after waiting for the first's row lock; SQLite has one writer at a time).
            moved = session.execute(
                update(UploadSession)
                .where(
                    UploadSession.id == upload_id,
                    UploadSession.received == offset,
                    UploadSession.statement_id.is_(None),
                )
                .values(received=end, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 1) != 1:
                raise _LostRace()
            session.execute(
                insert(UploadChunk).values(upload_id=upload_id, offset=offset, data=data)
            )
            return UploadState(
                id=row.id,
                offset=end,
                size=row.size,
                sha256=row.sha256,
                statement_id=None,
                statement_status=None,
            )

    # --- assembly ----------------------------------------------------------------------------

    def claim_assembly(
        self, upload_id: str, actor: Principal, *, now: datetime | None = None
    ) -> Assembly | None:
        """Claim the assembly of a fully received upload; None when it is not ready, already
        complete, or another request holds a live claim on it."""
        now = now or utcnow()
        token = uuid.uuid4().hex
        with self.database.session() as session:
            row = self._owned(session, upload_id, actor)
            if row.statement_id is not None or row.received != row.size:
                return None
            claimed = session.execute(
                update(UploadSession)
                .where(
                    UploadSession.id == upload_id,
                    UploadSession.statement_id.is_(None),
                    UploadSession.received == UploadSession.size,
                    or_(
                        UploadSession.assembly_token.is_(None),
                        UploadSession.assembly_expires_at < now,
                    ),
                )
                .values(assembly_token=token, assembly_expires_at=now + ASSEMBLY_LEASE)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 1) != 1:
                return None
            return Assembly(
                upload_id=row.id,
                token=token,
                size=row.size,
                sha256=row.sha256,
                template=Template(row.template),
                statement_date=row.statement_date,
                filename=row.filename,
                content_type=row.content_type,
                previous_audio_key=row.audio_key,
                speakers=row.speakers,
            )

    def reader(self, assembly: Assembly) -> ChunkReader:
        """The upload's bytes, in order, as a file."""
        return ChunkReader(self.database, assembly.upload_id, assembly.size)

    def statement_with_audio(self, audio_key: str) -> str | None:
        """The statement made of the recording stored under ``audio_key``, if one was."""
        with self.database.session() as session:
            found: str | None = session.scalar(
                select(StatementRecord.id).where(StatementRecord.audio_key == audio_key)
            )
            return found

    def record_audio(self, assembly: Assembly, audio_key: str) -> None:
        """Write down the assembled recording's key, before its statement is made."""
        with self.database.session() as session:
            session.execute(
                update(UploadSession)
                .where(
                    UploadSession.id == assembly.upload_id,
                    UploadSession.assembly_token == assembly.token,
                )
                .values(audio_key=audio_key)
                .execution_options(synchronize_session=False)
            )

    def finish(self, assembly: Assembly, statement_id: str) -> None:
        """The upload became ``statement_id``: keep that, drop the pieces and the claim."""
        with self.database.session() as session:
            session.execute(
                update(UploadSession)
                .where(UploadSession.id == assembly.upload_id, UploadSession.statement_id.is_(None))
                .values(
                    statement_id=statement_id,
                    assembly_token=None,
                    assembly_expires_at=None,
                    audio_key=None,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(
                delete(UploadChunk)
                .where(UploadChunk.upload_id == assembly.upload_id)
                .execution_options(synchronize_session=False)
            )

    def release(self, assembly: Assembly) -> None:
        """Give the claim up after a failure, so that the next request tries again. The
        recording's key (if one was written) stays, for that attempt to check."""
        with self.database.session() as session:
            session.execute(
                update(UploadSession)
                .where(
                    UploadSession.id == assembly.upload_id,
                    UploadSession.assembly_token == assembly.token,
                )
                .values(assembly_token=None, assembly_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    def discard(self, assembly: Assembly, actor: Principal, *, reason: str) -> None:
        """Remove an upload that cannot become a statement (its bytes are not the declared
        ones, or not a usable recording), its pieces with it, and log the erasure."""
        with self.database.session() as session:
            _remove(session, assembly.upload_id)
            audit.record(
                session,
                actor,
                AuditAction.ERASURE,
                "upload.discard",
                detail={"upload_id": assembly.upload_id, "reason": reason},
            )


def _remove(session: Session, upload_id: str) -> None:
    session.execute(
        delete(UploadChunk)
        .where(UploadChunk.upload_id == upload_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(UploadSession)
        .where(UploadSession.id == upload_id)
        .execution_options(synchronize_session=False)
    )


def _stale(now: datetime) -> list[ColumnElement[bool]]:
    return [
        UploadSession.updated_at < now - UPLOAD_EXPIRY,
        # An assembly under way is left alone, however old the upload.
        or_(UploadSession.assembly_token.is_(None), UploadSession.assembly_expires_at < now),
    ]


def _delete_orphan(database: Database, audio_store: AudioStore, audio_key: str) -> None:
    """Delete a recording an interrupted assembly stored, unless it became a statement."""
    if UploadService(database).statement_with_audio(audio_key) is None:
        audio_store.delete(audio_key)


def expire_uploads(
    database: Database, now: datetime | None = None, *, audio_store: AudioStore | None = None
) -> int:
    """Remove every upload that received nothing for ``UPLOAD_EXPIRY`` before ``now``: its
    pieces (an abandoned upload's erasure is logged) and the upload itself (a completed one
    leaves only its bookkeeping row, removed with no entry: it holds no recording). With
    ``audio_store``, a recording an interrupted assembly stored but never made a statement of
    is deleted too. Returns how many uploads were removed; one that cannot be is logged and
    left for the next sweep."""
    now = now or utcnow()
    with database.session() as session:
        stale = session.execute(
            select(UploadSession.id, UploadSession.statement_id, UploadSession.audio_key).where(
                *_stale(now)
            )
        ).all()
    removed = 0
    for upload_id, statement_id, audio_key in stale:
        try:
            with database.session() as session:
                # Asked again inside the transaction: a piece may have arrived since.
                still = session.scalar(
                    select(func.count())
                    .select_from(UploadSession)
                    .where(UploadSession.id == upload_id, *_stale(now))
                )
                if not still:
                    continue
                _remove(session, upload_id)
                if statement_id is None:
                    audit.record(
                        session,
                        SYSTEM,
                        AuditAction.ERASURE,
                        "upload.expire",
                        detail={"upload_id": upload_id, "days": UPLOAD_EXPIRY.days},
                    )
            removed += 1
            if audio_store is not None and audio_key and statement_id is None:
                _delete_orphan(database, audio_store, audio_key)
        except Exception:
            log.exception(
                "could not remove expired upload %s; the next sweep tries again", upload_id
            )
    if removed:
        log.info("removed %d upload(s) untouched for %d days", removed, UPLOAD_EXPIRY.days)
    return removed
