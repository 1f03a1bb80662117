"""Load on the real service: many phones upload at once while case builders read, and nothing is
lost.

``voice-statement serve`` runs as a process (embedded mode: SQLite, the drafting thread in the
process, as deployed with nothing configured) on a loopback port. Officer clients, each with its
own account, upload short real speech (the opening of the JFK fixture, each copy at a slightly
different gain so that every upload has its own SHA-256) from threads at the same time; each
follows its statements to the draft, then goes through them with the witness (marks what was
not said, confirms). Meanwhile case builders of the same unit list and read the confirmed
statements, with a justification, as their desk does.

Refusals: the upload limit is the deployment's per-user rate limit, set here to what each
client needs, and one client is a runaway phone that sends two recordings more than the limit
in a burst: those two, and only those, must be refused with 429, a ``Retry-After`` and a JSON
reason, while everything else is accepted. So the refusal path is exercised under load and
every other upload still counts towards "accepted and drafted".

Asserted: every upload accepted (202) or refused with a reason; every accepted one drafted;
no 5xx on any request; nothing lost (each accepted id is listed for its officer and the case
builders, and its audio, read back through the audio route, has the SHA-256 that was sent).
Recorded (section ``load``): clients, uploads, accepted, refused by code, transcribed, 5xx,
lost, p50/p95 of the case builders' reads (list and get), reads, upload-to-draft p50/p95, wall.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import Role
from models.statement import Template, unanswered
from security import accounts
from tests.conftest import AUDIO_FIXTURES, wav_bytes
from tests.reliability.conftest import Report, Scale
from tests.reliability.servers import Processes, free_port, wait_until
from transcription.audio import SAMPLE_RATE, decode_audio
from workflow.database import Database
from workflow.statements import answered_names

pytestmark = pytest.mark.slow

UNIT = "north"
WHY = {"X-Justification": "load test: case file review"}
SPEECH_S = 2.5  # "And so, my fellow Americans...": short real speech, a real draft each
RUNAWAY_EXTRA = 2  # uploads the runaway phone sends past the limit
READ_PAUSE_S = 0.5  # between a case builder's rounds of reading
POLL_S = 1.0  # a phone's progress polling; the draft time comes from the server's own event


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.close()


def recordings(count: int) -> list[bytes]:
    """``count`` WAV files of the same speech, each at its own gain (distinct bytes, the same
    words)."""
    speech = decode_audio(AUDIO_FIXTURES / "jfk.flac").samples[: int(SPEECH_S * SAMPLE_RATE)]
    out = []
    for i in range(count):
        gain = 0.9 - 0.002 * i
        out.append(wav_bytes(speech * gain, SAMPLE_RATE))
    assert len({hashlib.sha256(r).hexdigest() for r in out}) == count
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def parse_at(text: str) -> float:
    at = datetime.fromisoformat(text)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@dataclass
class Ledger:
    """What every client saw, shared by the threads."""

    statuses: Counter[int] = field(default_factory=Counter)  # every response, by status
    refused: Counter[str] = field(default_factory=Counter)  # "429 too_many_uploads": count
    # statement id: (the token of the officer who sent it, the SHA-256 of what was sent)
    accepted: dict[str, tuple[str, str]] = field(default_factory=dict)
    drafted: set[str] = field(default_factory=set)
    upload_to_draft_s: list[float] = field(default_factory=list)
    read_ms: dict[str, list[float]] = field(default_factory=lambda: {"list": [], "get": []})
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.errors.append(
                    f"{response.request.method} {response.request.url.path}: "
                    f"{response.status_code} {response.text[:200]}"
                )
        return response

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def officer_client(
    base_url: str, token: str, sends: list[tuple[int, bytes]], ledger: Ledger, timeout_s: float
) -> None:
    """One phone: send its recordings, follow each to the draft, confirm it with the witness."""
    http = httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    mine: list[tuple[str, float]] = []
    try:
        for index, audio in sends:
            sent_at = time.time()
            response = ledger.seen(
                http.post(
                    "/api/v1/statements",
                    files={"audio": (f"statement-{index}.wav", audio, "audio/wav")},
                    data={"template": "mg11", "statement_date": "2026-11-20"},
                )
            )
            sha256 = hashlib.sha256(audio).hexdigest()
            if response.status_code == 202:
                body = response.json()
                if body["audio_sha256"] != sha256:
                    ledger.fail(f"upload {index}: the service hashed {body['audio_sha256']}")
                with ledger.lock:
                    ledger.accepted[body["id"]] = (token, sha256)
                mine.append((body["id"], sent_at))
            elif response.status_code < 500:
                error = response.json()["error"]  # a refusal says why, in JSON
                if response.status_code == 429 and not response.headers.get("Retry-After"):
                    ledger.fail(f"upload {index}: 429 without Retry-After")
                with ledger.lock:
                    ledger.refused[f"{response.status_code} {error['code']}"] += 1
        for statement_id, sent_at in mine:
            follow_to_draft(http, statement_id, sent_at, ledger, timeout_s)
    except Exception as exc:  # reported by the test, with what was being done
        ledger.fail(f"officer client: {exc!r}")
    finally:
        http.close()


def follow_to_draft(
    http: httpx.Client, statement_id: str, sent_at: float, ledger: Ledger, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        progress = ledger.seen(http.get(f"/api/v1/statements/{statement_id}/progress"))
        if progress.status_code == 200 and progress.json()["done"]:
            break
        if time.monotonic() > deadline:
            ledger.fail(f"{statement_id}: not drafted within {timeout_s} s")
            return
        time.sleep(POLL_S)
    body = progress.json()
    if body["status"] != "draft":
        ledger.fail(f"{statement_id}: ended {body['status']}, not a draft")
        return
    ready = [e for e in body["events"] if e["kind"] == "draft_ready"]
    with ledger.lock:
        ledger.drafted.add(statement_id)
        ledger.upload_to_draft_s.append(parse_at(ready[-1]["at"]) - sent_at)
    # With the witness: what the recording did not say is marked not stated, then confirmed.
    statement = ledger.seen(http.get(f"/api/v1/statements/{statement_id}")).json()
    missing = unanswered(Template.MG11, answered_names(statement["statement"]))
    if missing:
        edited = ledger.seen(
            http.patch(f"/api/v1/statements/{statement_id}", json={"not_stated": missing})
        )
        if edited.status_code != 200:
            ledger.fail(f"{statement_id}: edit {edited.status_code} {edited.text[:200]}")
    confirmed = ledger.seen(
        http.post(
            f"/api/v1/statements/{statement_id}/confirm",
            json={"witness_declaration_accepted": True, "place": "Penrith"},
        )
    )
    if confirmed.status_code != 200:
        ledger.fail(f"{statement_id}: confirm {confirmed.status_code} {confirmed.text[:200]}")


def case_builder_client(base_url: str, token: str, ledger: Ledger, stop: threading.Event) -> None:
    """A case builder's desk: the list of the unit's confirmed statements, then one of them,
    every ``READ_PAUSE_S`` (a steady reading load beside the uploads, not a flood that would
    only measure how the reads starve the drafting)."""
    http = httpx.Client(
        base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}", **WHY}
    )
    turn = 0
    try:
        while not stop.is_set():
            started = time.perf_counter()
            listed = ledger.seen(http.get("/api/v1/statements", params={"page_size": 20}))
            with ledger.lock:
                ledger.read_ms["list"].append((time.perf_counter() - started) * 1000)
            items = listed.json()["items"] if listed.status_code == 200 else []
            if items:
                item = items[turn % len(items)]
                turn += 1
                started = time.perf_counter()
                read = ledger.seen(http.get(f"/api/v1/statements/{item['id']}"))
                with ledger.lock:
                    ledger.read_ms["get"].append((time.perf_counter() - started) * 1000)
                if read.status_code != 200 or read.json()["status"] != "confirmed":
                    ledger.fail(f"case builder read {item['id']}: {read.status_code}")
            stop.wait(READ_PAUSE_S)
    except Exception as exc:
        ledger.fail(f"case builder client: {exc!r}")
    finally:
        http.close()


def plan_uploads(clients: int, uploads: int) -> tuple[int, list[list[int]]]:
    """The per-user rate limit and which recordings each client sends: client 0 is the runaway
    phone (the limit and two more, in a burst), the others share the rest within the limit."""
    limit = max(2, math.ceil(uploads / clients))
    runaway = limit + RUNAWAY_EXTRA
    plan: list[list[int]] = [list(range(runaway))] + [[] for _ in range(clients - 1)]
    for offset, index in enumerate(range(runaway, uploads)):
        plan[1 + offset % (clients - 1)].append(index)
    assert all(len(sends) <= limit for sends in plan[1:]), (limit, plan)
    return limit, plan


def test_many_clients_upload_while_case_builders_read_and_nothing_is_lost(
    tmp_path: Path, processes: Processes, scale: Scale, reliability_report: Report
) -> None:
    clients, uploads = scale.pick(10, 50), scale.pick(12, 200)
    case_builders = scale.pick(2, 4)
    draft_timeout_s = scale.pick(240.0, 1800.0)
    limit, plan = plan_uploads(clients, uploads)
    audio = recordings(uploads)

    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {
        "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        "VOICE_STATEMENT_DATABASE_URL": database_url,
        "VOICE_STATEMENT_POLL_INTERVAL_S": "0.2",
        "VOICE_STATEMENT_UPLOAD_RATE_PER_MINUTE": str(limit),
    }
    # Accounts made as `voice-statement users add` makes them, without a process per account.
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        officers = [
            accounts.add_user(session, f"PC {100 + i} Load", [Role.OFFICER], UNIT)[1]
            for i in range(clients)
        ]
        builders = [
            accounts.add_user(session, f"DC {200 + i} Desk", [Role.CASE_BUILDER], UNIT)[1]
            for i in range(case_builders)
        ]
    database.dispose()

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    launched = time.monotonic()
    processes.start("serve", ["serve", "--port", str(port)], env)
    wait_until(
        lambda: (
            httpx.get(
                f"{base_url}/readyz", headers={"Authorization": f"Bearer {builders[0]}"}, timeout=5
            ).status_code
            == 200
        ),
        timeout_s=120,
        what="the service to be ready",
        procs=processes,
    )

    ready_s = time.monotonic() - launched
    ledger = Ledger()
    stop = threading.Event()
    started = time.monotonic()
    readers = [
        threading.Thread(target=case_builder_client, args=(base_url, token, ledger, stop))
        for token in builders
    ]
    phones = [
        threading.Thread(
            target=officer_client,
            args=(base_url, officers[c], [(i, audio[i]) for i in plan[c]], ledger, draft_timeout_s),
        )
        for c in range(clients)
    ]
    for thread in [*readers, *phones]:
        thread.start()
    for thread in phones:
        thread.join(draft_timeout_s + 120)
    stop.set()
    for thread in readers:
        thread.join(60)
    wall_s = time.monotonic() - started
    assert not any(t.is_alive() for t in [*readers, *phones]), processes.log_tail()

    # Nothing lost: each accepted statement is its officer's, the case builders', and its audio
    # is byte for byte what was sent.
    lost: list[str] = []
    for token in set(officers):
        mine = {sid for sid, (owner, _) in ledger.accepted.items() if owner == token}
        http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
        listed = ledger.seen(http.get("/api/v1/statements", params={"page_size": 200})).json()
        listed_ids = {item["id"] for item in listed["items"]}
        lost += sorted(mine - listed_ids)
        for sid in sorted(mine):
            kept = ledger.seen(http.get(f"/api/v1/statements/{sid}/audio"))
            if kept.status_code != 200 or (
                hashlib.sha256(kept.content).hexdigest() != ledger.accepted[sid][1]
            ):
                lost.append(sid)
        http.close()
    desk = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {builders[0]}"})
    unit_total = ledger.seen(desk.get("/api/v1/statements")).json()["total"]
    desk.close()

    refused = sum(ledger.refused.values())
    reads = ledger.read_ms["list"] + ledger.read_ms["get"]
    figures: dict[str, Any] = {
        "clients": clients,
        "case_builders": case_builders,
        "uploads": uploads,
        "upload_rate_per_minute": limit,
        "accepted": len(ledger.accepted),
        "refused": dict(ledger.refused),
        "transcribed": len(ledger.drafted),
        "5xx": ledger.server_errors,
        "lost": len(set(lost)),
        "reads": len(reads),
        "reads_list": len(ledger.read_ms["list"]),
        "reads_get": len(ledger.read_ms["get"]),
        "read_p50_ms": round(statistics.median(reads), 1) if reads else None,
        "read_p95_ms": round(percentile(reads, 95), 1) if reads else None,
        "read_list_p95_ms": round(percentile(ledger.read_ms["list"], 95), 1)
        if ledger.read_ms["list"]
        else None,
        "read_get_p95_ms": round(percentile(ledger.read_ms["get"], 95), 1)
        if ledger.read_ms["get"]
        else None,
        "upload_to_draft_p50_s": round(statistics.median(ledger.upload_to_draft_s), 2)
        if ledger.upload_to_draft_s
        else None,
        "upload_to_draft_p95_s": round(percentile(ledger.upload_to_draft_s, 95), 2)
        if ledger.upload_to_draft_s
        else None,
        "wall_s": round(wall_s, 1),
        "service_ready_s": round(ready_s, 1),
    }
    for name, value in figures.items():
        reliability_report.record("load", name, value)

    assert not ledger.errors, "\n".join(ledger.errors[:20]) + "\n" + processes.log_tail()
    assert ledger.server_errors == 0
    assert len(ledger.accepted) + refused == uploads  # every upload answered, none unaccounted
    assert ledger.refused == Counter({"429 too_many_uploads": RUNAWAY_EXTRA})
    assert len(ledger.accepted) == uploads - RUNAWAY_EXTRA
    assert ledger.drafted == set(ledger.accepted)  # every accepted one drafted
    assert not lost, lost
    assert unit_total == len(ledger.accepted)  # all confirmed, all visible to the unit's desk
    # The desks read while the phones uploaded: lists, and confirmed statements as they came.
    assert len(ledger.read_ms["list"]) >= case_builders and ledger.read_ms["get"]
