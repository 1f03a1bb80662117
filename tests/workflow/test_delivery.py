"""Outbox delivery against a real HTTP sink and a real file-drop directory, on both databases.

The sink is a ``ThreadingHTTPServer`` on 127.0.0.1 that records every request and answers from
a script (503 twice, then 200; 400; a redirect; a slow answer), so retries, backoff, permanent
failures and the exactly-once claim are checked against what really arrived over the wire.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from models.tables import DeliveryState, OutboxMessage, StatementRecord, utcnow
from tests.conftest import TEST_KEYS
from workflow.database import Database
from workflow.delivery import (
    DeliveryResult,
    FileDropSender,
    HttpSender,
    OutboxDelivery,
    delivery_status,
    enqueue,
    sender_for,
)

PAYLOAD: dict[str, Any] = {
    "id": "st-1",
    "status": "confirmed",
    "witness": {"name": "Zoë Brennan", "age": 34},
    "statement": "I saw the van reverse into the wall at about 21:40.",
    "content_sha256": "ab" * 32,
}


# --- the HTTP sink ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    """Records requests; answers each from ``script`` in turn, then 200."""

    script: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def keys(self) -> list[str]:
        with self.lock:
            return [request.headers["Idempotency-Key"] for request in self.received]


def _handler_for(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.received.append(Received(self.path, dict(self.headers.items()), body))
                status, answer, headers = (
                    sink.script.pop(0) if sink.script else (200, b'{"ok": true}', {})
                )
            time.sleep(sink.delay_s)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the client gave up (the timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def make_sink() -> Iterator[Callable[..., Sink]]:
    servers: list[ThreadingHTTPServer] = []

    def start(**options: Any) -> Sink:
        sink = Sink(**options)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(sink))
        server.daemon_threads = True
        # A short poll: shutdown() waits for the loop to notice.
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        sink.url = f"http://127.0.0.1:{server.server_address[1]}/statements"
        return sink

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/statements"


# --- database helpers ------------------------------------------------------------------------


def add_statement(database: Database, statement_id: str = "st-1") -> str:
    with database.session() as session:
        session.add(
            StatementRecord(
                id=statement_id,
                status="confirmed",
                template="mg11",
                statement_date=date(2025, 3, 14),
                officer="PC 1234 Hale",
                audio_key=f"audio/{statement_id}",
                audio_sha256="0" * 64,
                audio_bytes=1,
            )
        )
    return statement_id


def add_message(
    database: Database,
    destination: str | None,
    *,
    kind: str = "submission",
    max_attempts: int = 5,
    payload: dict[str, Any] | None = None,
    statement_id: str = "st-1",
) -> int:
    with database.session() as session:
        message = enqueue(
            session,
            statement_id=statement_id,
            kind=kind,
            payload=payload if payload is not None else PAYLOAD,
            destination=destination,
            max_attempts=max_attempts,
        )
        session.flush()
        return message.id


def load(database: Database, message_id: int) -> OutboxMessage:
    with database.session() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


# --- HTTP delivery ---------------------------------------------------------------------------


def test_a_submission_is_posted_exactly_once(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    sink = make_sink()
    add_statement(database)
    message_id = add_message(database, sink.url)
    delivery = OutboxDelivery(database)

    assert delivery.deliver_due() == 1
    assert len(sink.received) == 1
    request = sink.received[0]
    assert request.path == "/statements"
    assert json.loads(request.body) == PAYLOAD
    message = load(database, message_id)
    assert request.headers["Idempotency-Key"] == message.idempotency_key
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Voice-Statement-Kind"] == "submission"
    assert request.headers["User-Agent"].startswith("voice-statement/")
    assert message.state == DeliveryState.DELIVERED
    assert message.attempts == 1
    assert message.last_status == 200
    assert message.delivered_at is not None and message.lease_token is None

    # Nothing is due any more: a later round sends nothing.
    assert delivery.deliver_due() == 0
    assert delivery.deliver_due(now=utcnow() + timedelta(days=1)) == 0
    assert len(sink.received) == 1


def test_503_twice_then_delivered_on_the_third_attempt_with_backoff(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    sink = make_sink(script=[(503, b"busy", {}), (503, b"busy", {})])
    add_statement(database)
    message_id = add_message(database, sink.url)
    delivery = OutboxDelivery(database, backoff_s=0.01)
    t0 = utcnow()

    assert delivery.deliver_due(now=t0) == 1
    first = load(database, message_id)
    assert (first.state, first.attempts, first.last_status) == ("pending", 1, 503)
    assert first.last_error == "HTTP 503: busy"
    assert first.next_attempt_at == t0 + timedelta(seconds=0.01)
    assert first.lease_token is None
    assert delivery.deliver_due(now=t0) == 0  # backing off: not due yet

    t1 = t0 + timedelta(seconds=1)
    assert delivery.deliver_due(now=t1) == 1
    second = load(database, message_id)
    assert (second.state, second.attempts, second.last_status) == ("pending", 2, 503)
    assert second.next_attempt_at == t1 + timedelta(seconds=0.02)  # doubled

    t2 = t0 + timedelta(seconds=2)
    assert delivery.deliver_due(now=t2) == 1
    third = load(database, message_id)
    assert (third.state, third.attempts, third.last_status) == ("delivered", 3, 200)
    assert third.delivered_at == t2
    assert sink.keys() == [third.idempotency_key] * 3
    assert all(json.loads(request.body) == PAYLOAD for request in sink.received)


def test_backoff_is_capped(database: Database, make_sink: Callable[..., Sink]) -> None:
    sink = make_sink(script=[(500, b"", {})] * 3)
    add_statement(database)
    message_id = add_message(database, sink.url)
    delivery = OutboxDelivery(database, backoff_s=10, max_backoff_s=15)
    now = utcnow()
    for _ in range(3):
        now += timedelta(minutes=1)
        assert delivery.deliver_due(now=now) == 1
    message = load(database, message_id)
    assert message.attempts == 3
    assert message.next_attempt_at == now + timedelta(seconds=15)  # not 40


def test_400_fails_at_once_with_status_and_body(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    reason = b'{"error": "witness.name is required"}' + b"x" * 1000
    sink = make_sink(script=[(400, reason, {})])
    add_statement(database)
    message_id = add_message(database, sink.url, max_attempts=5)
    delivery = OutboxDelivery(database, backoff_s=0.01)

    assert delivery.deliver_due() == 1
    message = load(database, message_id)
    assert message.state == DeliveryState.FAILED
    assert (message.attempts, message.last_status) == (1, 400)
    assert message.last_error is not None
    assert message.last_error.startswith('HTTP 400: {"error": "witness.name is required"}')
    assert len(message.last_error) == len("HTTP 400: ") + 500  # the excerpt, not the whole body
    assert delivery.deliver_due(now=utcnow() + timedelta(days=1)) == 0
    assert len(sink.received) == 1


def test_a_redirect_is_not_followed(database: Database, make_sink: Callable[..., Sink]) -> None:
    sink = make_sink(script=[(307, b"", {"Location": "http://elsewhere.invalid/take"})])
    add_statement(database)
    message_id = add_message(database, sink.url)

    assert OutboxDelivery(database).deliver_due() == 1
    message = load(database, message_id)
    assert (message.state, message.last_status) == ("failed", 307)
    assert message.last_error is not None
    assert "http://elsewhere.invalid/take" in message.last_error
    assert len(sink.received) == 1


def test_connection_refused_fails_after_max_attempts(database: Database) -> None:
    add_statement(database)
    message_id = add_message(database, closed_port_url(), max_attempts=2)
    delivery = OutboxDelivery(database, backoff_s=0.01)
    t0 = utcnow()

    assert delivery.deliver_due(now=t0) == 1
    first = load(database, message_id)
    assert (first.state, first.attempts, first.last_status) == ("pending", 1, None)
    assert first.last_error is not None and "ConnectError" in first.last_error

    assert delivery.deliver_due(now=t0 + timedelta(seconds=1)) == 1
    second = load(database, message_id)
    assert (second.state, second.attempts) == ("failed", 2)
    assert delivery.deliver_due(now=t0 + timedelta(days=1)) == 0


def test_a_timeout_is_retried(make_sink: Callable[..., Sink]) -> None:
    sink = make_sink(delay_s=1.0)
    result = HttpSender(sink.url, timeout_s=0.2).send(
        kind="submission", payload=PAYLOAD, idempotency_key="k1"
    )
    assert not result.delivered and not result.permanent
    assert result.error is not None and result.error.startswith("timed out after 0.2 s")


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(408, False), (425, False), (429, False), (502, False), (401, True), (404, True)],
)
def test_which_statuses_are_retried(
    make_sink: Callable[..., Sink], status: int, permanent: bool
) -> None:
    sink = make_sink(script=[(status, b"no", {})])
    result = HttpSender(sink.url, timeout_s=5).send(
        kind="referral", payload={"a": 1}, idempotency_key="k2"
    )
    assert result == DeliveryResult(False, status=status, error=f"HTTP {status}: no",
                                    permanent=permanent)  # fmt: skip
    assert sink.received[0].headers["X-Voice-Statement-Kind"] == "referral"


# --- several deliverers ----------------------------------------------------------------------


def test_two_deliverers_racing_send_each_message_once(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    # A slow sink keeps both deliverers busy at once, so their claims really collide.
    sink = make_sink(delay_s=0.02)
    add_statement(database)
    ids = [add_message(database, sink.url) for _ in range(10)]
    # as a worker on another machine would have (with the same keys)
    other = Database(database.url, keys=database.keys)
    try:
        deliverers = [OutboxDelivery(database), OutboxDelivery(other)]
        barrier = threading.Barrier(2)
        counts: list[int] = []
        errors: list[BaseException] = []

        def race(delivery: OutboxDelivery) -> None:
            try:
                barrier.wait()
                counts.append(delivery.deliver_due())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(d,)) for d in deliverers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.dispose()

    assert errors == []
    assert sum(counts) == 10
    keys = sink.keys()
    assert len(keys) == 10 and len(set(keys)) == 10
    messages = [load(database, message_id) for message_id in ids]
    assert {m.idempotency_key for m in messages} == set(keys)
    assert all(m.state == "delivered" and m.attempts == 1 for m in messages)


def test_a_crashed_deliverers_message_waits_for_its_lease_to_lapse(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    sink = make_sink()
    add_statement(database)
    message_id = add_message(database, sink.url)
    now = utcnow()
    with database.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(lease_token="crashed-deliverer", lease_expires_at=now + timedelta(seconds=60))
        )
    delivery = OutboxDelivery(database)

    assert delivery.deliver_due(now=now) == 0
    assert delivery.deliver_due(now=now + timedelta(seconds=59)) == 0
    assert sink.received == []

    assert delivery.deliver_due(now=now + timedelta(seconds=61)) == 1
    assert len(sink.received) == 1
    message = load(database, message_id)
    assert (message.state, message.attempts, message.lease_token) == ("delivered", 1, None)


def test_a_stalled_deliverers_late_outcome_is_dropped(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    sink = make_sink()
    add_statement(database)
    message_id = add_message(database, sink.url)
    now = utcnow()
    stalled = OutboxDelivery(database, lease_s=30)
    claim = stalled.claim(message_id, now=now)
    assert claim is not None
    assert stalled.claim(message_id, now=now) is None  # held: nobody else gets it

    # The lease lapses; another deliverer takes the message over and delivers it.
    assert OutboxDelivery(database).deliver_due(now=now + timedelta(seconds=31)) == 1
    # The stalled one wakes up with a failure to report: it must not undo the delivery.
    late = DeliveryResult(False, status=503, error="HTTP 503")
    assert stalled.record(claim, late, now=now + timedelta(seconds=40)) is False
    message = load(database, message_id)
    assert (message.state, message.attempts, message.last_status) == ("delivered", 1, 200)
    assert len(sink.received) == 1


def wait_for_state(database: Database, message_id: int, state: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while load(database, message_id).state != state and time.monotonic() < deadline:
        time.sleep(0.01)
    assert load(database, message_id).state == state


def test_run_survives_failing_rounds(
    database_url: str, make_sink: Callable[..., Sink], caplog: pytest.LogCaptureFixture
) -> None:
    sink = make_sink()
    database = Database(database_url, keys=TEST_KEYS)  # not migrated yet: every round fails
    stop = threading.Event()
    thread = threading.Thread(
        target=OutboxDelivery(database).run, args=(stop,), kwargs={"interval_s": 0.02}
    )
    with caplog.at_level(logging.WARNING, logger="workflow.delivery"):
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while len(caplog.records) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(caplog.records) >= 3  # three failed rounds, and still running
            assert thread.is_alive()
            database.migrate()  # the database is back
            add_statement(database)
            message_id = add_message(database, sink.url)
            wait_for_state(database, message_id, "delivered", within_s=10)
        finally:
            stop.set()
            thread.join(timeout=10)
            database.dispose()
    assert not thread.is_alive()
    assert len(sink.received) == 1
    assert "outbox delivery round failed" in caplog.records[0].getMessage()


def test_run_goes_at_once_when_woken_and_stops_promptly(
    database: Database, make_sink: Callable[..., Sink]
) -> None:
    sink = make_sink()
    add_statement(database)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=OutboxDelivery(database).run, args=(stop,), kwargs={"interval_s": 60, "wake": wake}
    )
    thread.start()
    try:
        time.sleep(0.2)  # the first (empty) round is over: it is now waiting out its 60 s
        message_id = add_message(database, sink.url)
        wake.set()
        wait_for_state(database, message_id, "delivered", within_s=10)
        assert len(sink.received) == 1
    finally:
        stopped_at = time.monotonic()
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 5  # not the rest of the 60 s


# --- file drop -------------------------------------------------------------------------------


def test_file_drop_writes_once_and_a_redelivery_is_idempotent(
    database: Database, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    add_statement(database)
    message_id = add_message(database, drop.as_uri(), kind="referral")
    delivery = OutboxDelivery(database)

    assert delivery.deliver_due() == 1
    message = load(database, message_id)
    assert message.state == "delivered"
    target = drop / f"referral-{message.idempotency_key}.json"
    assert [p.name for p in drop.iterdir()] == [target.name]  # no part-file left behind
    text = target.read_text(encoding="utf-8")
    assert json.loads(text) == PAYLOAD
    assert text == json.dumps(PAYLOAD, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    assert "Zoë" in text  # UTF-8, not \u escapes
    written = target.stat().st_mtime_ns

    # Sent again (as after a crash before the outcome was recorded): already there, delivered.
    with database.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state="pending", delivered_at=None)
        )
    assert delivery.deliver_due() == 1
    again = load(database, message_id)
    assert (again.state, again.attempts) == ("delivered", 2)
    assert [p.name for p in drop.iterdir()] == [target.name]
    assert target.stat().st_mtime_ns == written


def test_file_drop_into_a_missing_directory_is_retried(tmp_path: Path) -> None:
    result = FileDropSender(tmp_path / "not-mounted").send(
        kind="submission", payload=PAYLOAD, idempotency_key="k3"
    )
    assert not result.delivered and not result.permanent
    assert result.error is not None and "missing" in result.error
    assert not (tmp_path / "not-mounted").exists()


def test_sender_for_parses_destinations(tmp_path: Path) -> None:
    http = sender_for("https://cps.example/intake", timeout_s=3)
    assert isinstance(http, HttpSender)
    assert (http.url, http.timeout_s) == ("https://cps.example/intake", 3)
    assert isinstance(sender_for("http://127.0.0.1:8080/x", timeout_s=3), HttpSender)

    by_url = sender_for("file:///srv/drop%20box", timeout_s=3)
    assert isinstance(by_url, FileDropSender) and by_url.directory == Path("/srv/drop box")
    by_path = sender_for(str(tmp_path), timeout_s=3)
    assert isinstance(by_path, FileDropSender) and by_path.directory == tmp_path

    for bad in ["ftp://host/dir", "relative/dir", "", "https://", "file://server/share"]:
        with pytest.raises(ValueError, match="destination"):
            sender_for(bad, timeout_s=3)


def test_an_unusable_destination_fails_the_message(database: Database) -> None:
    add_statement(database)
    message_id = add_message(database, "ftp://cps.example/in")
    assert OutboxDelivery(database).deliver_due() == 1
    message = load(database, message_id)
    assert (message.state, message.attempts) == ("failed", 1)
    assert (
        message.last_error is not None and "unsupported delivery destination" in message.last_error
    )


# --- enqueue and status ----------------------------------------------------------------------


def test_enqueue_without_a_destination_is_kept_but_never_sent(database: Database) -> None:
    add_statement(database)
    message_id = add_message(database, None)
    message = load(database, message_id)
    assert message.state == DeliveryState.NO_DESTINATION
    assert message.last_error == (
        "no submission endpoint is configured "
        "(VOICE_STATEMENT_SUBMISSION_URL / VOICE_STATEMENT_REFERRAL_URL)"
    )
    assert len(message.idempotency_key) == 32
    assert OutboxDelivery(database).deliver_due(now=utcnow() + timedelta(days=1)) == 0
    assert load(database, message_id).attempts == 0


def test_enqueue_joins_the_callers_transaction(database: Database) -> None:
    add_statement(database)
    with pytest.raises(RuntimeError), database.session() as session:
        enqueue(
            session,
            statement_id="st-1",
            kind="submission",
            payload=PAYLOAD,
            destination="https://cps.example/intake",
            max_attempts=3,
            idempotency_key="fixed-key",
        )
        session.flush()
        raise RuntimeError("the submit failed after enqueueing")
    with database.session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    with pytest.raises(ValueError, match="kind"):
        enqueue(
            database.sessions(),
            statement_id="st-1",
            kind="email",
            payload={},
            destination=None,
            max_attempts=3,
        )


def test_delivery_status_shape(database: Database, make_sink: Callable[..., Sink]) -> None:
    sink = make_sink(script=[(503, b"later", {})])
    add_statement(database)
    # Sent oldest first: the first gets the 503, the second a 200.
    pending_id = add_message(database, sink.url)
    delivered_id = add_message(database, sink.url, kind="referral")
    waiting_id = add_message(database, None)
    now = utcnow()
    delivery = OutboxDelivery(database, backoff_s=5)
    assert delivery.deliver_due(now=now) == 2
    messages = [load(database, i) for i in (pending_id, delivered_id, waiting_id)]
    status = delivery_status(messages)

    keys = {
        "kind", "destination", "state", "attempts", "max_attempts", "last_status",
        "last_error", "next_attempt_at", "delivered_at", "idempotency_key",
    }  # fmt: skip
    assert all(set(entry) == keys for entry in status)
    json.dumps(status)  # plain JSON
    by_state = {entry["state"]: entry for entry in status}
    assert [entry["state"] for entry in status] == ["pending", "delivered", "no_destination"]
    assert by_state["pending"]["next_attempt_at"] == (now + timedelta(seconds=5)).isoformat()
    assert by_state["pending"]["last_status"] == 503
    assert by_state["pending"]["last_error"] == "HTTP 503: later"
    assert by_state["pending"]["delivered_at"] is None
    assert by_state["delivered"]["next_attempt_at"] is None
    assert by_state["delivered"]["delivered_at"] == now.isoformat()
    assert by_state["delivered"]["attempts"] == 1
    assert by_state["delivered"]["kind"] == "referral"
    assert by_state["delivered"]["destination"] == sink.url
    assert by_state["no_destination"]["destination"] is None
    assert by_state["no_destination"]["attempts"] == 0
    assert status[2]["idempotency_key"] == messages[2].idempotency_key


def test_delivery_status_hides_passwords(database: Database) -> None:
    add_statement(database)
    message_id = add_message(database, "https://intake:s3cret@cps.example/in")
    (entry,) = delivery_status([load(database, message_id)])
    assert entry["destination"] == "https://intake:***@cps.example/in"
    assert entry["state"] == "pending" and entry["next_attempt_at"] is not None
