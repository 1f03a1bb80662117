"""The audit log: an append-only, hash-chained record of who did what to which statement, and why.

The Data Protection Act 2018 Part 3 (s.62) asks a law-enforcement processor to log every
collection, alteration, consultation, disclosure, combination and erasure of personal data, with
who did it, when, and the justification; continuity of evidence asks that nobody can rewrite that
record unnoticed. This module is the only writer and reader of ``audit_log``.

What an entry holds
    ``seq`` (1, 2, 3, ... with no gaps), ``at`` (UTC, microseconds), the actor (``actor_id``,
    ``actor_name``, ``actor_roles``), ``action`` (one of the six s.62 categories, ``AuditAction``),
    ``operation`` (what exactly, e.g. ``statement.view`` or ``audio.play``), ``statement_id``, the
    caller's ``justification``, a small ``detail`` object, ``prev_hash`` and ``entry_hash``.

    ``detail`` must NEVER hold statement content: no witness names, addresses, dates of birth,
    statement text or transcript words. The log outlives the content it describes (an erased
    statement's entries stay), so anything personal put here would survive erasure. Put in it
    only identifiers, counts, field names, version numbers, sizes, destinations and outcomes,
    e.g. ``{"version": 3, "fields": ["narrative"]}``. ``record`` enforces the shape: a JSON
    object of str / int / float / bool / None and lists or objects of those (at most
    ``DETAIL_MAX_DEPTH`` levels and ``DETAIL_MAX_ITEMS`` members each), strings of at most
    ``DETAIL_MAX_STRING`` characters, ``DETAIL_MAX_BYTES`` in all. It cannot tell a name from
    an identifier; the callers must not pass one.

How the hash is computed (for an independent verifier)
    For entry ``n``::

        entry_hash(n) = lowercase_hex(SHA-256(prev_hash(n) || canonical(n)))

    ``prev_hash(n)`` is the 64 lowercase hex characters of ``entry_hash(n - 1)`` as ASCII bytes,
    and 64 ``"0"`` characters for entry 1 (the genesis value in ``audit_head``). ``||`` is plain
    concatenation, no separator. ``canonical(n)`` is the UTF-8 encoding of a JSON object with
    exactly these ten members::

        action         the s.62 category string, e.g. "consultation"
        actor_id       string
        actor_name     string
        actor_roles    array of role strings, as stored (sorted ascending when written)
        at             string "YYYY-MM-DDTHH:MM:SS.ffffffZ": UTC, always six fraction digits
        detail         object ({} when there is none)
        justification  string, or null
        operation      string
        seq            integer
        statement_id   string, or null

    serialised with object keys sorted by code point at every level, no whitespace at all
    (separators ``,`` and ``:``), non-ASCII characters written as themselves (UTF-8, not
    ``\\u`` escapes), strings escaped with ``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t`` ``\\b``
    ``\\f`` and ``\\u00XX`` (lowercase hex) for the other characters below U+0020, integers in
    decimal, floats in their shortest round-trip form as Python writes them (``0.5``,
    ``1e-07``, ``1e+16``; NaN and infinities are refused), ``true``/``false``/``null``. This is
    exactly Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False).encode("utf-8")``, and is RFC 8785 (JCS) output
    whenever ``detail`` holds no floats and no keys outside the Basic Multilingual Plane.

    ``audit_head`` (one row, ``id = 1``) holds the last entry's ``seq`` and ``entry_hash``.

What verification proves
    ``verify`` recomputes every hash, checks each ``prev_hash`` link, that ``seq`` runs 1, 2, 3
    ... without a gap (a deleted entry is found) and that the head matches the last entry (a
    removed tail is found). Changing, removing, inserting or reordering any entry breaks the
    chain from that entry on. The database also refuses UPDATE and DELETE on ``audit_log`` by
    trigger (migration 0002), so only someone who can drop a trigger can try. Someone with that
    power could rewrite an entry and recompute every hash after it and the head; what defeats
    that is the head hash written down somewhere they cannot reach (``format_report`` prints it:
    note it in a ticket, a signed email or another system from time to time), since a rewritten
    chain no longer passes through it.

Appending
    ``record`` writes in the caller's transaction, so an edit and its audit entry commit (or roll
    back) together. It first runs ``UPDATE audit_head SET seq = seq + 1 WHERE id = 1``: a row
    lock on PostgreSQL and the database write lock on SQLite, held until the caller's
    transaction ends, so concurrent appends from any number of threads, processes or hosts form
    one linear chain. Because that lock is held to the end of the caller's transaction, record
    late in it (after the change it describes) and keep such transactions short.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.tables import AuditEntry, AuditHead, utcnow
from models.users import Principal

GENESIS_HASH = "0" * 64
"""``prev_hash`` of entry 1, and the head's hash while the log is empty."""

HEAD_ID = 1

# Column widths of audit_log (migration 0002): PostgreSQL enforces them, so record() checks
# first and says which value is too long instead of failing inside the INSERT.
ACTOR_ID_MAX = 200
ACTOR_NAME_MAX = 200
OPERATION_MAX = 64
STATEMENT_ID_MAX = 36

JUSTIFICATION_MAX_CHARS = 500
"""A justification longer than this (after whitespace is normalised) is cut to it, ending in an
ellipsis: a reason for access is a sentence or two, and the log is not a document store."""

DETAIL_MAX_STRING = 200
"""The longest string ``detail`` may hold: room for an identifier, a field name or a URL, too
little for a paragraph of statement text."""
DETAIL_MAX_DEPTH = 3
"""How deeply lists and objects may nest in ``detail`` (the top-level object is depth 1)."""
DETAIL_MAX_ITEMS = 50
"""The most members one list or object in ``detail`` may have."""
DETAIL_MAX_BYTES = 4096
"""The most canonical-JSON bytes ``detail`` may take in all."""

VERIFY_BATCH = 1000
"""Entries read per query while verifying: the chain is walked in such batches, never loaded
whole."""

QUERY_MAX_LIMIT = 1000
"""The most entries one ``query`` page may return."""


class AuditAction(StrEnum):
    """The kinds of processing DPA 2018 s.62(1) requires to be logged."""

    COLLECTION = "collection"  # a statement recorded: upload, machine draft
    ALTERATION = "alteration"  # an edit, a confirmation, a reassignment
    CONSULTATION = "consultation"  # a view, an export, an audio playback
    DISCLOSURE = "disclosure"  # a submission or referral to another system
    COMBINATION = "combination"  # data joined with data from elsewhere
    ERASURE = "erasure"  # content and audio removed (retention or an administrator)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found.

    ok: True when every entry and the head are as they were written.
    entries: how many entries were checked (up to the first broken one, or all of them).
    first_broken: the ``seq`` of the first entry found wrong or missing (None when ok).
    reason: what is wrong, naming that entry (None when ok).
    head_hash: the head's ``entry_hash`` when verification began: when ``ok``, the value to note
        elsewhere so that a later rewrite of the whole chain can be told apart.
    head_seq: the head's ``seq`` when verification began.
    """

    ok: bool
    entries: int
    first_broken: int | None
    reason: str | None
    head_hash: str | None = None
    head_seq: int | None = None


# --- hashing -------------------------------------------------------------------------------


def canonical_time(at: datetime) -> str:
    """``at`` as the hash sees it: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six digits)."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _hashed_fields(entry: Any) -> dict[str, Any]:
    """The ten members that ``canonical(n)`` covers, from an ``AuditEntry`` or a result row."""
    return {
        "seq": entry.seq,
        "at": canonical_time(entry.at),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "actor_roles": list(entry.actor_roles),
        "action": entry.action,
        "operation": entry.operation,
        "statement_id": entry.statement_id,
        "justification": entry.justification,
        "detail": entry.detail if entry.detail is not None else {},
    }


def compute_hash(entry: Any) -> str:
    """The ``entry_hash`` that ``entry`` (its fields and ``prev_hash``) should carry."""
    payload = entry.prev_hash.encode("ascii") + _canonical_json(_hashed_fields(entry))
    return hashlib.sha256(payload).hexdigest()


# --- validation ------------------------------------------------------------------------------


def normalise_justification(text: str | None) -> str | None:
    """Whitespace runs and control characters become one space, the ends are trimmed, and the
    result is cut to ``JUSTIFICATION_MAX_CHARS``; an empty justification is None."""
    if text is None:
        return None
    # Control characters (NUL included, which PostgreSQL text refuses) read as spaces.
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    normalised = " ".join(cleaned.split())
    if not normalised:
        return None
    if len(normalised) > JUSTIFICATION_MAX_CHARS:
        normalised = normalised[: JUSTIFICATION_MAX_CHARS - 1].rstrip() + "…"
    return normalised


def _check_detail(value: Any, *, path: str, depth: int) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit detail {path} is {value}: only finite numbers")
        return
    if isinstance(value, str):
        if len(value) > DETAIL_MAX_STRING:
            raise ValueError(
                f"audit detail {path} is {len(value)} characters long (at most "
                f"{DETAIL_MAX_STRING}): the audit log holds identifiers, never statement content"
            )
        if "\x00" in value:
            raise ValueError(f"audit detail {path} holds a NUL character")
        return
    if isinstance(value, list | dict):
        if depth >= DETAIL_MAX_DEPTH:
            raise ValueError(f"audit detail {path} nests deeper than {DETAIL_MAX_DEPTH} levels")
        if len(value) > DETAIL_MAX_ITEMS:
            raise ValueError(
                f"audit detail {path} has {len(value)} members (at most {DETAIL_MAX_ITEMS})"
            )
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check_detail(item, path=f"{path}[{index}]", depth=depth + 1)
            return
        for key, item in value.items():
            _check_key(key, path=path)
            _check_detail(item, path=f"{path}.{key}", depth=depth + 1)
        return
    raise ValueError(
        f"audit detail {path} is a {type(value).__name__}: only str, int, float, bool, None "
        "and lists or objects of those"
    )


def _check_key(key: Any, *, path: str) -> None:
    if not isinstance(key, str):
        raise ValueError(f"audit detail {path} has a key {key!r} that is not a string")
    if len(key) > DETAIL_MAX_STRING or "\x00" in key:
        raise ValueError(f"audit detail {path} has a key that is too long or holds NUL")


def _validated_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    if detail is None:
        return {}
    if not isinstance(detail, dict):
        raise ValueError(f"audit detail must be an object, not a {type(detail).__name__}")
    if len(detail) > DETAIL_MAX_ITEMS:
        raise ValueError(f"audit detail has {len(detail)} members (at most {DETAIL_MAX_ITEMS})")
    for key, item in detail.items():
        _check_key(key, path="detail")
        _check_detail(item, path=f"detail.{key}", depth=1)
    size = len(_canonical_json(detail))
    if size > DETAIL_MAX_BYTES:
        raise ValueError(f"audit detail is {size} bytes as JSON (at most {DETAIL_MAX_BYTES})")
    return detail


def _bounded(value: str, *, what: str, limit: int) -> str:
    if not value:
        raise ValueError(f"audit {what} is empty")
    if len(value) > limit:
        raise ValueError(f"audit {what} is {len(value)} characters long (at most {limit})")
    return value


# --- appending -------------------------------------------------------------------------------


def record(
    session: Session,
    actor: Principal,
    action: AuditAction,
    operation: str,
    *,
    statement_id: str | None = None,
    justification: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction (nothing is committed here).

    ``operation`` names what was done (``statement.view``); ``justification`` is normalised by
    ``normalise_justification``; ``detail`` must hold no statement content (see the module
    docstring) and is refused with a ValueError when its shape is wrong. The head row stays
    locked until the caller's transaction ends.
    """
    action = AuditAction(action)
    _bounded(operation, what="operation", limit=OPERATION_MAX)
    _bounded(actor.user_id, what="actor id", limit=ACTOR_ID_MAX)
    if statement_id is not None:
        _bounded(statement_id, what="statement id", limit=STATEMENT_ID_MAX)
    # A display name only: a long one is shortened rather than losing the entry.
    actor_name = actor.name[:ACTOR_NAME_MAX] or actor.user_id[:ACTOR_NAME_MAX]
    checked_detail = _validated_detail(detail)
    reason = normalise_justification(justification)

    # Take the lock before reading the head: every appender is serialised here, and the read
    # that follows sees the latest committed head (PostgreSQL re-reads the row it waited for).
    bumped = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(bumped, "rowcount", 1) != 1:
        raise RuntimeError("the audit head row is missing: the database was not migrated (0002)")
    seq, prev_hash = session.execute(
        select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
    ).one()

    entry = AuditEntry(
        seq=seq,
        # Taken under the lock, so that time never runs backwards along the chain.
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor_name,
        actor_roles=sorted(str(role) for role in actor.roles),
        action=str(action),
        operation=operation,
        statement_id=statement_id,
        justification=reason,
        detail=checked_detail,
        prev_hash=prev_hash,
    )
    entry.entry_hash = compute_hash(entry)
    session.add(entry)
    session.flush()
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(entry_hash=entry.entry_hash)
        .execution_options(synchronize_session=False)
    )
    return entry


# --- verifying -------------------------------------------------------------------------------

_ROW_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.actor_id,
    AuditEntry.actor_name,
    AuditEntry.actor_roles,
    AuditEntry.action,
    AuditEntry.operation,
    AuditEntry.statement_id,
    AuditEntry.justification,
    AuditEntry.detail,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def verify(session: Session, *, batch_size: int = VERIFY_BATCH) -> ChainReport:
    """Walk the whole chain in ``seq`` order, ``batch_size`` entries at a time, and report the
    first entry that is wrong or missing.

    The head is read first; entries appended while the walk runs (after that head) are left for
    the next verification. Each entry's seq must follow the last one's, its ``prev_hash`` must
    be the last one's ``entry_hash`` and its ``entry_hash`` must match its content; at the end
    the head must name the last entry, and no entry may lie beyond the head.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    head = session.execute(
        select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
    ).one_or_none()
    if head is None:
        return ChainReport(False, 0, 1, "the audit head row is missing")
    head_seq, head_hash = int(head.seq), str(head.entry_hash)

    def broken(checked: int, seq: int, reason: str) -> ChainReport:
        return ChainReport(False, checked, seq, reason, head_hash=head_hash, head_seq=head_seq)

    last_seq, last_hash, checked = 0, GENESIS_HASH, 0
    while True:
        rows = session.execute(
            select(*_ROW_COLUMNS)
            .where(AuditEntry.seq > last_seq, AuditEntry.seq <= head_seq)
            .order_by(AuditEntry.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row in rows:
            expected = last_seq + 1
            if row.seq != expected:
                return broken(
                    checked,
                    expected,
                    f"{_missing(expected, row.seq - 1)} (the next entry is {row.seq})",
                )
            if row.prev_hash != last_hash:
                before = f"entry {last_seq}'s hash" if last_seq else "the genesis hash"
                return broken(
                    checked,
                    row.seq,
                    f"entry {row.seq}: its prev_hash does not match {before} "
                    "(an entry before it was changed, removed or reordered)",
                )
            try:
                recomputed = compute_hash(row)
            except (TypeError, ValueError, AttributeError) as exc:
                return broken(
                    checked, row.seq, f"entry {row.seq}: its content cannot be hashed ({exc})"
                )
            if recomputed != row.entry_hash:
                return broken(
                    checked, row.seq, f"entry {row.seq}: its hash does not match its content"
                )
            last_seq, last_hash = row.seq, row.entry_hash
            checked += 1

    if last_seq < head_seq:
        return broken(
            checked,
            last_seq + 1,
            f"{_missing(last_seq + 1, head_seq)}: the head records {head_seq} entries, "
            f"the log ends at {last_seq}",
        )
    if last_hash != head_hash:
        return broken(
            checked,
            head_seq,
            f"entry {head_seq}: its hash does not match the one the head records "
            "(the last entry was replaced)",
        )
    # One statement, hence one snapshot: an append commits its entry and the head together.
    beyond, now_head = session.execute(
        select(
            select(func.max(AuditEntry.seq)).scalar_subquery(),
            select(AuditHead.seq).where(AuditHead.id == HEAD_ID).scalar_subquery(),
        )
    ).one()
    if beyond is not None and now_head is not None and beyond > now_head:
        return broken(
            checked,
            int(now_head) + 1,
            f"entry {int(now_head) + 1} lies beyond the head (seq {now_head}): "
            "it was inserted without going through the chain",
        )
    return ChainReport(True, checked, None, None, head_hash=head_hash, head_seq=head_seq)


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} is missing"
    return f"entries {first} to {last} are missing"


def format_report(report: ChainReport) -> str:
    """One line for the CLI and the admin page."""
    if report.ok:
        return (
            f"audit log intact: {report.entries} entries, head hash {report.head_hash} "
            "(note it elsewhere to anchor this point of the chain)"
        )
    return (
        f"audit log BROKEN at entry {report.first_broken}: {report.reason} "
        f"({report.entries} entries before it verified)"
    )


# --- reading ---------------------------------------------------------------------------------


def query(
    session: Session,
    *,
    statement_id: str | None = None,
    actor_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int]:
    """Entries matching every filter given, in ``seq`` order: one page of them and how many
    match in all. ``since`` is inclusive and ``until`` exclusive (both timezone-aware)."""
    if offset < 0:
        raise ValueError("offset must not be negative")
    if not 1 <= limit <= QUERY_MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {QUERY_MAX_LIMIT}")
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and bound.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    conditions = []
    if statement_id is not None:
        conditions.append(AuditEntry.statement_id == statement_id)
    if actor_id is not None:
        conditions.append(AuditEntry.actor_id == actor_id)
    if action is not None:
        conditions.append(AuditEntry.action == str(AuditAction(action)))
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    if until is not None:
        conditions.append(AuditEntry.at < until)
    total = session.execute(
        select(func.count()).select_from(AuditEntry).where(*conditions)
    ).scalar_one()
    entries = session.scalars(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.seq).offset(offset).limit(limit)
    ).all()
    return list(entries), int(total)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the admin API returns it: every stored field, ``at`` as in the hash."""
    return {**_hashed_fields(entry), "prev_hash": entry.prev_hash, "entry_hash": entry.entry_hash}
