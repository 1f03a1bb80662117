"""The service as it is deployed: real processes, killed with SIGKILL mid-transcription.

Embedded: ``voice-statement serve`` on SQLite is killed while it transcribes and started again;
the job finishes exactly once. Distributed: the API and ``voice-statement worker`` processes on
PostgreSQL and Redis; a worker is killed mid-transcription and started again, then two workers
take a statement from upload to a single delivery.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from models.tables import Job, StatementEvent, StatementVersion
from tests.conftest import AUDIO_FIXTURES, _postgres_unreachable, make_postgres_database
from tests.http_sink import HttpSink, start_sink
from transcription.audio import SAMPLE_RATE, decode_audio
from workflow.database import Database

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("VOICE_STATEMENT_TEST_REDIS", "redis://127.0.0.1:6379/11")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 85 s of speech (the two fixtures, twice), long enough to be killed mid-way."""
    parts = [
        decode_audio(AUDIO_FIXTURES / name).samples
        for name in ("mg11_assault.ogg", "missing_person.ogg")
    ]
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    samples = np.concatenate([*parts, gap, *parts])
    path = tmp_path_factory.mktemp("long") / "long_statement.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


class Processes:
    """Child processes in their own process groups, killed whatever the test's outcome."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [str(BIN / "voice-statement"), *args],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole group: the process and any children (Celery's pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in self.logs.glob("*.log")
        )

    def close(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.close()


def wait_until(check: Callable[[], Any], *, timeout_s: float, what: str, procs: Processes) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{procs.log_tail()}")


def officer_token(env: dict[str, str]) -> str:
    """A token for the officer's account, made with the command line as an operator would: the
    account on the first start, another token for it on a restart."""
    command = [str(BIN / "voice-statement"), "users", "add", "PC 77 Ellis", "--role", "officer"]
    made = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    if made.returncode == 2 and "already exists" in made.stderr:
        made = subprocess.run(
            [str(BIN / "voice-statement"), "users", "token", "PC 77 Ellis"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def serve(procs: Processes, env: dict[str, str], port: int) -> httpx.Client:
    token = officer_token(env)
    procs.start("serve", ["serve", "--port", str(port)], env)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )
    wait_until(
        lambda: client.get("/readyz").status_code == 200,
        timeout_s=120,
        what="the service to be ready",
        procs=procs,
    )
    return client


def post_recording(client: httpx.Client, path: Path, template: str = "mg11") -> str:
    with path.open("rb") as audio:
        response = client.post(
            "/api/v1/statements",
            files={"audio": (path.name, audio, "audio/wav")},
            data={"template": template, "statement_date": "2026-11-20"},
        )
    assert response.status_code == 202, response.text
    statement_id: str = response.json()["id"]
    return statement_id


def event_kinds(client: httpx.Client, statement_id: str) -> list[str]:
    progress = client.get(f"/api/v1/statements/{statement_id}/progress").json()
    return [e["kind"] for e in progress["events"]]


def assert_drafted_exactly_once(database_url: str, statement_id: str) -> Job:
    database = Database(database_url)
    try:
        with database.session() as session:
            # Only the columns held in clear: this test process has no content key.
            versions = list(
                session.execute(
                    select(StatementVersion.number, StatementVersion.kind).where(
                        StatementVersion.statement_id == statement_id
                    )
                )
            )
            ready = list(
                session.scalars(
                    select(StatementEvent).where(
                        StatementEvent.statement_id == statement_id,
                        StatementEvent.kind == "draft_ready",
                    )
                )
            )
            [job] = session.scalars(select(Job).where(Job.statement_id == statement_id))
    finally:
        database.dispose()
    assert [v.number for v in versions] == [1] and versions[0].kind == "machine"
    assert len(ready) == 1
    assert job.state == "done" and job.attempts >= 2  # the killed attempt counted
    return job


def test_embedded_service_killed_mid_transcription_finishes_the_job_once(
    tmp_path: Path, processes: Processes, long_recording: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {
        "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        "VOICE_STATEMENT_DATABASE_URL": database_url,
        "VOICE_STATEMENT_JOB_LEASE_S": "4",
        "VOICE_STATEMENT_POLL_INTERVAL_S": "0.2",
    }
    port = free_port()
    client = serve(processes, env, port)
    statement_id = post_recording(client, long_recording)
    wait_until(
        lambda: "transcribing" in event_kinds(client, statement_id),
        timeout_s=120,
        what="transcription to start",
        procs=processes,
    )
    processes.kill(processes.running[-1])

    database = Database(database_url)
    with database.session() as session:
        assert not list(session.scalars(select(StatementVersion)))  # killed before the draft
    database.dispose()

    client = serve(processes, env, port)
    wait_until(
        lambda: client.get(f"/api/v1/statements/{statement_id}").json()["status"] == "draft",
        timeout_s=180,
        what="the draft after the restart",
        procs=processes,
    )
    assert_drafted_exactly_once(database_url, statement_id)
    kinds = event_kinds(client, statement_id)
    assert kinds.count("decoding") >= 2 and kinds.count("draft_ready") == 1
    original = client.get(f"/api/v1/statements/{statement_id}/audio").content
    assert original == long_recording.read_bytes()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    url, drop = make_postgres_database()
    yield url
    drop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    try:
        broker = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        broker.ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    broker.flushdb()
    yield REDIS_URL
    broker.flushdb()


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    server = start_sink()
    yield server
    server.close()


def test_distributed_workers_survive_a_kill_and_deliver_once(
    tmp_path: Path,
    processes: Processes,
    long_recording: Path,
    postgres_url: str,
    redis_url: str,
    sink: HttpSink,
) -> None:
    env = {
        "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        "VOICE_STATEMENT_DATABASE_URL": postgres_url,
        "VOICE_STATEMENT_BROKER_URL": redis_url,
        "VOICE_STATEMENT_AUDIO_STORE": "database",  # every worker machine reaches it
        "VOICE_STATEMENT_JOB_LEASE_S": "4",
        "VOICE_STATEMENT_POLL_INTERVAL_S": "0.2",
        "VOICE_STATEMENT_BROKER_VISIBILITY_TIMEOUT_S": "20",
        "VOICE_STATEMENT_DELIVERY_BACKOFF_S": "0.2",
        "VOICE_STATEMENT_SUBMISSION_URL": f"{sink.url}/cjs",
        "VOICE_STATEMENT_REFERRAL_URL": f"{sink.url}/referrals",
    }
    port = free_port()
    client = serve(processes, env, port)
    assert client.get("/readyz").json()["checks"]["mode"] == "distributed"

    # One worker, killed mid-transcription, then started again.
    worker = processes.start("worker-1", ["worker"], env)
    statement_id = post_recording(client, long_recording)
    wait_until(
        lambda: "transcribing" in event_kinds(client, statement_id),
        timeout_s=180,
        what="a worker to start transcribing",
        procs=processes,
    )
    processes.kill(worker)
    assert "draft_ready" not in event_kinds(client, statement_id)
    processes.start("worker-1", ["worker"], env)
    wait_until(
        lambda: client.get(f"/api/v1/statements/{statement_id}").json()["status"] == "draft",
        timeout_s=180,
        what="the draft after the worker restarted",
        procs=processes,
    )
    assert_drafted_exactly_once(postgres_url, statement_id)

    # Two workers: two recordings drafted, then one through to a single delivery.
    processes.start("worker-2", ["worker"], env)
    first = post_recording(client, AUDIO_FIXTURES / "mg11_assault.ogg")
    second = post_recording(client, AUDIO_FIXTURES / "missing_person.ogg", "missing_person")
    for sid in (first, second):

        def drafted(sid: str = sid) -> bool:
            return bool(client.get(f"/api/v1/statements/{sid}").json()["status"] == "draft")

        wait_until(drafted, timeout_s=180, what=f"the draft of {sid}", procs=processes)
    # Two referrals, one each: the long recording speaks of a missing 14-year-old too (a
    # child, whatever the template), and the missing-person report. The killed and restarted
    # drafting sent its referral once.
    referrals = sink.wait_for("/referrals", 2)
    assert sorted(r.body["statement_id"] for r in referrals) == sorted([statement_id, second])

    edited = client.patch(
        f"/api/v1/statements/{first}", json={"fields": {"witness.occupation": "nurse"}}
    )
    assert edited.status_code == 200 and edited.json()["current_version"] == 2
    confirmed = client.post(
        f"/api/v1/statements/{first}/confirm",
        json={"witness_declaration_accepted": True, "place": "Penrith"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert client.post(f"/api/v1/statements/{first}/submit").status_code == 202
    [delivery] = sink.wait_for("/cjs", 1)
    assert delivery.body["statement_id"] == first
    wait_until(
        lambda: any(
            d["kind"] == "submission" and d["state"] == "delivered"
            for d in client.get(f"/api/v1/statements/{first}").json()["submission"]
        ),
        timeout_s=30,
        what="the delivery to be recorded",
        procs=processes,
    )
    time.sleep(1.0)
    assert len(sink.at("/cjs")) == 1
    assert len(sink.at("/referrals")) == 2  # and no referral twice
    pdf = client.get(f"/api/v1/statements/{first}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
