"""Retention and erasure: how long statements are kept, and what is left when they go.

The policy has two periods, set by an administrator (one ``retention_policy`` row) or, until
one does, by the settings (``retention_submitted_days``, default 6 years and 2 days;
``retention_unconfirmed_days``, default 30):

* a **submitted** statement is erased ``submitted_days`` after it was submitted. The moment of
  submission is the ``submitted`` event, written in the same transaction that made the
  statement submitted and never changed after. ``updated_at`` is not used: a supervisor's
  reassignment touches it after submission, which would silently extend the retention. For a
  statement with no such event (none today; a defensive fallback) the submission message's
  ``created_at`` in the outbox is used (the same transaction too), then ``updated_at``;
* a statement **never confirmed** (received, transcribing, draft or failed) is erased
  ``unconfirmed_days`` after it was recorded (``created_at``): a draft the witness never
  accepted is not evidence, and working on it does not extend its life;
* a **confirmed** statement that has not been submitted is never erased by the policy: it is
  evidence the witness accepted, waiting to go to the prosecutor. Only an administrator erases
  it (:func:`erase_by_admin`, with a justification), e.g. for a court order.

Erasure (:func:`erase_statement`) removes in one transaction every version, the confirmation,
the progress events, the jobs and the outbox messages, and clears the machine transcript, the
failure message and the recording's file name; the statement becomes ``erased``. What stays is
metadata: its id, template, statement date, officer, unit, when it was recorded and erased,
the SHA-256 and size of the recording (the recording itself is gone, but the audit log's
references still resolve and the hash still identifies what was recorded). The audit log gets
an ``erasure`` entry with who, why, the status before and the audio hash: never content.

The recording is deleted from the audio store after that transaction commits (a store is not
transactional, and deleting first could lose audio whose erasure then rolled back). Until the
store confirms the deletion the statement keeps its ``audio_key``; once the audio is gone the
key becomes ``""``. An erased statement whose ``audio_key`` is still set is one whose deletion
failed (the store was down, the disk read-only): every sweep tries it again, and logs an
``erasure`` entry (``statement.erase_audio``) when it succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from models.tables import (
    Confirmation,
    Job,
    JobState,
    OutboxMessage,
    RetentionPolicy,
    StatementEvent,
    StatementRecord,
    StatementStatus,
    StatementVersion,
    utcnow,
)
from models.users import SYSTEM, Principal, Role
from security import audit
from security.audit import AuditAction
from workflow import access, events
from workflow.access import Permission
from workflow.audio_store import AudioStore
from workflow.database import Database
from workflow.settings import Settings
from workflow.statements import LifecycleError, StatementNotFound
from workflow.uploads import expire_uploads

log = logging.getLogger(__name__)

POLICY_ID = 1
"""The one row of ``retention_policy``."""

MAX_RETENTION_DAYS = 100 * 366
"""The longest period a policy may set (100 years): longer is a mistake, not a policy."""

UNCONFIRMED_STATES = (
    StatementStatus.RECEIVED.value,
    StatementStatus.TRANSCRIBING.value,
    StatementStatus.DRAFT.value,
    StatementStatus.FAILED.value,
)
"""States of a statement the witness never confirmed: erased ``unconfirmed_days`` after it was
recorded. CONFIRMED is deliberately absent (evidence awaiting submission is kept)."""

AUDIO_GONE = ""
"""``audio_key`` of an erased statement whose recording the store has deleted."""


@dataclass(frozen=True)
class RetentionPolicyValues:
    """How long statements are kept, in days.

    submitted_days: a submitted statement (content and audio) is erased this many days after it
        was submitted.
    unconfirmed_days: a statement never confirmed is erased this many days after it was
        recorded.
    """

    submitted_days: int
    unconfirmed_days: int

    def validated(self) -> RetentionPolicyValues:
        """These values, or ``LifecycleError`` (invalid) naming the one that is wrong."""
        for name in ("submitted_days", "unconfirmed_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise LifecycleError(
                    "invalid_policy", f"{name} must be a whole number of days", invalid=True
                )
            if not 1 <= value <= MAX_RETENTION_DAYS:
                raise LifecycleError(
                    "invalid_policy",
                    f"{name} must be between 1 and {MAX_RETENTION_DAYS} days, not {value}",
                    invalid=True,
                )
        return self


@dataclass(frozen=True)
class ErasedStatement:
    """One statement erased: what the caller needs to delete its audio and to report it."""

    statement_id: str
    status_before: str
    reason: str
    audio_key: str
    audio_sha256: str
    audio_deleted: bool = False


@dataclass
class RetentionReport:
    """What one application of the policy did.

    policy: the periods applied; now: the moment they were counted back from.
    erased: the statements erased (``audio_deleted`` False: the store refused; retried later).
    audio_retried: statements erased earlier whose audio was deleted by this sweep.
    audio_pending: statements whose audio is still in the store after this sweep.
    failures: ``(statement id, message)`` for statements this sweep could not erase.
    """

    policy: RetentionPolicyValues
    now: datetime
    erased: list[ErasedStatement] = field(default_factory=list)
    audio_retried: list[str] = field(default_factory=list)
    audio_pending: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        by_status: dict[str, int] = {}
        for erased in self.erased:
            by_status[erased.status_before] = by_status.get(erased.status_before, 0) + 1
        return {
            "erased": len(self.erased),
            **{f"erased_{status}": n for status, n in sorted(by_status.items())},
            "audio_retried": len(self.audio_retried),
            "audio_pending": len(self.audio_pending),
            "failures": len(self.failures),
        }


# --- the policy ------------------------------------------------------------------------------


def current_policy(session: Session, settings: Settings) -> RetentionPolicyValues:
    """The administrator's policy, or the settings' defaults while none was set."""
    row = session.get(RetentionPolicy, POLICY_ID)
    if row is None:
        return RetentionPolicyValues(
            submitted_days=settings.retention_submitted_days,
            unconfirmed_days=settings.retention_unconfirmed_days,
        )
    return RetentionPolicyValues(
        submitted_days=row.submitted_days, unconfirmed_days=row.unconfirmed_days
    )


def describe_policy(session: Session, settings: Settings) -> dict[str, Any]:
    """The policy as an administrator's page shows it: the periods, and who set them when
    (``source`` is ``settings`` while no administrator has set one)."""
    row = session.get(RetentionPolicy, POLICY_ID)
    values = current_policy(session, settings)
    return {
        "submitted_days": values.submitted_days,
        "unconfirmed_days": values.unconfirmed_days,
        "source": "settings" if row is None else "administrator",
        "updated_at": None if row is None else row.updated_at.isoformat(),
        "updated_by": None if row is None else row.updated_by,
        "interval_s": settings.retention_interval_s,
    }


def set_policy(
    session: Session,
    values: RetentionPolicyValues,
    actor: Principal,
    *,
    settings: Settings | None = None,
) -> RetentionPolicyValues:
    """Set the policy, in the caller's transaction, with an audit entry (before and after).

    Only an administrator sets it (``PermissionError`` otherwise: the route checks the role
    first; this is the second line). Values are checked by ``RetentionPolicyValues.validated``
    (``LifecycleError``, invalid). ``settings`` gives the "before" of the audit entry when no
    policy was set yet (None: recorded as the defaults, unnamed).
    """
    if not actor.has(Role.ADMIN):
        raise PermissionError("setting the retention policy needs the admin role")
    values = values.validated()
    row = session.scalars(
        select(RetentionPolicy).where(RetentionPolicy.id == POLICY_ID).with_for_update()
    ).one_or_none()
    if row is not None:
        before: dict[str, int | str | None] = {
            "submitted_days": row.submitted_days,
            "unconfirmed_days": row.unconfirmed_days,
        }
        row.submitted_days = values.submitted_days
        row.unconfirmed_days = values.unconfirmed_days
        row.updated_at = utcnow()
        row.updated_by = actor.user_id
    else:
        before = {
            "submitted_days": settings.retention_submitted_days if settings else None,
            "unconfirmed_days": settings.retention_unconfirmed_days if settings else None,
        }
        session.add(
            RetentionPolicy(
                id=POLICY_ID,
                submitted_days=values.submitted_days,
                unconfirmed_days=values.unconfirmed_days,
                updated_at=utcnow(),
                updated_by=actor.user_id,
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.ALTERATION,
        "retention.set_policy",
        detail={
            "before": before,
            "after": {
                "submitted_days": values.submitted_days,
                "unconfirmed_days": values.unconfirmed_days,
            },
        },
    )
    return values


# --- what is due -----------------------------------------------------------------------------


def submitted_at() -> ColumnElement[datetime]:
    """When each statement was submitted (see the module docstring for the choice)."""
    event = (
        select(func.min(StatementEvent.created_at))
        .where(
            StatementEvent.statement_id == StatementRecord.id,
            StatementEvent.kind == "submitted",
        )
        .correlate(StatementRecord)
        .scalar_subquery()
    )
    message = (
        select(func.min(OutboxMessage.created_at))
        .where(
            OutboxMessage.statement_id == StatementRecord.id,
            OutboxMessage.kind == "submission",
        )
        .correlate(StatementRecord)
        .scalar_subquery()
    )
    return func.coalesce(event, message, StatementRecord.updated_at)


def _being_drafted(now: datetime) -> ColumnElement[bool]:
    """A worker holds a live lease on a job of the statement: erasing now would race its
    write of the draft. Such a statement is left to the next sweep."""
    return exists().where(
        Job.statement_id == StatementRecord.id,
        Job.state == JobState.RUNNING.value,
        Job.lease_expires_at > now,
    )


def due(policy: RetentionPolicyValues, now: datetime) -> ColumnElement[bool]:
    """A SQL condition on ``statements``: those the policy erases at ``now``."""
    submitted_cutoff = now - timedelta(days=policy.submitted_days)
    unconfirmed_cutoff = now - timedelta(days=policy.unconfirmed_days)
    return or_(
        and_(
            StatementRecord.status == StatementStatus.SUBMITTED.value,
            submitted_at() < submitted_cutoff,
        ),
        and_(
            StatementRecord.status.in_(UNCONFIRMED_STATES),
            StatementRecord.created_at < unconfirmed_cutoff,
            ~_being_drafted(now),
        ),
    )


def _policy_reason(record: StatementRecord, policy: RetentionPolicyValues) -> str:
    if record.status == StatementStatus.SUBMITTED:
        return f"retention policy: submitted more than {policy.submitted_days} days ago"
    return (
        f"retention policy: not confirmed within {policy.unconfirmed_days} days of being recorded"
    )


# --- erasure ---------------------------------------------------------------------------------


def erase_statement(
    session: Session,
    record: StatementRecord,
    *,
    actor: Principal,
    reason: str,
    justification: str | None,
) -> ErasedStatement:
    """Erase the statement's content in the caller's transaction (see the module docstring for
    what goes and what stays) and record the audit entry. The audio is NOT deleted here: the
    caller deletes ``audio_key`` from the store once the transaction has committed (see
    :func:`delete_audio`).

    Raises ``LifecycleError`` (``already_erased``) for a statement already erased, or when
    another process changed its status meanwhile (``erase_conflict``).
    """
    status_before = record.status
    if status_before == StatementStatus.ERASED:
        raise LifecycleError("already_erased", "the statement has already been erased")
    statement_id, audio_key, audio_sha256 = record.id, record.audio_key, record.audio_sha256

    # Guarded by the status read: of two processes erasing at once, one changes the row and the
    # other changes nothing and rolls back (on SQLite too, which has no SELECT ... FOR UPDATE).
    changed = session.execute(
        update(StatementRecord)
        .where(StatementRecord.id == statement_id, StatementRecord.status == status_before)
        .values(
            status=StatementStatus.ERASED.value,
            erased_at=utcnow(),
            updated_at=utcnow(),
            transcript=None,
            failure_message=None,
            audio_filename=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 1) != 1:
        raise LifecycleError(
            "erase_conflict", "the statement changed while it was being erased; try again"
        )
    for table in (StatementVersion, Confirmation, StatementEvent, Job, OutboxMessage):
        session.execute(
            delete(table)
            .where(table.statement_id == statement_id)
            .execution_options(synchronize_session=False)
        )
    # The session must not write back the content it still holds in memory.
    session.expire(record)
    # A client following the statement's progress learns it is gone (names no content).
    events.emit(session, statement_id, "erased")
    audit.record(
        session,
        actor,
        AuditAction.ERASURE,
        "statement.erase",
        statement_id=statement_id,
        justification=justification,
        detail={"reason": reason, "audio_sha256": audio_sha256, "status_before": status_before},
    )
    return ErasedStatement(
        statement_id=statement_id,
        status_before=status_before,
        reason=reason,
        audio_key=audio_key,
        audio_sha256=audio_sha256,
    )


def delete_audio(
    database: Database, audio_store: AudioStore, statement_id: str, audio_key: str
) -> bool:
    """Delete an erased statement's recording from the store, then mark it gone. Returns False
    (and logs why) when the store refused: the statement keeps its ``audio_key`` and the next
    sweep tries again."""
    if audio_key == AUDIO_GONE:
        return True
    try:
        audio_store.delete(audio_key)
    except Exception:
        log.exception(
            "could not delete the recording of erased statement %s; the next retention sweep "
            "tries again",
            statement_id,
        )
        return False
    with database.session() as session:
        session.execute(
            update(StatementRecord)
            .where(StatementRecord.id == statement_id, StatementRecord.audio_key == audio_key)
            .values(audio_key=AUDIO_GONE)
            .execution_options(synchronize_session=False)
        )
    return True


def _retry_audio(database: Database, audio_store: AudioStore, report: RetentionReport) -> None:
    """Delete the audio of statements erased earlier whose deletion failed."""
    with database.session() as session:
        pending = session.execute(
            select(StatementRecord.id, StatementRecord.audio_key, StatementRecord.audio_sha256)
            .where(
                StatementRecord.status == StatementStatus.ERASED.value,
                StatementRecord.audio_key != AUDIO_GONE,
            )
            .order_by(StatementRecord.erased_at)
        ).all()
    for statement_id, audio_key, audio_sha256 in pending:
        if not delete_audio(database, audio_store, statement_id, audio_key):
            report.audio_pending.append(statement_id)
            continue
        report.audio_retried.append(statement_id)
        try:
            with database.session() as session:
                audit.record(
                    session,
                    SYSTEM,
                    AuditAction.ERASURE,
                    "statement.erase_audio",
                    statement_id=statement_id,
                    detail={"audio_sha256": audio_sha256, "retried": True},
                )
        except Exception:
            log.exception("could not log the deletion of %s's recording", statement_id)


def apply_retention(
    database: Database,
    audio_store: AudioStore,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> RetentionReport:
    """Erase every statement the policy says is due at ``now`` (default: the present), as the
    system, one transaction per statement; then delete their audio. Audio whose deletion failed
    in an earlier sweep is retried first. A statement that cannot be erased is reported in
    ``failures`` and logged; the sweep goes on with the others."""
    now = now or utcnow()
    with database.session() as session:
        policy = current_policy(session, settings)
    report = RetentionReport(policy=policy, now=now)
    _retry_audio(database, audio_store, report)

    condition = due(policy, now)
    with database.session() as session:
        candidates = list(
            session.scalars(
                select(StatementRecord.id).where(condition).order_by(StatementRecord.created_at)
            )
        )
    for statement_id in candidates:
        try:
            with database.session() as session:
                # Asked again under the row lock: it may have been confirmed, submitted or
                # erased since the list was read.
                record = session.scalars(
                    select(StatementRecord)
                    .where(StatementRecord.id == statement_id, condition)
                    .with_for_update()
                ).one_or_none()
                if record is None:
                    continue
                erased = erase_statement(
                    session,
                    record,
                    actor=SYSTEM,
                    reason=_policy_reason(record, policy),
                    justification=None,
                )
        except Exception as exc:
            log.exception("retention could not erase statement %s", statement_id)
            report.failures.append((statement_id, f"{type(exc).__name__}: {exc}"))
            continue
        deleted = delete_audio(database, audio_store, statement_id, erased.audio_key)
        if not deleted:
            report.audio_pending.append(statement_id)
        report.erased.append(
            ErasedStatement(
                statement_id=erased.statement_id,
                status_before=erased.status_before,
                reason=erased.reason,
                audio_key=erased.audio_key,
                audio_sha256=erased.audio_sha256,
                audio_deleted=deleted,
            )
        )
    # Uploads abandoned part way (pieces of recordings, encrypted) go after a week.
    expire_uploads(database, now, audio_store=audio_store)
    return report


def erase_by_admin(
    database: Database,
    audio_store: AudioStore,
    statement_id: str,
    *,
    actor: Principal,
    justification: str | None,
) -> ErasedStatement:
    """An administrator's erasure of one statement, in any state but erased (a confirmed one
    included: e.g. a court order), then its audio.

    Raises ``LifecycleError``: ``justification_required`` (invalid) without a justification,
    ``already_erased``; ``AccessDenied`` when no role of the actor may erase;
    ``StatementNotFound`` when there is no such statement.
    """
    reason = audit.normalise_justification(justification)
    if reason is None:
        raise LifecycleError(
            "justification_required",
            "say why the statement is erased (the justification is kept in the audit log)",
            invalid=True,
        )
    access.require(actor, Permission.ERASE)
    with database.session() as session:
        record = session.scalars(
            select(StatementRecord)
            .where(StatementRecord.id == statement_id, access.visible(actor, Permission.ERASE))
            .with_for_update()
        ).one_or_none()
        if record is None:
            raise StatementNotFound(statement_id)
        erased = erase_statement(
            session, record, actor=actor, reason="administrator erasure", justification=reason
        )
    deleted = delete_audio(database, audio_store, statement_id, erased.audio_key)
    return ErasedStatement(
        statement_id=erased.statement_id,
        status_before=erased.status_before,
        reason=erased.reason,
        audio_key=erased.audio_key,
        audio_sha256=erased.audio_sha256,
        audio_deleted=deleted,
    )
