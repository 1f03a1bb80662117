"""The audit log: one linear hash chain that the database will not let anyone edit, and in which
verify() finds any change made by someone who could (a DBA dropping the trigger)."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models.tables import AuditEntry, AuditHead
from models.users import SYSTEM, Principal, Role
from security.audit import (
    DETAIL_MAX_STRING,
    GENESIS_HASH,
    JUSTIFICATION_MAX_CHARS,
    AuditAction,
    canonical_time,
    compute_hash,
    entry_json,
    format_report,
    normalise_justification,
    query,
    record,
    verify,
)
from workflow.database import Database

ALICE = Principal(user_id="u-alice", name="Alice Officer", roles=frozenset({Role.OFFICER}))
BOB = Principal(
    user_id="u-bob",
    name="Bob Builder",
    roles=frozenset({Role.SUPERVISOR, Role.CASE_BUILDER}),
    unit="CID",
)
STATEMENT_A = "11111111-1111-1111-1111-111111111111"
STATEMENT_B = "22222222-2222-2222-2222-222222222222"


def _append(database: Database, count: int, **kwargs: Any) -> None:
    """``count`` entries, each in its own transaction, cycling through actors and actions."""
    actors = [ALICE, BOB, SYSTEM]
    actions = list(AuditAction)
    for i in range(count):
        with database.session() as session:
            record(
                session,
                actors[i % len(actors)],
                actions[i % len(actions)],
                f"op.{i + 1}",
                statement_id=STATEMENT_A if i % 2 == 0 else STATEMENT_B,
                justification=f"reason {i + 1}",
                detail={"n": i + 1, "fields": ["narrative", "witness"], "ratio": 0.5},
                **kwargs,
            )


def _verify(database: Database, **kwargs: Any) -> Any:
    with database.session() as session:
        return verify(session, **kwargs)


def _execute(database: Database, sql: str, **params: Any) -> None:
    with database.engine.begin() as conn:
        conn.execute(text(sql), params)


def _drop_triggers(database: Database) -> None:
    """What a DBA with full rights could do: switch the append-only protection off."""
    if database.dialect == "postgresql":
        _execute(database, "DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        _execute(database, "DROP TRIGGER audit_log_no_update")
        _execute(database, "DROP TRIGGER audit_log_no_delete")


@pytest.fixture
def chain(database: Database) -> Iterator[Database]:
    """Ten entries, then the triggers dropped so that a test can tamper."""
    _append(database, 10)
    assert _verify(database).ok
    _drop_triggers(database)
    yield database


# --- a good chain ----------------------------------------------------------------------------


def test_an_empty_log_verifies(database: Database) -> None:
    report = _verify(database)
    assert report.ok and report.entries == 0 and report.head_hash == GENESIS_HASH


def test_a_chain_of_entries_verifies_across_batches(database: Database) -> None:
    _append(database, 25)
    report = _verify(database, batch_size=4)
    assert (report.ok, report.entries, report.first_broken, report.reason) == (True, 25, None, None)
    with database.session() as session:
        entries, total = query(session, limit=1000)
        head = session.get(AuditHead, 1)
    assert total == 25 and [e.seq for e in entries] == list(range(1, 26))
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
        assert after.at >= before.at
    assert head is not None and (head.seq, head.entry_hash) == (25, entries[-1].entry_hash)
    assert report.head_hash == entries[-1].entry_hash
    assert "intact: 25 entries" in format_report(report)


def test_the_hash_follows_the_documented_recipe(database: Database) -> None:
    """An independent verifier, written from the module docstring alone, gets the same hash."""
    with database.session() as session:
        record(
            session,
            BOB,
            AuditAction.CONSULTATION,
            "statement.view",
            statement_id=STATEMENT_A,
            justification="  Café  enquiry\n\tfor CPS  ",
            detail={"zeta": [1, 2.5, None, True], "alpha": {"ü": "ß"}},
        )
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT seq, prev_hash, entry_hash FROM audit_log")).one()
    fields = {
        "seq": 1,
        "at": None,  # filled from the stored value below
        "actor_id": "u-bob",
        "actor_name": "Bob Builder",
        "actor_roles": ["case_builder", "supervisor"],
        "action": "consultation",
        "operation": "statement.view",
        "statement_id": STATEMENT_A,
        "justification": "Café enquiry for CPS",
        "detail": {"alpha": {"ü": "ß"}, "zeta": [1, 2.5, None, True]},
    }
    with database.session() as session:
        stored = session.get(AuditEntry, 1)
        assert stored is not None
        fields["at"] = stored.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert b'": ' not in canonical and b', "' not in canonical  # no whitespace separators
    assert "Café".encode() in canonical  # non-ASCII as itself, not \u00e9
    expected = hashlib.sha256(GENESIS_HASH.encode() + canonical).hexdigest()
    assert row.prev_hash == GENESIS_HASH
    assert row.entry_hash == expected


def test_the_time_read_back_hashes_as_written(database: Database) -> None:
    """Microseconds survive the round trip through each backend, so the hash still matches."""
    with database.session() as session:
        written = record(session, ALICE, AuditAction.COLLECTION, "statement.upload")
        written_at, written_hash = written.at, written.entry_hash
    assert written_at.tzinfo is not None
    with database.sessions() as fresh:
        read = fresh.get(AuditEntry, written.seq)
        assert read is not None
        assert read.at == written_at
        assert read.at.microsecond == written_at.microsecond
        assert canonical_time(read.at) == canonical_time(written_at)
        assert compute_hash(read) == written_hash


def test_canonical_time_is_utc_with_six_fraction_digits() -> None:
    on_the_second = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert canonical_time(on_the_second) == "2026-03-01T12:00:00.000000Z"
    in_bst = datetime(2026, 7, 1, 13, 0, 0, 42, tzinfo=timezone(timedelta(hours=1)))
    assert canonical_time(in_bst) == "2026-07-01T12:00:00.000042Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_time(datetime(2026, 1, 1))


def test_an_entry_rolls_back_with_the_callers_transaction(database: Database) -> None:
    with pytest.raises(RuntimeError, match="the edit failed"), database.session() as session:
        record(session, ALICE, AuditAction.ALTERATION, "statement.edit")
        raise RuntimeError("the edit failed")
    with database.session() as session:
        assert query(session)[1] == 0
        assert session.get(AuditHead, 1) is not None
    assert _verify(database).head_hash == GENESIS_HASH
    _append(database, 1)
    assert _verify(database).entries == 1


# --- the database refuses changes ------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_log",
    ],
)
def test_the_database_refuses_update_and_delete(database: Database, sql: str) -> None:
    _append(database, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        _execute(database, sql)
    assert _verify(database).ok


# --- tampering is found ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        ("UPDATE audit_log SET operation = 'statement.view' WHERE seq = 4", 4),
        ("UPDATE audit_log SET actor_id = 'u-mallory' WHERE seq = 3", 3),
        ("UPDATE audit_log SET actor_name = 'Someone Else' WHERE seq = 9", 9),
        ("UPDATE audit_log SET action = 'consultation' WHERE seq = 2", 2),
        ("UPDATE audit_log SET statement_id = NULL WHERE seq = 7", 7),
        ("UPDATE audit_log SET justification = 'routine check' WHERE seq = 6", 6),
        ("UPDATE audit_log SET justification = NULL WHERE seq = 1", 1),
        ("UPDATE audit_log SET detail = '{}' WHERE seq = 5", 5),
        ("UPDATE audit_log SET entry_hash = prev_hash WHERE seq = 8", 8),
    ],
)
def test_a_changed_field_is_found(chain: Database, sql: str, broken: int) -> None:
    _execute(chain, sql)
    report = _verify(chain)
    assert not report.ok
    assert report.first_broken == broken
    assert report.reason == f"entry {broken}: its hash does not match its content"
    assert report.entries == broken - 1
    assert f"BROKEN at entry {broken}" in format_report(report)


def test_a_changed_time_is_found(chain: Database) -> None:
    with chain.session() as session:
        entry = session.get(AuditEntry, 5)
        assert entry is not None
        earlier = entry.at - timedelta(microseconds=1)
    _execute(chain, "UPDATE audit_log SET at = :at WHERE seq = 5", at=_bind_time(chain, earlier))
    report = _verify(chain)
    assert (report.ok, report.first_broken) == (False, 5)


def _bind_time(database: Database, at: datetime) -> Any:
    # What the UTCDateTime column would bind: naive UTC on SQLite, aware on PostgreSQL.
    return at.replace(tzinfo=None) if database.dialect == "sqlite" else at


def test_a_changed_roles_list_is_found(chain: Database) -> None:
    _execute(chain, """UPDATE audit_log SET actor_roles = '["admin"]' WHERE seq = 2""")
    assert _verify(chain).first_broken == 2


def test_a_deleted_middle_entry_is_found(chain: Database) -> None:
    _execute(chain, "DELETE FROM audit_log WHERE seq = 6")
    report = _verify(chain)
    assert (report.ok, report.first_broken, report.entries) == (False, 6, 5)
    assert report.reason == "entry 6 is missing (the next entry is 7)"


def test_several_deleted_entries_are_named(chain: Database) -> None:
    _execute(chain, "DELETE FROM audit_log WHERE seq IN (3, 4, 5)")
    report = _verify(chain)
    assert report.first_broken == 3
    assert report.reason == "entries 3 to 5 are missing (the next entry is 6)"


def test_a_deleted_last_entry_is_found_by_the_head(chain: Database) -> None:
    _execute(chain, "DELETE FROM audit_log WHERE seq = 10")
    report = _verify(chain)
    assert (report.ok, report.first_broken, report.entries) == (False, 10, 9)
    assert report.reason == "entry 10 is missing: the head records 10 entries, the log ends at 9"


def test_a_truncated_tail_with_the_head_rewound_is_found(chain: Database) -> None:
    """Deleting the tail and moving the head's seq back, but not its hash, is still found."""
    _execute(chain, "DELETE FROM audit_log WHERE seq > 7")
    _execute(chain, "UPDATE audit_head SET seq = 7 WHERE id = 1")
    report = _verify(chain)
    assert (report.ok, report.first_broken) == (False, 7)
    assert "does not match the one the head records" in (report.reason or "")


def test_swapped_entries_are_found(chain: Database) -> None:
    _execute(chain, "UPDATE audit_log SET seq = -1 WHERE seq = 4")
    _execute(chain, "UPDATE audit_log SET seq = 4 WHERE seq = 5")
    _execute(chain, "UPDATE audit_log SET seq = 5 WHERE seq = -1")
    report = _verify(chain)
    assert (report.ok, report.first_broken, report.entries) == (False, 4, 3)


def test_a_rehashed_entry_breaks_the_link_after_it(chain: Database) -> None:
    """Changing entry 5 and recomputing its own hash leaves entry 6 pointing at the old one."""
    with chain.session() as session:
        entry = session.get(AuditEntry, 5)
        assert entry is not None
        session.expunge(entry)
    entry.justification = "a better-sounding reason"
    new_hash = compute_hash(entry)
    _execute(
        chain,
        "UPDATE audit_log SET justification = :j, entry_hash = :h WHERE seq = 5",
        j=entry.justification,
        h=new_hash,
    )
    report = _verify(chain)
    assert (report.ok, report.first_broken) == (False, 6)
    assert report.reason is not None and report.reason.startswith(
        "entry 6: its prev_hash does not match entry 5's hash"
    )


def test_an_entry_slipped_in_beyond_the_head_is_found(chain: Database) -> None:
    with chain.session() as session:
        last = session.get(AuditEntry, 10)
        assert last is not None
        session.expunge(last)
    columns = "seq, at, actor_id, actor_name, actor_roles, action, operation, statement_id, "
    columns += "justification, detail, prev_hash, entry_hash"
    _execute(
        chain,
        f"INSERT INTO audit_log ({columns}) SELECT 11, at, actor_id, actor_name, actor_roles, "
        "action, operation, statement_id, justification, detail, entry_hash, entry_hash "
        "FROM audit_log WHERE seq = 10",
    )
    report = _verify(chain)
    assert (report.ok, report.first_broken) == (False, 11)
    assert "beyond the head" in (report.reason or "")


def test_a_changed_head_hash_is_found(chain: Database) -> None:
    _execute(chain, "UPDATE audit_head SET entry_hash = :h WHERE id = 1", h="f" * 64)
    report = _verify(chain)
    assert (report.ok, report.first_broken, report.entries) == (False, 10, 10)


def test_a_break_deep_in_a_batched_walk_is_named(database: Database) -> None:
    _append(database, 23)
    _drop_triggers(database)
    _execute(database, "UPDATE audit_log SET operation = 'x' WHERE seq = 17")
    report = _verify(database, batch_size=5)
    assert (report.first_broken, report.entries) == (17, 16)


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_appends_form_one_linear_chain(database: Database) -> None:
    threads, per_thread = 8, 20
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        actor = Principal(user_id=f"u-{worker}", name=f"Worker {worker}")
        try:
            start.wait()
            for i in range(per_thread):
                with database.session() as session:
                    record(
                        session,
                        actor,
                        AuditAction.CONSULTATION,
                        "statement.view",
                        detail={"worker": worker, "i": i},
                    )
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []

    report = _verify(database, batch_size=64)
    assert (report.ok, report.entries) == (True, threads * per_thread), report.reason
    with database.session() as session:
        entries, total = query(session, limit=1000)
    assert total == threads * per_thread
    assert [e.seq for e in entries] == list(range(1, total + 1))
    assert {(e.detail["worker"], e.detail["i"]) for e in entries} == {
        (w, i) for w in range(threads) for i in range(per_thread)
    }
    # Each worker's own entries appear in the order it wrote them.
    for worker in range(threads):
        mine = [e.detail["i"] for e in entries if e.detail["worker"] == worker]
        assert mine == list(range(per_thread))


# --- querying --------------------------------------------------------------------------------


def test_query_filters_by_statement_actor_action_and_time(database: Database) -> None:
    _append(database, 6)  # seq 1..6
    with database.session() as session:
        middle = session.get(AuditEntry, 6)
        assert middle is not None
        cut = middle.at + timedelta(microseconds=1)
    _append(database, 6)  # seq 7..12, all at or after `cut`

    with database.session() as session:
        by_statement, total = query(session, statement_id=STATEMENT_B)
        assert total == 6 and [e.seq for e in by_statement] == [2, 4, 6, 8, 10, 12]

        by_actor, total = query(session, actor_id="u-bob")
        assert total == 4 and [e.seq for e in by_actor] == [2, 5, 8, 11]
        assert all(e.actor_name == "Bob Builder" for e in by_actor)

        by_action, total = query(session, action=AuditAction.DISCLOSURE)
        assert total == 2 and [e.seq for e in by_action] == [4, 10]

        before, total = query(session, until=cut)
        assert total == 6 and [e.seq for e in before] == [1, 2, 3, 4, 5, 6]
        after, total = query(session, since=cut)
        assert total == 6 and after[0].seq == 7

        combined, total = query(session, statement_id=STATEMENT_A, actor_id="u-alice", since=cut)
        assert total == 1 and [e.seq for e in combined] == [7]

        nothing, total = query(session, actor_id="u-nobody")
        assert (nothing, total) == ([], 0)


def test_query_pages_in_seq_order(database: Database) -> None:
    _append(database, 12)
    with database.session() as session:
        first, total = query(session, limit=5)
        second, _ = query(session, offset=5, limit=5)
        last, _ = query(session, offset=10, limit=5)
        beyond, total_beyond = query(session, offset=20, limit=5)
        filtered, filtered_total = query(session, statement_id=STATEMENT_A, offset=2, limit=2)
    assert total == 12
    assert [e.seq for e in first + second + last] == list(range(1, 13))
    assert (beyond, total_beyond) == ([], 12)
    assert filtered_total == 6 and [e.seq for e in filtered] == [5, 7]


def test_query_refuses_bad_arguments(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(ValueError, match="offset"):
            query(session, offset=-1)
        with pytest.raises(ValueError, match="limit"):
            query(session, limit=0)
        with pytest.raises(ValueError, match="limit"):
            query(session, limit=100_000)
        with pytest.raises(ValueError, match="timezone-aware"):
            query(session, since=datetime(2026, 1, 1))


def test_entry_json_holds_every_field(database: Database) -> None:
    with database.session() as session:
        entry = record(
            session,
            BOB,
            AuditAction.DISCLOSURE,
            "statement.submit",
            statement_id=STATEMENT_A,
            justification="to CPS",
            detail={"destination": "cps"},
        )
        body = entry_json(entry)
    assert body == {
        "seq": 1,
        "at": canonical_time(entry.at),
        "actor_id": "u-bob",
        "actor_name": "Bob Builder",
        "actor_roles": ["case_builder", "supervisor"],
        "action": "disclosure",
        "operation": "statement.submit",
        "statement_id": STATEMENT_A,
        "justification": "to CPS",
        "detail": {"destination": "cps"},
        "prev_hash": GENESIS_HASH,
        "entry_hash": entry.entry_hash,
    }
    json.dumps(body)  # ready for an HTTP response as it is


# --- what record() refuses and normalises ----------------------------------------------------


class _Opaque:
    pass


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        ({"text": "x" * (DETAIL_MAX_STRING + 1)}, "never statement content"),
        ({"audio": b"RIFF"}, "is a bytes"),
        ({"when": datetime.now(UTC)}, "is a datetime"),
        ({"thing": _Opaque()}, "is a _Opaque"),
        ({"ratio": float("nan")}, "finite"),
        ({"ratio": float("inf")}, "finite"),
        ({1: "one"}, "not a string"),
        ({"a": {"b": {"c": {"d": 1}}}}, "nests deeper"),
        ({"names": ["x" * (DETAIL_MAX_STRING + 1)]}, r"detail\.names\[0\]"),
        ({"ids": list(range(51))}, "members"),
        ({"nul": "a\x00b"}, "NUL"),
        ({f"k{i}": "y" * 100 for i in range(45)}, "bytes as JSON"),
    ],
)
def test_record_refuses_a_wrong_detail(detail: Any, message: str) -> None:
    # The shape is checked before the database is touched: this session has no engine at all.
    with Session() as session, pytest.raises(ValueError, match=message):
        record(session, ALICE, AuditAction.ALTERATION, "statement.edit", detail=detail)


def test_record_refuses_bad_identifiers() -> None:
    with Session() as session:
        with pytest.raises(ValueError, match="operation is empty"):
            record(session, ALICE, AuditAction.ALTERATION, "")
        with pytest.raises(ValueError, match="operation is 65 characters"):
            record(session, ALICE, AuditAction.ALTERATION, "x" * 65)
        with pytest.raises(ValueError, match="statement id"):
            record(session, ALICE, AuditAction.ALTERATION, "op", statement_id="s" * 37)
        with pytest.raises(ValueError, match="not a valid AuditAction"):
            record(session, ALICE, "peeking", "op")  # type: ignore[arg-type]


def test_record_accepts_the_allowed_detail_shapes(database: Database) -> None:
    detail = {
        "version": 3,
        "fields": ["narrative", "witness.address"],
        "limits": {"bytes": 1_000_000, "ratio": 0.25, "ok": True, "note": None, "by": [1, 2]},
        "long_id": "x" * DETAIL_MAX_STRING,
    }
    with database.session() as session:
        entry = record(session, ALICE, AuditAction.ALTERATION, "statement.edit", detail=detail)
        assert entry.detail == detail
    assert _verify(database).ok


def test_justification_is_normalised_and_capped(database: Database) -> None:
    assert normalise_justification(None) is None
    assert normalise_justification(" \n\t ") is None
    assert normalise_justification("  CPS\r\n  review\x00of  case ") == "CPS review of case"
    long = normalise_justification("why " * 400)
    assert long is not None and len(long) == JUSTIFICATION_MAX_CHARS and long.endswith("…")
    with database.session() as session:
        entry = record(
            session, BOB, AuditAction.CONSULTATION, "audio.play", justification="a\x00b " * 300
        )
        assert entry.justification is not None
        assert len(entry.justification) == JUSTIFICATION_MAX_CHARS
    assert _verify(database).ok


def test_a_long_display_name_is_shortened_not_refused(database: Database) -> None:
    long_name = Principal(user_id="oidc:someone", name="N" * 500, roles=frozenset({Role.ADMIN}))
    with database.session() as session:
        entry = record(session, long_name, AuditAction.CONSULTATION, "audit.query")
        assert len(entry.actor_name) == 200 and entry.actor_roles == ["admin"]
    assert _verify(database).ok
