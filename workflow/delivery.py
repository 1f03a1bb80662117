"""Delivery of the outbox: confirmed statements to the justice system, referrals to safeguarding.

``submit`` (and the draft step, for safeguarding referrals) call :func:`enqueue` inside their own
transaction, so a message exists exactly when the change it reports was committed. A deliverer
(:class:`OutboxDelivery`, run by the embedded worker or by Celery worker processes on other
machines, several at once against one database) then sends each message:

- it claims one message at a time with a guarded ``UPDATE`` that only succeeds while the message
  is still due and unleased, so two deliverers never send the same message at the same time;
- it sends with no transaction open (a slow endpoint must not hold database locks);
- it records the outcome under the same lease token, so a deliverer whose lease lapsed (it
  stalled, and another took the message over) cannot overwrite the newer outcome.

A deliverer that dies mid-send leaves its lease behind; once it lapses the message is claimed
again. The receiver may therefore see a message twice in that case (never concurrently), which
is what the idempotency key is for: every attempt of one message carries the same key.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from sqlalchemy import ColumnElement, CursorResult, Table, and_, or_, select, update
from sqlalchemy.orm import Session

from models.tables import DeliveryState, OutboxMessage, utcnow
from models.users import SYSTEM
from security import audit
from security.audit import AuditAction
from workflow.database import Database
from workflow.files import fsync_directory

logger = logging.getLogger(__name__)

KINDS = ("submission", "referral")

try:
    _VERSION = metadata.version("voice-statement")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    _VERSION = "0"
USER_AGENT = f"voice-statement/{_VERSION}"

# Statuses that say "not now" rather than "never": timeouts, too early, rate limits.
_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_BODY_EXCERPT = 500
# last_error is shown to officers and administrators; an endless error body helps nobody.
_MAX_ERROR_CHARS = 2000
# Keys and kinds become file names in a file drop: nothing that could leave the directory.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class DeliveryResult:
    """One attempt's outcome. ``permanent``: do not try this message again."""

    delivered: bool
    status: int | None = None
    error: str | None = None
    permanent: bool = False


class Sender(Protocol):
    def send(
        self, *, kind: str, payload: dict[str, Any], idempotency_key: str
    ) -> DeliveryResult: ...


class HttpSender:
    """POSTs the message as JSON; the receiver deduplicates on the ``Idempotency-Key`` header."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, *, kind: str, payload: dict[str, Any], idempotency_key: str) -> DeliveryResult:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-Voice-Statement-Kind": kind,
            "User-Agent": USER_AGENT,
        }
        try:
            # A client per attempt: deliveries are rare, and nothing is left open between them.
            # Redirects are not followed: a statement must go only where it was configured to.
            with (
                httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client,
                client.stream("POST", self.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                location = response.headers.get("Location")
                excerpt = _read_excerpt(response) if not 200 <= status < 300 else ""
        except httpx.TimeoutException as exc:
            return DeliveryResult(False, error=f"timed out after {self.timeout_s:g} s: {exc}")
        except httpx.TransportError as exc:
            return DeliveryResult(False, error=f"{type(exc).__name__}: {exc}")
        except httpx.InvalidURL as exc:
            return DeliveryResult(False, error=f"invalid URL {self.url!r}: {exc}", permanent=True)

        if 200 <= status < 300:
            return DeliveryResult(True, status=status)
        if 300 <= status < 400:
            return DeliveryResult(
                False,
                status=status,
                error=f"HTTP {status}: redirected to {location or '(no Location)'}; "
                "redirects are not followed, configure the final URL",
                permanent=True,
            )
        error = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        return DeliveryResult(False, status=status, error=error, permanent=not retryable)


def _read_excerpt(response: httpx.Response) -> str:
    """The start of an error body, without reading a huge one into memory."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= 4 * _BODY_EXCERPT:  # UTF-8: at most 4 bytes a character
            break
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return text[:_BODY_EXCERPT].strip()


class FileDropSender:
    """Writes ``<directory>/<kind>-<idempotency_key>.json``, for a system that collects files.

    The file appears whole or not at all (written beside it, then renamed), so a collector
    never reads half a statement. The name carries the idempotency key: a message sent again
    finds its file already there and counts as delivered.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, *, kind: str, payload: dict[str, Any], idempotency_key: str) -> DeliveryResult:
        if not (_SAFE_NAME.match(kind) and _SAFE_NAME.match(idempotency_key)):
            return DeliveryResult(
                False,
                error=f"kind {kind!r} or idempotency key {idempotency_key!r} "
                "cannot be used in a file name",
                permanent=True,
            )
        # Not created here: a missing directory is usually a share that is not mounted, and
        # writing to the local disk underneath would hide it. Retried until it is back.
        if not self.directory.is_dir():
            return DeliveryResult(False, error=f"file-drop directory {self.directory} is missing")
        # Keys made by the service already start with the kind ("submission-<id>").
        name = (
            idempotency_key
            if idempotency_key.startswith(f"{kind}-")
            else f"{kind}-{idempotency_key}"
        )
        target = self.directory / f"{name}.json"
        if target.exists():
            return DeliveryResult(True)
        data = (json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode(
            "utf-8"
        )
        try:
            # A dot-name with another suffix: collectors matching *.json skip the part-file.
            fd, temp_name = tempfile.mkstemp(
                dir=self.directory, prefix=f".{target.name}.", suffix=".part"
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp_name, target)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
            fsync_directory(self.directory)
        except OSError as exc:
            # Disk full, permissions, a share that went away: worth another attempt.
            return DeliveryResult(False, error=f"writing {target} failed: {exc}")
        return DeliveryResult(True)


def sender_for(destination: str, *, timeout_s: float) -> Sender:
    """The sender a configured destination names: an http(s) URL, a file:// URL or a directory.

    Raises ValueError for anything else.
    """
    value = destination.strip()
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"delivery destination {redact(value)!r} has no host")
        return HttpSender(value, timeout_s=timeout_s)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"delivery destination {value!r}: file:// URLs must name a local directory "
                "(file:///absolute/path)"
            )
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            raise ValueError(f"delivery destination {value!r}: the file:// path must be absolute")
        return FileDropSender(path)
    if not scheme and value and Path(value).is_absolute():
        return FileDropSender(Path(value))
    raise ValueError(
        f"unsupported delivery destination {redact(value)!r}: expected an http:// or https:// "
        "URL, a file:///absolute/dir URL, or an absolute directory path"
    )


def redact(destination: str) -> str:
    """The destination without any password in it (``https://user:***@host/...``)."""
    parts = urlsplit(destination)
    if parts.password is None:
        return destination
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def describe_destination(destination: str | None) -> str | None:
    """The recipient as the audit log names it: the destination, any password redacted."""
    return redact(destination) if destination else None


def enqueue(
    session: Session,
    *,
    statement_id: str,
    kind: str,
    payload: dict[str, Any],
    destination: str | None,
    max_attempts: int,
    idempotency_key: str | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (committed with it, or not at
    all). With no destination it is kept, marked ``no_destination``, and never sent."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox message kind {kind!r} (expected one of {KINDS})")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    key = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
    if not key or len(key) > 64:
        raise ValueError("an idempotency key is 1 to 64 characters")
    now = utcnow()
    message = OutboxMessage(
        statement_id=statement_id,
        kind=kind,
        destination=destination,
        idempotency_key=key,
        payload=payload,
        attempts=0,
        max_attempts=max_attempts,
        next_attempt_at=now,
        created_at=now,
    )
    if destination is None:
        message.state = DeliveryState.NO_DESTINATION
        message.last_error = (
            f"no {kind} endpoint is configured "
            "(VOICE_STATEMENT_SUBMISSION_URL / VOICE_STATEMENT_REFERRAL_URL)"
        )
    else:
        message.state = DeliveryState.PENDING
    session.add(message)
    return message


@dataclass(frozen=True)
class Claim:
    """A message this deliverer holds the lease on, with what it needs to send it."""

    id: int
    lease_token: str
    statement_id: str
    kind: str
    destination: str | None
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int  # before this attempt
    max_attempts: int


_table = cast(Table, OutboxMessage.__table__)
_c = _table.c


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due, pending, and nobody holds a live lease on it."""
    return and_(
        _c.state == DeliveryState.PENDING.value,
        _c.next_attempt_at <= now,
        or_(_c.lease_token.is_(None), _c.lease_expires_at < now),
    )


class OutboxDelivery:
    """Sends due outbox messages; any number of these may run against one database."""

    def __init__(
        self,
        database: Database,
        *,
        timeout_s: float = 15.0,
        backoff_s: float = 2.0,
        lease_s: float = 60.0,
        max_backoff_s: float = 600.0,
    ) -> None:
        self.database = database
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.lease_s = lease_s
        self.max_backoff_s = max_backoff_s
        if lease_s <= timeout_s:
            # A send could outlast the lease and another deliverer would send it alongside.
            logger.warning(
                "delivery lease (%g s) is not longer than the send timeout (%g s)",
                lease_s,
                timeout_s,
            )

    # --- one round --------------------------------------------------------------------------

    def deliver_due(self, *, now: datetime | None = None, limit: int = 20) -> int:
        """Attempt up to ``limit`` due messages; returns how many were attempted.

        ``now`` fixes the clock for the whole round (tests step it forward); by default the
        real time is read at each claim and each outcome.
        """
        attempted = 0
        seen: set[int] = set()  # never twice in one round, even with a zero backoff
        while attempted < limit:
            current = now if now is not None else utcnow()
            with self.database.engine.connect() as connection:
                candidates = [
                    row_id
                    for row_id in connection.execute(
                        select(_c.id)
                        .where(_claimable(current))
                        .order_by(_c.next_attempt_at, _c.id)
                        .limit(limit - attempted + len(seen))
                    ).scalars()
                    if row_id not in seen
                ]
            if not candidates:
                break
            for row_id in candidates:
                if attempted >= limit:
                    break
                seen.add(row_id)
                claim = self.claim(row_id, now=now)
                if claim is None:  # another deliverer took it first
                    continue
                attempted += 1
                result = self.send(claim)
                self.record(claim, result, now=now)
        return attempted

    def claim(self, message_id: int, *, now: datetime | None = None) -> Claim | None:
        """Take the lease on one message if it is still claimable; None if it is not.

        The condition is re-checked by the UPDATE itself, so of several deliverers racing for
        the same row exactly one gets rowcount 1 (PostgreSQL re-evaluates the WHERE after the
        row lock is released; SQLite runs writers one at a time).
        """
        current = now if now is not None else utcnow()
        token = str(uuid.uuid4())
        with self.database.engine.begin() as connection:
            result = connection.execute(
                update(_table)
                .where(_c.id == message_id, _claimable(current))
                .values(
                    lease_token=token,
                    lease_expires_at=current + timedelta(seconds=self.lease_s),
                )
            )
            if result.rowcount != 1:
                return None
            row = connection.execute(
                select(
                    _c.statement_id,
                    _c.kind,
                    _c.destination,
                    _c.idempotency_key,
                    _c.payload,
                    _c.attempts,
                    _c.max_attempts,
                ).where(_c.id == message_id)
            ).one()
        return Claim(
            id=message_id,
            lease_token=token,
            statement_id=row.statement_id,
            kind=row.kind,
            destination=row.destination,
            idempotency_key=row.idempotency_key,
            payload=row.payload,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
        )

    def send(self, claim: Claim) -> DeliveryResult:
        """One attempt; never raises (an unexpected error is a retryable failure)."""
        if claim.destination is None:
            return DeliveryResult(False, error="the message has no destination", permanent=True)
        try:
            sender = sender_for(claim.destination, timeout_s=self.timeout_s)
        except ValueError as exc:
            return DeliveryResult(False, error=str(exc), permanent=True)
        try:
            return sender.send(
                kind=claim.kind, payload=claim.payload, idempotency_key=claim.idempotency_key
            )
        except Exception as exc:
            # Counted as an attempt, so a message that always breaks the sender stops in time.
            logger.exception("sending outbox message %s failed unexpectedly", claim.id)
            return DeliveryResult(False, error=f"{type(exc).__name__}: {exc}")

    def record(self, claim: Claim, result: DeliveryResult, *, now: datetime | None = None) -> bool:
        """Store an attempt's outcome and release the lease; False if the lease was lost
        meanwhile (another deliverer owns the message now, and its outcome stands)."""
        current = now if now is not None else utcnow()
        attempts = claim.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": result.status,
            "last_error": result.error[:_MAX_ERROR_CHARS] if result.error else None,
            "lease_token": None,
            "lease_expires_at": None,
        }
        if result.delivered:
            values.update(state=DeliveryState.DELIVERED.value, delivered_at=current)
        elif result.permanent or attempts >= claim.max_attempts:
            values.update(state=DeliveryState.FAILED.value)
        else:
            delay = min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s)
            values.update(
                state=DeliveryState.PENDING.value,
                next_attempt_at=current + timedelta(seconds=delay),
            )
        with self.database.session() as session:
            updated = cast(
                CursorResult[Any],
                session.execute(
                    update(_table)
                    .where(_c.id == claim.id, _c.lease_token == claim.lease_token)
                    .values(**values)
                ),
            ).rowcount
            if updated == 1 and result.delivered:
                # The disclosure itself (s.62): to whom, when, in the transaction recording it.
                audit.record(
                    session,
                    SYSTEM,
                    AuditAction.DISCLOSURE,
                    f"{claim.kind}.delivered",
                    statement_id=claim.statement_id,
                    detail={
                        "recipient": describe_destination(claim.destination),
                        "idempotency_key": claim.idempotency_key,
                        "status": result.status,
                    },
                )
        if updated != 1:
            logger.warning(
                "outbox message %s: lease lapsed during the attempt; its outcome (%s) is dropped",
                claim.id,
                "delivered" if result.delivered else result.error,
            )
            return False
        if result.delivered:
            logger.info("outbox message %s (%s) delivered", claim.id, claim.kind)
        else:
            logger.warning(
                "outbox message %s (%s) attempt %d failed: %s",
                claim.id,
                claim.kind,
                attempts,
                result.error,
            )
        return True

    # --- the loop ---------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        *,
        interval_s: float = 1.0,
        wake: threading.Event | None = None,
        limit: int = 20,
    ) -> None:
        """Deliver until ``stop`` is set. ``wake`` (set by ``submit``) cuts the wait short."""
        failing = 0
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # this round sees everything committed before now
            try:
                attempted = self.deliver_due(limit=limit)
            except Exception as exc:
                # The database may be briefly unreachable; the next round tries again. One
                # traceback per outage, then a line a round.
                failing += 1
                if failing == 1:
                    logger.exception("outbox delivery round failed")
                else:
                    logger.warning("outbox delivery round failed (%d in a row): %s", failing, exc)
                attempted = 0
            else:
                if failing:
                    logger.info("outbox delivery recovered after %d failed rounds", failing)
                failing = 0
            if attempted >= limit:
                continue  # a backlog: carry on without waiting
            _wait(stop, wake, interval_s)


def _wait(stop: threading.Event, wake: threading.Event | None, interval_s: float) -> None:
    """Sleep ``interval_s``, ending early when ``stop`` or ``wake`` is set."""
    if wake is None:
        stop.wait(interval_s)
        return
    deadline = time.monotonic() + interval_s
    while not stop.is_set() and not wake.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        # Two events cannot be waited on together: wait on wake, in slices, watching stop.
        wake.wait(min(left, 0.05))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_status(messages: Sequence[OutboxMessage]) -> list[dict[str, Any]]:
    """What the API shows on a statement about each of its outbox messages."""
    return [
        {
            "kind": message.kind,
            "destination": redact(message.destination) if message.destination else None,
            "state": message.state,
            "attempts": message.attempts,
            "max_attempts": message.max_attempts,
            "last_status": message.last_status,
            "last_error": message.last_error,
            "next_attempt_at": (
                _iso(message.next_attempt_at)
                if message.state == DeliveryState.PENDING.value
                else None
            ),
            "delivered_at": _iso(message.delivered_at),
            "idempotency_key": message.idempotency_key,
        }
        for message in messages
    ]
