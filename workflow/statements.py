"""The statement lifecycle, enforced here for every caller: received → transcribing → draft →
confirmed → submitted, or failed.

The machine draft is version 1 and is never changed. Each officer edit adds a version holding
who, when, and each field's old and new value. Confirmation freezes the content the witness
accepted, with the MG11 declaration and the SHA-256 of that content; nothing after it may
change the statement (a correction is a further statement that refers to it). Submission writes
the outbox message in the same transaction that marks the statement submitted.

Every operation names the principal acting. Access is decided by ``workflow.access`` before
anything is read, and the audit entry DPA 2018 s.62 asks for (``security.audit``) is written in
the same transaction as the change or the reading it records: no change without its entry, and
no entry for a change that rolled back.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.statement import DETAIL_NAMES, FIELD_NAMES, REQUIRED_FIELDS, Template, unanswered
from models.tables import (
    Confirmation,
    Job,
    OutboxMessage,
    StatementRecord,
    StatementStatus,
    StatementVersion,
    User,
    utcnow,
)
from models.users import Principal, Role
from security import audit
from security.audit import AuditAction, normalise_justification
from workflow import access, delivery, events
from workflow.access import Permission
from workflow.audio_store import StoredAudio
from workflow.database import Database
from workflow.exports import ConfirmationInfo, ExportDocument, mg11_declaration, page_count
from workflow.jobs import JobQueue
from workflow.settings import Settings

INTEGER_FIELDS = frozenset({"witness.age", "missing.age", "missing.height"})
MAX_SIGNATURE_BYTES = 1024 * 1024
NOT_STATED = "not stated"


class LifecycleError(Exception):
    """A request the statement's state does not allow (HTTP 409), or one that is not valid
    (HTTP 422 when ``invalid``); ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.invalid = invalid


class StatementNotFound(LookupError):
    """No statement with this id, or none the caller may see: the two are never told apart."""


class JustificationRequired(Exception):
    """Consulting a statement that is not one's own needs a stated reason (DPA 2018 s.62)."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"{operation}: say why you are consulting a statement that is not your own, in the "
            "X-Justification header (or the justification field of the request body)"
        )


@dataclass(frozen=True)
class Edit:
    """An officer's correction: new field values (None removes a field), fields marked as not
    stated by the witness, and a new narrative."""

    fields: dict[str, Any] = field(default_factory=dict)
    not_stated: tuple[str, ...] = ()
    narrative: str | None = None
    base_version: int | None = None  # when given, refuse if someone else edited first


@dataclass(frozen=True)
class ConfirmRequest:
    witness_declaration_accepted: bool
    signature_png: bytes | None = None
    place: str | None = None


def canonical_json(value: Any) -> bytes:
    """The bytes a content hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode_signature(text: str | None) -> bytes | None:
    """A base64 PNG (a ``data:image/png;base64,`` prefix allowed), checked to be a PNG."""
    if not text:
        return None
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LifecycleError(
            "invalid_signature", "the signature is not base64", invalid=True
        ) from exc
    if len(data) > MAX_SIGNATURE_BYTES:
        raise LifecycleError(
            "invalid_signature", "the signature image is larger than 1 MiB", invalid=True
        )
    from PIL import Image  # fpdf2's dependency; imported here to keep start-up light

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ValueError(image.format)
            image.verify()
    except Exception as exc:
        raise LifecycleError(
            "invalid_signature", "the signature is not a PNG image", invalid=True
        ) from exc
    return data


class StatementService:
    """Every change to a statement goes through here, in one transaction each."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.jobs = JobQueue(
            database, lease_s=settings.job_lease_s, max_attempts=settings.job_max_attempts
        )

    # --- creation -----------------------------------------------------------------------

    def create(
        self,
        *,
        audio: StoredAudio,
        template: Template,
        statement_date: date,
        actor: Principal,
        filename: str | None,
        content_type: str | None,
        duration_s: float | None,
        speakers: str | None = None,
    ) -> tuple[StatementRecord, Job]:
        """Record a received recording, owned by ``actor``, and queue its drafting, in one
        transaction. ``speakers``: how many voices it holds ("2".."6" or "auto"; None for one,
        a dictation), checked by ``workflow.voices.parse_speakers``."""
        access.require(actor, Permission.CREATE)
        with self.database.session() as session:
            record = StatementRecord(
                id=str(uuid.uuid4()),
                status=StatementStatus.RECEIVED,
                template=template.value,
                statement_date=statement_date,
                officer=actor.name,
                officer_id=actor.user_id,
                unit=actor.unit,
                audio_key=audio.key,
                audio_sha256=audio.sha256,
                audio_bytes=audio.size,
                audio_filename=filename,
                audio_content_type=content_type,
                audio_duration_s=duration_s,
                speakers=speakers,
                current_version=0,
            )
            session.add(record)
            session.flush()
            job = self.jobs.enqueue(session, statement_id=record.id, kind="draft")
            events.emit(session, record.id, "queued", audio_sha256=audio.sha256)
            audit.record(
                session,
                actor,
                AuditAction.COLLECTION,
                "statement.create",
                statement_id=record.id,
                detail={
                    "audio_sha256": audio.sha256,
                    "audio_bytes": audio.size,
                    "template": template.value,
                    **({"speakers": speakers} if speakers else {}),
                },
            )
        return record, job

    # --- reading ------------------------------------------------------------------------

    def get(
        self, session: Session, statement_id: str, *, for_update: bool = False
    ) -> StatementRecord:
        """The statement, whoever asks: for the service's own work (drafting, retention)."""
        return self._one(session, statement_id, for_update=for_update)

    @staticmethod
    def _one(
        session: Session, statement_id: str, *conditions: Any, for_update: bool
    ) -> StatementRecord:
        query = select(StatementRecord).where(StatementRecord.id == statement_id, *conditions)
        if for_update:
            query = query.with_for_update()
        record = session.scalars(query).one_or_none()
        if record is None:
            raise StatementNotFound(statement_id)
        return record

    def lookup(
        self,
        session: Session,
        statement_id: str,
        actor: Principal,
        permission: Permission,
        *,
        for_update: bool = False,
    ) -> StatementRecord:
        """The statement, if ``actor`` may do ``permission`` to it. Raises AccessDenied when no
        role of theirs allows ``permission``; StatementNotFound when the statement does not
        exist or is not theirs to reach (the two are never told apart)."""
        access.require(actor, permission)
        return self._one(
            session, statement_id, access.visible(actor, permission), for_update=for_update
        )

    def consult(
        self,
        session: Session,
        statement_id: str,
        actor: Principal,
        permission: Permission,
        operation: str,
        *,
        justification: str | None,
        detail: dict[str, Any] | None = None,
    ) -> StatementRecord:
        """Look the statement up for reading and log the consultation, in the caller's
        transaction. Anyone but the statement's own officer must give a justification."""
        record = self.lookup(session, statement_id, actor, permission)
        reason = normalise_justification(justification)
        if reason is None and not access.is_owner(actor, record):
            raise JustificationRequired(operation)
        audit.record(
            session,
            actor,
            AuditAction.CONSULTATION,
            operation,
            statement_id=record.id,
            justification=reason,
            detail=detail,
        )
        return record

    def search(
        self,
        session: Session,
        *,
        actor: Principal,
        status: str | None = None,
        template: str | None = None,
        officer: str | None = None,
        statement_date: date | None = None,
        text: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[StatementRecord], int]:
        """The statements ``actor`` may read that match every filter given, newest first: one
        page of them (``offset``, ``limit``) and how many match in all.

        ``text`` matches statements whose current version (field values and the words they were
        heard as, the people named, the narrative) or machine transcript contains every word of
        it, ignoring case. That content is encrypted at rest, so SQL cannot look into it: the
        other filters run in SQL first, then the candidates' current content and transcript are
        decrypted here and matched in Python, and the page is cut from the matches so that
        ``total`` counts matches, not candidates. Its cost therefore grows with the statements
        the caller can see (a unit's: hundreds to a few thousand, each a few kilobytes, which
        is quick); a force-wide deployment would replace it with a search index built from the
        decrypted text and itself encrypted at rest (or a blind keyword index: keyed hashes of
        each word, stored beside the statement and matched in SQL).
        """
        access.require(actor, Permission.READ)
        conditions: list[Any] = [access.visible(actor, Permission.READ)]
        if status:
            conditions.append(StatementRecord.status == status)
        if template:
            conditions.append(StatementRecord.template == template)
        if officer:
            conditions.append(StatementRecord.officer == officer)
        if statement_date:
            conditions.append(StatementRecord.statement_date == statement_date)
        order = (StatementRecord.created_at.desc(), StatementRecord.id)
        terms = search_terms(text)
        if terms:
            found, total = self._search_text(session, conditions, order, terms, offset, limit)
        else:
            query = select(StatementRecord).where(*conditions)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            found = list(session.scalars(query.order_by(*order).offset(offset).limit(limit)))
        filters = {"status": status, "template": template, "officer": officer}
        audit.record(
            session,
            actor,
            AuditAction.CONSULTATION,
            "statement.search",
            detail={
                **{k: v for k, v in filters.items() if v},
                **({"date": statement_date.isoformat()} if statement_date else {}),
                # Whether text was searched for, not the text: it may name a witness, and audit
                # entries hold no statement content.
                **({"text_search": True} if terms else {}),
                "results": len(found),
                "total": total,
            },
        )
        return found, total

    @staticmethod
    def _search_text(
        session: Session,
        conditions: list[Any],
        order: tuple[Any, ...],
        terms: list[str],
        offset: int,
        limit: int,
    ) -> tuple[list[StatementRecord], int]:
        """Match ``terms`` against each candidate's decrypted current content and transcript;
        returns the page of matches and their number (see :meth:`search`)."""
        current = and_(
            StatementVersion.statement_id == StatementRecord.id,
            StatementVersion.number == StatementRecord.current_version,
        )
        # Only the columns matched are read (and decrypted): not the whole record of each.
        rows = session.execute(
            select(StatementRecord.id, StatementRecord.transcript, StatementVersion.content)
            .outerjoin(StatementVersion, current)
            .where(*conditions)
            .order_by(*order)
        )
        matched = [
            statement_id
            for statement_id, transcript, content in rows
            if text_matches(searchable_text(content, transcript), terms)
        ]
        page = matched[offset : offset + limit]
        by_id = {
            r.id: r
            for r in session.scalars(select(StatementRecord).where(StatementRecord.id.in_(page)))
        }
        return [by_id[i] for i in page if i in by_id], len(matched)

    @staticmethod
    def current_content(record: StatementRecord) -> dict[str, Any] | None:
        """The contract JSON of the newest version, with the machine transcript."""
        if not record.versions:
            return None
        content = copy.deepcopy(record.versions[-1].content)
        if record.transcript is not None:
            content["transcript"] = record.transcript
        return content

    def outbox(self, session: Session, statement_id: str) -> list[OutboxMessage]:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.statement_id == statement_id)
                .order_by(OutboxMessage.id)
            )
        )

    def export_document(self, session: Session, record: StatementRecord) -> ExportDocument:
        content = self.current_content(record)
        if content is None:
            raise LifecycleError("no_draft", self._not_drafted_reason(record))
        confirmation = None
        if record.confirmation is not None:
            c = record.confirmation
            content = copy.deepcopy(c.content["statement"])
            confirmation = ConfirmationInfo(
                officer=c.officer,
                confirmed_at=c.confirmed_at,
                place=c.place,
                page_count=c.page_count,
                declaration=c.declaration,
                content_sha256=c.content_sha256,
                signature_png=c.signature_png,
            )
        return ExportDocument(
            statement_id=record.id,
            content=content,
            officer=record.officer,
            audio_sha256=record.audio_sha256,
            status=record.status,
            confirmation=confirmation,
        )

    # --- the officer's review -----------------------------------------------------------

    def edit(self, statement_id: str, change: Edit, *, actor: Principal) -> StatementRecord:
        """Apply an officer's correction as a new version; returns the record."""
        officer = actor.name
        try:
            with self.database.session() as session:
                record = self.lookup(session, statement_id, actor, Permission.EDIT, for_update=True)
                self._require_draft(record, action="edit")
                if (
                    change.base_version is not None
                    and change.base_version != record.current_version
                ):
                    raise LifecycleError(
                        "edit_conflict",
                        f"the statement is at version {record.current_version}, not "
                        f"{change.base_version}: someone else edited it; reload and try again",
                    )
                content = copy.deepcopy(record.versions[-1].content)
                changes = apply_edit(content, change, template=Template(record.template))
                if changes:
                    record.current_version += 1
                    session.add(
                        StatementVersion(
                            statement_id=record.id,
                            number=record.current_version,
                            kind="edit",
                            author=officer,
                            content=content,
                            changes=changes,
                        )
                    )
                    record.updated_at = utcnow()
                    events.emit(
                        session,
                        record.id,
                        "edited",
                        version=record.current_version,
                        by=officer,
                        fields=[c["field"] for c in changes],
                    )
                    audit.record(
                        session,
                        actor,
                        AuditAction.ALTERATION,
                        "statement.edit",
                        statement_id=record.id,
                        detail={
                            "version": record.current_version,
                            "fields": [c["field"] for c in changes],
                        },
                    )
        except IntegrityError as exc:  # two edits raced for the same version number
            raise LifecycleError(
                "edit_conflict", "someone else edited the statement at the same moment; reload"
            ) from exc
        return record

    def confirm(
        self, statement_id: str, request: ConfirmRequest, *, actor: Principal
    ) -> Confirmation:
        """Freeze the current version as the statement the witness accepted."""
        if not request.witness_declaration_accepted:
            raise LifecycleError(
                "declaration_not_accepted",
                "the witness has not accepted the declaration: a statement is confirmed only "
                "once the witness accepts it",
                invalid=True,
            )
        officer = actor.name
        try:
            with self.database.session() as session:
                record = self.lookup(
                    session, statement_id, actor, Permission.CONFIRM, for_update=True
                )
                self._require_draft(record, action="confirm")
                statement = copy.deepcopy(record.versions[-1].content)
                open_items = unanswered(Template(record.template), answered_names(statement))
                if open_items:
                    raise LifecycleError(
                        "required_fields_missing",
                        "fill these fields, or mark them not stated, before confirming: "
                        + ", ".join(open_items),
                    )
                pages = page_count(statement, statement_id=record.id, officer=officer)
                declaration = mg11_declaration(pages)
                confirmed_at = utcnow()
                signature_sha256 = (
                    hashlib.sha256(request.signature_png).hexdigest()
                    if request.signature_png
                    else None
                )
                content = {
                    "statement_id": record.id,
                    "version": record.current_version,
                    "statement": statement,
                    "audio_sha256": record.audio_sha256,
                    "declaration": declaration,
                    "page_count": pages,
                    "witness_declaration_accepted": True,
                    "officer": officer,
                    "confirmed_at": confirmed_at.isoformat(),
                    "place": request.place,
                    "signature_sha256": signature_sha256,
                }
                confirmation = Confirmation(
                    statement_id=record.id,
                    officer=officer,
                    confirmed_at=confirmed_at,
                    place=request.place,
                    version_number=record.current_version,
                    witness_declaration_accepted=True,
                    declaration=declaration,
                    page_count=pages,
                    signature_png=request.signature_png,
                    signature_sha256=signature_sha256,
                    content=content,
                    content_sha256=hashlib.sha256(canonical_json(content)).hexdigest(),
                )
                session.add(confirmation)
                record.status = StatementStatus.CONFIRMED
                record.updated_at = confirmed_at
                events.emit(
                    session,
                    record.id,
                    "confirmed",
                    by=officer,
                    content_sha256=confirmation.content_sha256,
                )
                audit.record(
                    session,
                    actor,
                    AuditAction.ALTERATION,
                    "statement.confirm",
                    statement_id=record.id,
                    detail={
                        "version": record.current_version,
                        "content_sha256": confirmation.content_sha256,
                    },
                )
        except IntegrityError as exc:
            raise LifecycleError(
                "already_confirmed", "the statement was confirmed meanwhile"
            ) from exc
        return confirmation

    def submit(
        self,
        statement_id: str,
        *,
        actor: Principal,
        payload: dict[str, Any],
        justification: str | None = None,
    ) -> OutboxMessage:
        """Mark a confirmed statement submitted and queue its delivery, in one transaction."""
        with self.database.session() as session:
            record = self.lookup(session, statement_id, actor, Permission.SUBMIT, for_update=True)
            if record.status == StatementStatus.SUBMITTED:
                raise LifecycleError(
                    "already_submitted", "the statement has already been submitted"
                )
            if record.status != StatementStatus.CONFIRMED:
                raise LifecycleError(
                    "not_confirmed",
                    f"the statement is {record.status}: only a statement confirmed with the "
                    "witness can be submitted",
                )
            message = delivery.enqueue(
                session,
                statement_id=record.id,
                kind="submission",
                payload=payload,
                destination=self.settings.submission_url,
                max_attempts=self.settings.delivery_max_attempts,
                idempotency_key=f"submission-{record.id}",
            )
            record.status = StatementStatus.SUBMITTED
            record.updated_at = utcnow()
            events.emit(session, record.id, "submitted", by=actor.name)
            audit.record(
                session,
                actor,
                AuditAction.DISCLOSURE,
                "statement.submit",
                statement_id=record.id,
                justification=normalise_justification(justification),
                detail={
                    "recipient": delivery.describe_destination(message.destination),
                    "state": message.state,
                },
            )
        return message

    def reassign(self, statement_id: str, *, actor: Principal, to_name: str) -> StatementRecord:
        """Give the statement to another officer of its unit (a supervisor's decision). The new
        owner must be a local account, not revoked, holding the officer role in that unit."""
        with self.database.session() as session:
            record = self.lookup(session, statement_id, actor, Permission.REASSIGN, for_update=True)
            target = session.scalars(select(User).where(User.name == to_name)).one_or_none()
            if (
                target is None
                or target.revoked_at is not None
                or Role.OFFICER.value not in target.roles
                or target.unit != record.unit
            ):
                raise LifecycleError(
                    "invalid_officer",
                    f"{to_name!r} is not an active officer of unit {record.unit!r}",
                    invalid=True,
                )
            to_user_id = target.id
            before = {"officer": record.officer, "officer_id": record.officer_id}
            record.officer, record.officer_id = to_name, to_user_id
            record.updated_at = utcnow()
            events.emit(session, record.id, "reassigned", to=to_name, by=actor.name)
            audit.record(
                session,
                actor,
                AuditAction.ALTERATION,
                "statement.reassign",
                statement_id=record.id,
                detail={"from": before["officer"], "to": to_name, "to_id": to_user_id},
            )
        return record

    # --- rules --------------------------------------------------------------------------

    @staticmethod
    def _not_drafted_reason(record: StatementRecord) -> str:
        if record.status == StatementStatus.FAILED:
            return f"drafting failed ({record.failure_code}): {record.failure_message}"
        return f"the statement is {record.status}: its draft is not ready yet"

    def _require_draft(self, record: StatementRecord, *, action: str) -> None:
        if record.status == StatementStatus.DRAFT:
            return
        if record.status in (StatementStatus.RECEIVED, StatementStatus.TRANSCRIBING):
            raise LifecycleError(
                "not_drafted", f"cannot {action}: " + self._not_drafted_reason(record)
            )
        if record.status == StatementStatus.FAILED:
            raise LifecycleError(
                "drafting_failed", f"cannot {action}: " + self._not_drafted_reason(record)
            )
        raise LifecycleError(
            "already_confirmed",
            f"cannot {action}: the statement is {record.status} and confirmed content never "
            "changes; record a further statement that refers to this one",
        )


def apply_edit(
    content: dict[str, Any], change: Edit, *, template: Template
) -> list[dict[str, Any]]:
    """Apply ``change`` to ``content`` in place; returns ``[{field, old, new}]`` for what
    actually changed. Raises :class:`LifecycleError` (invalid) for an unknown field or a value
    of the wrong kind."""
    changes: list[dict[str, Any]] = []
    # A template detail ("over 18", a description) is edited like a field, kept in "details".
    details: dict[str, Any] = dict(content.get("details") or {})
    not_stated: list[str] = content.setdefault("not_stated", [])
    for name, raw in change.fields.items():
        if name not in FIELD_NAMES and name not in DETAIL_NAMES:
            raise LifecycleError("unknown_field", f"no such field: {name!r}", invalid=True)
        fields = details if name in DETAIL_NAMES else content.setdefault("fields", {})
        old = fields.get(name, {}).get("value") if name in fields else None
        new = _field_value(name, raw)
        if new == old:
            continue
        if new is None:
            fields.pop(name, None)
        else:
            previous = fields.get(name, {})
            fields[name] = {
                "value": new,
                # The span the machine heard stays as evidence of what was said.
                "text": previous.get("text"),
                "start_char": previous.get("start_char"),
                "end_char": previous.get("end_char"),
                "start_s": previous.get("start_s"),
                "end_s": previous.get("end_s"),
                "confidence": 1.0,
                "source": "officer",
            }
            if name in not_stated:
                not_stated.remove(name)
        changes.append({"field": name, "old": old, "new": new})
    for name in change.not_stated:
        if name not in FIELD_NAMES and name not in DETAIL_NAMES:
            raise LifecycleError("unknown_field", f"no such field: {name!r}", invalid=True)
        if name in not_stated:
            continue
        fields = details if name in DETAIL_NAMES else content.setdefault("fields", {})
        old = fields.pop(name, {}).get("value")
        not_stated.append(name)
        changes.append({"field": name, "old": old, "new": NOT_STATED})
    if change.narrative is not None and change.narrative != content.get("narrative"):
        if not change.narrative.strip():
            raise LifecycleError("invalid_narrative", "the narrative cannot be empty", invalid=True)
        changes.append(
            {"field": "narrative", "old": content.get("narrative"), "new": change.narrative}
        )
        content["narrative"] = change.narrative
    fields = content.setdefault("fields", {})
    content["fields"] = {name: fields[name] for name in FIELD_NAMES if name in fields}
    if details or "details" in content:
        content["details"] = {name: details[name] for name in DETAIL_NAMES if name in details}
    if changes:
        _refresh_missing_flags(content, template)
    return changes


def answered_names(content: dict[str, Any]) -> set[str]:
    """The fields and details a statement has a value for, or marks not stated."""
    return (
        set(content.get("fields") or {})
        | set(content.get("details") or {})
        | set(content.get("not_stated") or [])
    )


def _field_value(name: str, raw: Any) -> str | int | None:
    if raw is None:
        return None
    if name in INTEGER_FIELDS:
        if isinstance(raw, bool):
            raise LifecycleError("invalid_value", f"{name} must be a whole number", invalid=True)
        try:
            value = int(str(raw).strip())
        except ValueError as exc:
            raise LifecycleError(
                "invalid_value", f"{name} must be a whole number, not {raw!r}", invalid=True
            ) from exc
        if not 0 <= value <= 300:
            raise LifecycleError("invalid_value", f"{name} is out of range: {value}", invalid=True)
        return value
    if not isinstance(raw, str | int | float):
        raise LifecycleError("invalid_value", f"{name} must be text", invalid=True)
    text = " ".join(str(raw).split())
    if not text:
        raise LifecycleError(
            "invalid_value",
            f"{name} cannot be blank: send null to remove it, or mark it not stated",
            invalid=True,
        )
    if name in ("incident.date", "missing.last_seen_date", "witness.date_of_birth"):
        try:
            date.fromisoformat(text)
        except ValueError as exc:
            raise LifecycleError(
                "invalid_value", f"{name} must be a date as YYYY-MM-DD, not {text!r}", invalid=True
            ) from exc
    if name in ("incident.time", "missing.last_seen_time"):
        try:
            datetime.strptime(text, "%H:%M")
        except ValueError as exc:
            raise LifecycleError(
                "invalid_value",
                f"{name} must be a 24-hour time as HH:MM, not {text!r}",
                invalid=True,
            ) from exc
    if name == "witness.phone":
        text = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return text


def _refresh_missing_flags(content: dict[str, Any], template: Template) -> None:
    """``missing_required`` flags follow the fields: gone once filled or marked not stated, or
    once an alternative answers them ("over 18" for the age)."""
    answered = answered_names(content)
    still_open = unanswered(template, answered)
    settled = answered | (set(REQUIRED_FIELDS[template]) - set(still_open))
    flags = [
        f
        for f in content.get("flags", [])
        if not (f.get("kind") == "missing_required" and f.get("field") in settled)
    ]
    flagged = {f.get("field") for f in flags if f.get("kind") == "missing_required"}
    for name in still_open:
        if name not in flagged:
            flags.append(
                {"kind": "missing_required", "field": name, "reason": f"{name} was not stated"}
            )
    content["flags"] = flags


def search_terms(text: str | None) -> list[str]:
    """The words of a text search, case-folded; none for a blank or absent one."""
    return text.casefold().split() if text else []


def searchable_text(content: dict[str, Any] | None, transcript: dict[str, Any] | None) -> str:
    """What a text search looks in, case-folded: the fields' values and the words they were
    heard as, the people named, the narrative, and the machine transcript."""
    parts: list[str] = []
    if content:
        for item in (content.get("fields") or {}).values():
            parts.extend(str(item.get(key) or "") for key in ("value", "text"))
        parts.extend(str(p.get("name") or "") for p in content.get("persons") or [])
        parts.append(str(content.get("narrative") or ""))
    if transcript:
        parts.append(str(transcript.get("text") or ""))
    # Joined on a line break so a term never matches across the end of one part and the start
    # of the next; spaces inside a part are normalised so "Jane  Holloway" still matches.
    return "\n".join(" ".join(part.split()) for part in parts if part).casefold()


def text_matches(haystack: str, terms: list[str]) -> bool:
    """Every term occurs in ``haystack`` (both already case-folded)."""
    return all(term in haystack for term in terms)


def version_json(version: StatementVersion) -> dict[str, Any]:
    """A version as the API and the export show it: who, when, what changed."""
    return {
        "number": version.number,
        "kind": version.kind,
        "author": version.author,
        "created_at": version.created_at.isoformat(),
        "changes": version.changes,
        "content_sha256": hashlib.sha256(canonical_json(version.content)).hexdigest(),
    }


def confirmation_json(confirmation: Confirmation | None) -> dict[str, Any] | None:
    """The confirmation as the API and the export show it (the export adds its content)."""
    if confirmation is None:
        return None
    return {
        "officer": confirmation.officer,
        "confirmed_at": confirmation.confirmed_at.isoformat(),
        "place": confirmation.place,
        "version": confirmation.version_number,
        "witness_declaration_accepted": confirmation.witness_declaration_accepted,
        "declaration": confirmation.declaration,
        "page_count": confirmation.page_count,
        "signature_sha256": confirmation.signature_sha256,
        "content_sha256": confirmation.content_sha256,
    }


def export_json(
    record: StatementRecord, document: ExportDocument, deliveries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The JSON export: the contract, and the record a court needs to trust it (the machine
    transcript apart from the text, every version with who and when, the confirmation, the
    hashes, and how it was made)."""
    from workflow.exports import provenance_note

    confirmation = confirmation_json(record.confirmation)
    if confirmation is not None and record.confirmation is not None:
        confirmation["content"] = record.confirmation.content
    return {
        "statement_id": record.id,
        "status": record.status,
        "template": record.template,
        "officer": record.officer,
        "provenance": provenance_note(document),
        "audio": {
            "sha256": record.audio_sha256,
            "bytes": record.audio_bytes,
            "filename": record.audio_filename,
            "content_type": record.audio_content_type,
            "duration_s": record.audio_duration_s,
        },
        "machine_transcript": record.transcript,
        "statement": document.content,
        "versions": [version_json(v) for v in record.versions],
        "confirmation": confirmation,
        "deliveries": deliveries,
    }
