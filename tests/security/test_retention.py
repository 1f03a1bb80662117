"""Retention and erasure on real databases (SQLite and PostgreSQL), real encryption and a real
audio store: what the policy erases, what it keeps, what is left after, and the audit entry.

Statements are taken through the real lifecycle (``StatementService`` create, confirm, submit);
only the machine draft is written directly, as the drafting job writes it, so no Whisper model
is needed. Ages are made by moving timestamps back in the database.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from models import Template
from models.tables import (
    Confirmation,
    Job,
    JobState,
    OutboxMessage,
    StatementEvent,
    StatementRecord,
    StatementStatus,
    StatementVersion,
    utcnow,
)
from models.users import SYSTEM, Principal, Role
from security import audit
from security.audit import AuditAction
from workflow import delivery
from workflow.access import AccessDenied
from workflow.audio_store import AudioNotFound
from workflow.retention import (
    AUDIO_GONE,
    RetentionPolicyValues,
    apply_retention,
    current_policy,
    describe_policy,
    erase_by_admin,
    set_policy,
)
from workflow.runtime import Runtime
from workflow.services import Services
from workflow.settings import Settings
from workflow.statements import ConfirmRequest, LifecycleError, StatementNotFound

OFFICER = Principal(
    user_id="u-officer", name="PC 4471 Morgan", roles=frozenset({Role.OFFICER}), unit="north"
)
ADMIN = Principal(user_id="u-admin", name="Ada Admin", roles=frozenset({Role.ADMIN}))
WITNESS = "Sarah Jane Holloway"
NARRATIVE = f"My name is {WITNESS}. I saw a man in a red jacket hit the driver of the van."
AUDIO = b"OggS" + bytes(range(256)) * 40  # bytes, not a recording: nothing decodes it here
DEFAULT_UNCONFIRMED = 30
DEFAULT_SUBMITTED = 6 * 365 + 2


def make_services(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, **overrides)
    services = Services(settings)
    services.database.migrate()
    return services


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    built = make_services(tmp_path, database_url)
    try:
        yield built
    finally:
        built.close()


# --- statements in each state ------------------------------------------------------------------


def received(services: Services) -> str:
    audio = services.audio_store.save(io.BytesIO(AUDIO), max_bytes=len(AUDIO))
    record, _job = services.statements.create(
        audio=audio,
        template=Template.MG11,
        statement_date=date(2026, 11, 20),
        actor=OFFICER,
        filename=f"{WITNESS} interview.ogg",  # a name a witness could be identified by
        content_type="audio/ogg",
        duration_s=3.0,
    )
    return record.id


def content() -> dict[str, Any]:
    return {
        "template": "mg11",
        "statement_date": "2026-11-20",
        "fields": {"witness.name": {"value": WITNESS, "text": WITNESS}},
        "not_stated": ["witness.age", "witness.occupation", "incident.date", "incident.location"],
        "persons": [],
        "vehicles": [],
        "weapons": [],
        "narrative": NARRATIVE,
        "flags": [{"kind": "safeguarding", "reason": "a weapon was mentioned"}],
    }


def drafted(services: Services) -> str:
    """A statement with its machine draft, written as the drafting job writes it (and the
    safeguarding referral it queues)."""
    statement_id = received(services)
    with services.database.session() as session:
        session.execute(
            update(Job)
            .where(Job.statement_id == statement_id)
            .values(state=JobState.DONE.value, finished_at=utcnow(), attempts=1)
        )
        record = session.get(StatementRecord, statement_id)
        assert record is not None
        record.transcript = {"text": NARRATIVE, "segments": []}
        record.status = StatementStatus.DRAFT
        record.current_version = 1
        session.add(
            StatementVersion(
                statement_id=statement_id,
                number=1,
                kind="machine",
                author="machine: test",
                content=content(),
                changes=[],
            )
        )
        delivery.enqueue(
            session,
            statement_id=statement_id,
            kind="referral",
            payload={"narrative": NARRATIVE, "fields": {"witness.name": WITNESS}},
            destination=None,
            max_attempts=3,
            idempotency_key=f"referral-{statement_id}",
        )
    return statement_id


def failed(services: Services) -> str:
    statement_id = received(services)
    with services.database.session() as session:
        record = session.get(StatementRecord, statement_id)
        assert record is not None
        record.status = StatementStatus.FAILED
        record.failure_code = "not_audio"
        record.failure_message = f"{WITNESS} interview.ogg is not audio"
    return statement_id


def confirmed(services: Services) -> str:
    statement_id = drafted(services)
    services.statements.confirm(
        statement_id,
        ConfirmRequest(witness_declaration_accepted=True, place="Penrith Police Station"),
        actor=OFFICER,
    )
    return statement_id


def submitted(services: Services) -> str:
    statement_id = confirmed(services)
    services.statements.submit(
        statement_id, actor=OFFICER, payload={"statement": {"narrative": NARRATIVE}}
    )
    return statement_id


def age(
    services: Services,
    statement_id: str,
    *,
    created_days: float,
    submitted_days: float | None = None,
    touched_now: bool = False,
) -> None:
    """Move the statement's recording back ``created_days`` and its submission (the
    ``submitted`` event and the outbox message) back ``submitted_days``."""
    now = utcnow()
    with services.database.session() as session:
        values: dict[str, Any] = {"created_at": now - timedelta(days=created_days)}
        values["updated_at"] = now if touched_now else values["created_at"]
        session.execute(
            update(StatementRecord).where(StatementRecord.id == statement_id).values(**values)
        )
        if submitted_days is not None:
            when = now - timedelta(days=submitted_days)
            session.execute(
                update(StatementEvent)
                .where(
                    StatementEvent.statement_id == statement_id,
                    StatementEvent.kind == "submitted",
                )
                .values(created_at=when)
            )
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.statement_id == statement_id,
                    OutboxMessage.kind == "submission",
                )
                .values(created_at=when)
            )


def status_of(services: Services, statement_id: str) -> str:
    with services.database.session() as session:
        record = session.get(StatementRecord, statement_id)
        assert record is not None
        return record.status


def audio_present(services: Services, statement_id: str) -> bool:
    with services.database.session() as session:
        record = session.get(StatementRecord, statement_id)
        assert record is not None
        key = record.audio_key
    if key == AUDIO_GONE:
        return False
    try:
        services.audio_store.size(key)
    except AudioNotFound:
        return False
    return True


def erasure_entries(services: Services, statement_id: str) -> list[Any]:
    with services.database.session() as session:
        entries, _total = audit.query(
            session, statement_id=statement_id, action=AuditAction.ERASURE
        )
        return list(entries)


# --- what the policy erases ----------------------------------------------------------------


def test_statements_never_confirmed_are_erased_after_the_policy_and_newer_ones_kept(
    services: Services,
) -> None:
    old_draft, new_draft = drafted(services), drafted(services)
    old_failed, old_received = failed(services), received(services)
    age(services, old_draft, created_days=DEFAULT_UNCONFIRMED + 1)
    age(services, new_draft, created_days=DEFAULT_UNCONFIRMED - 1)
    age(services, old_failed, created_days=DEFAULT_UNCONFIRMED + 5)
    age(services, old_received, created_days=DEFAULT_UNCONFIRMED + 1)

    report = apply_retention(services.database, services.audio_store, services.settings)

    erased = {e.statement_id: e.status_before for e in report.erased}
    assert erased == {old_draft: "draft", old_failed: "failed", old_received: "received"}
    assert report.counts["erased"] == 3 and report.failures == []
    assert all(e.audio_deleted for e in report.erased)
    for statement_id in erased:
        assert status_of(services, statement_id) == StatementStatus.ERASED
        assert not audio_present(services, statement_id)
    assert status_of(services, new_draft) == StatementStatus.DRAFT
    assert audio_present(services, new_draft)
    reason = erasure_entries(services, old_draft)[0].detail["reason"]
    assert reason == "retention policy: not confirmed within 30 days of being recorded"

    again = apply_retention(services.database, services.audio_store, services.settings)
    assert again.erased == []  # erased once


def test_submitted_statements_are_erased_counting_from_their_submission(
    services: Services,
) -> None:
    old = submitted(services)
    age(services, old, created_days=DEFAULT_SUBMITTED + 20, submitted_days=DEFAULT_SUBMITTED + 1)
    recent = submitted(services)  # recorded long ago, submitted lately: kept
    age(services, recent, created_days=DEFAULT_SUBMITTED + 20, submitted_days=10)
    # Reassigned after submission (updated_at is now): the submission still counts.
    touched = submitted(services)
    age(
        services,
        touched,
        created_days=DEFAULT_SUBMITTED + 20,
        submitted_days=DEFAULT_SUBMITTED + 1,
        touched_now=True,
    )

    report = apply_retention(services.database, services.audio_store, services.settings)

    assert {e.statement_id for e in report.erased} == {old, touched}
    assert not audio_present(services, old) and not audio_present(services, touched)
    assert status_of(services, recent) == StatementStatus.SUBMITTED
    assert audio_present(services, recent)
    [entry] = erasure_entries(services, old)
    assert entry.detail["reason"] == (
        f"retention policy: submitted more than {DEFAULT_SUBMITTED} days ago"
    )
    assert entry.detail["status_before"] == "submitted"


def test_confirmed_statements_awaiting_submission_are_never_erased_by_the_policy(
    services: Services,
) -> None:
    waiting = confirmed(services)
    age(services, waiting, created_days=10 * 366)
    with services.database.session() as session:
        set_policy(session, RetentionPolicyValues(submitted_days=1, unconfirmed_days=1), ADMIN)

    report = apply_retention(
        services.database,
        services.audio_store,
        services.settings,
        now=utcnow() + timedelta(days=3650),
    )

    assert report.erased == []
    assert status_of(services, waiting) == StatementStatus.CONFIRMED
    assert audio_present(services, waiting)


def test_a_statement_a_worker_is_drafting_is_left_to_the_next_sweep(services: Services) -> None:
    statement_id = received(services)
    age(services, statement_id, created_days=DEFAULT_UNCONFIRMED + 1)
    claim = services.statements.jobs.claim()
    assert claim is not None and claim.statement_id == statement_id

    report = apply_retention(services.database, services.audio_store, services.settings)
    assert report.erased == []
    assert status_of(services, statement_id) == StatementStatus.RECEIVED

    # Once its lease has lapsed (the worker died), the policy applies.
    later = utcnow() + timedelta(seconds=services.settings.job_lease_s + 1)
    report = apply_retention(services.database, services.audio_store, services.settings, now=later)
    assert [e.statement_id for e in report.erased] == [statement_id]


# --- what is left after ----------------------------------------------------------------------


def test_after_erasure_only_metadata_remains_and_the_audit_log_records_it(
    services: Services,
) -> None:
    statement_id = submitted(services)
    with services.database.session() as session:
        before = session.get(StatementRecord, statement_id)
        assert before is not None
        kept = {
            name: getattr(before, name)
            for name in (
                "id",
                "template",
                "statement_date",
                "officer",
                "officer_id",
                "unit",
                "created_at",
                "audio_sha256",
                "audio_bytes",
            )
        }
    age(services, statement_id, created_days=3000, submitted_days=DEFAULT_SUBMITTED + 1)
    kept["created_at"] = kept["created_at"] - timedelta(days=3000)
    erased_after = utcnow()

    report = apply_retention(services.database, services.audio_store, services.settings)
    assert [e.statement_id for e in report.erased] == [statement_id]

    with services.database.session() as session:
        record = session.get(StatementRecord, statement_id)
        assert record is not None
        for name, value in kept.items():
            got = getattr(record, name)
            if name == "created_at":
                assert abs((got - value).total_seconds()) < 1
            else:
                assert got == value, name
        assert record.status == StatementStatus.ERASED
        assert record.erased_at is not None and record.erased_at >= erased_after
        assert record.transcript is None
        assert record.failure_message is None
        assert record.audio_filename is None
        assert record.audio_key == AUDIO_GONE
        for table in (StatementVersion, OutboxMessage, Job):
            count = session.scalar(
                select(func.count()).select_from(table).where(table.statement_id == statement_id)
            )
            assert count == 0, table.__tablename__
        assert session.get(Confirmation, statement_id) is None
        kinds = session.scalars(
            select(StatementEvent.kind).where(StatementEvent.statement_id == statement_id)
        ).all()
        assert kinds == ["erased"]
        # Nothing of the witness anywhere in the row as stored (sealed or not).
        raw = session.execute(
            text("SELECT * FROM statements WHERE id = :id"), {"id": statement_id}
        ).one()
        assert WITNESS not in repr(tuple(raw))
    assert not audio_present(services, statement_id)

    [entry] = erasure_entries(services, statement_id)
    assert entry.operation == "statement.erase"
    assert entry.actor_id == SYSTEM.user_id
    assert entry.justification is None
    assert entry.detail == {
        "reason": f"retention policy: submitted more than {DEFAULT_SUBMITTED} days ago",
        "audio_sha256": kept["audio_sha256"],
        "status_before": "submitted",
    }
    with services.database.session() as session:
        assert audit.verify(session).ok
        entries, _ = audit.query(session, statement_id=statement_id)
        # The log outlives the content: it holds none of it.
        assert WITNESS not in json.dumps([audit.entry_json(e) for e in entries])


# --- the policy ------------------------------------------------------------------------------


def test_the_policy_an_administrator_sets_takes_effect_and_is_audited(
    services: Services,
) -> None:
    with services.database.session() as session:
        assert current_policy(session, services.settings) == RetentionPolicyValues(
            DEFAULT_SUBMITTED, DEFAULT_UNCONFIRMED
        )
        assert describe_policy(session, services.settings)["source"] == "settings"
    statement_id = drafted(services)
    age(services, statement_id, created_days=3)
    assert apply_retention(services.database, services.audio_store, services.settings).erased == []

    with services.database.session() as session:
        set_policy(
            session,
            RetentionPolicyValues(submitted_days=365, unconfirmed_days=2),
            ADMIN,
            settings=services.settings,
        )
    with services.database.session() as session:
        assert current_policy(session, services.settings) == RetentionPolicyValues(365, 2)
        shown = describe_policy(session, services.settings)
    assert shown["source"] == "administrator" and shown["updated_by"] == ADMIN.user_id
    assert (shown["submitted_days"], shown["unconfirmed_days"]) == (365, 2)

    report = apply_retention(services.database, services.audio_store, services.settings)
    assert [e.statement_id for e in report.erased] == [statement_id]
    assert report.policy == RetentionPolicyValues(365, 2)

    with services.database.session() as session:
        set_policy(session, RetentionPolicyValues(400, 7), ADMIN)  # the row is updated
        assert current_policy(session, services.settings) == RetentionPolicyValues(400, 7)
        entries, _ = audit.query(session, actor_id=ADMIN.user_id)
    changes = [e for e in entries if e.operation == "retention.set_policy"]
    assert [e.detail for e in changes] == [
        {
            "before": {"submitted_days": DEFAULT_SUBMITTED, "unconfirmed_days": 30},
            "after": {"submitted_days": 365, "unconfirmed_days": 2},
        },
        {
            "before": {"submitted_days": 365, "unconfirmed_days": 2},
            "after": {"submitted_days": 400, "unconfirmed_days": 7},
        },
    ]
    assert all(e.action == AuditAction.ALTERATION for e in changes)


@pytest.mark.parametrize(
    "values",
    [
        RetentionPolicyValues(0, 30),
        RetentionPolicyValues(365, -1),
        RetentionPolicyValues(True, 30),  # a bool is not a number of days
        RetentionPolicyValues("365", 30),  # type: ignore[arg-type]
        RetentionPolicyValues(365, 100 * 366 + 1),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(
    services: Services, values: RetentionPolicyValues
) -> None:
    with pytest.raises(LifecycleError) as caught, services.database.session() as session:
        set_policy(session, values, ADMIN)
    assert caught.value.invalid and caught.value.code == "invalid_policy"
    with services.database.session() as session:
        assert current_policy(session, services.settings).unconfirmed_days == DEFAULT_UNCONFIRMED


def test_only_an_administrator_sets_the_policy(services: Services) -> None:
    with pytest.raises(PermissionError), services.database.session() as session:
        set_policy(session, RetentionPolicyValues(365, 2), OFFICER)


# --- an administrator's erasure --------------------------------------------------------------


def test_an_administrator_erases_a_statement_with_a_justification(services: Services) -> None:
    statement_id = confirmed(services)  # the policy would keep it; an administrator may not
    store, database = services.audio_store, services.database

    with pytest.raises(LifecycleError) as caught:
        erase_by_admin(database, store, statement_id, actor=ADMIN, justification="   ")
    assert caught.value.code == "justification_required"
    with pytest.raises(AccessDenied):
        erase_by_admin(database, store, statement_id, actor=OFFICER, justification="mine")
    with pytest.raises(StatementNotFound):
        erase_by_admin(database, store, "no-such-id", actor=ADMIN, justification="order 17")
    assert status_of(services, statement_id) == StatementStatus.CONFIRMED

    erased = erase_by_admin(
        database, store, statement_id, actor=ADMIN, justification="court order 2026/117"
    )
    assert erased.status_before == "confirmed" and erased.audio_deleted
    assert status_of(services, statement_id) == StatementStatus.ERASED
    assert not audio_present(services, statement_id)
    [entry] = erasure_entries(services, statement_id)
    assert entry.actor_id == ADMIN.user_id
    assert entry.justification == "court order 2026/117"
    assert entry.detail["reason"] == "administrator erasure"

    with pytest.raises(LifecycleError) as again:
        erase_by_admin(database, store, statement_id, actor=ADMIN, justification="twice")
    assert again.value.code == "already_erased"


# --- a failed audio deletion -----------------------------------------------------------------


def test_an_audio_deletion_that_failed_is_retried_by_the_next_sweep(
    tmp_path: Path, database_url: str
) -> None:
    # The database store, with a trigger that makes the database refuse to delete audio: a
    # real failure of the store, on both backends.
    services = make_services(tmp_path, database_url, audio_store="database")
    try:
        statement_id = drafted(services)
        age(services, statement_id, created_days=DEFAULT_UNCONFIRMED + 1)
        refuse, allow = _refusing_trigger(services)
        with services.database.engine.begin() as connection:
            for statement in refuse:
                connection.execute(text(statement))

        first = apply_retention(services.database, services.audio_store, services.settings)
        assert [e.statement_id for e in first.erased] == [statement_id]
        assert first.erased[0].audio_deleted is False
        assert first.audio_pending == [statement_id]
        assert status_of(services, statement_id) == StatementStatus.ERASED  # content is gone
        with services.database.session() as session:
            record = session.get(StatementRecord, statement_id)
            assert record is not None and record.audio_key != AUDIO_GONE  # owed

        still = apply_retention(services.database, services.audio_store, services.settings)
        assert still.audio_pending == [statement_id] and still.erased == []

        with services.database.engine.begin() as connection:
            for statement in allow:
                connection.execute(text(statement))
        second = apply_retention(services.database, services.audio_store, services.settings)
        assert second.audio_retried == [statement_id] and second.audio_pending == []
        assert not audio_present(services, statement_id)
        with services.database.session() as session:
            blobs = session.scalar(text("SELECT count(*) FROM audio_blobs"))
        assert blobs == 0
        operations = [e.operation for e in erasure_entries(services, statement_id)]
        assert operations == ["statement.erase", "statement.erase_audio"]

        third = apply_retention(services.database, services.audio_store, services.settings)
        assert third.audio_retried == [] and third.audio_pending == []
    finally:
        services.close()


def _refusing_trigger(services: Services) -> tuple[list[str], list[str]]:
    if services.database.dialect == "postgresql":
        return (
            [
                "CREATE FUNCTION refuse_audio_delete() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'the audio store is read-only'; END; $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_audio_delete BEFORE DELETE ON audio_blobs "
                "FOR EACH ROW EXECUTE FUNCTION refuse_audio_delete()",
            ],
            ["DROP TRIGGER refuse_audio_delete ON audio_blobs"],
        )
    return (
        [
            "CREATE TRIGGER refuse_audio_delete BEFORE DELETE ON audio_blobs "
            "BEGIN SELECT RAISE(ABORT, 'the audio store is read-only'); END"
        ],
        ["DROP TRIGGER refuse_audio_delete"],
    )


# --- the scheduled sweep ---------------------------------------------------------------------


def test_the_runtime_sweeps_on_its_interval_and_survives_a_failing_sweep(
    tmp_path: Path, database_url: str
) -> None:
    services = make_services(tmp_path, database_url, retention_interval_s=0.05)
    runtime = Runtime(services)  # not started: no drafting threads, no model
    try:
        statement_id = drafted(services)
        age(services, statement_id, created_days=DEFAULT_UNCONFIRMED + 1)
        # A sweep that fails (the policy table is unreadable) is logged, not raised.
        with services.database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE retention_policy RENAME TO retention_policy_x"))
        runtime.apply_retention_now()
        assert status_of(services, statement_id) == StatementStatus.DRAFT
        with services.database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE retention_policy_x RENAME TO retention_policy"))

        loop = threading.Thread(target=runtime._retention_loop, daemon=True)
        loop.start()
        deadline = time.monotonic() + 10
        while status_of(services, statement_id) != StatementStatus.ERASED:
            assert time.monotonic() < deadline, "the retention loop did not erase the draft"
            time.sleep(0.05)
        runtime.worker.stop_event.set()
        loop.join(5)
        assert not loop.is_alive()
    finally:
        runtime.worker.stop_event.set()
        services.close()
