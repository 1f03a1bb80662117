"""The service's processes and the servers around them, as the fault tests start and kill them.

``Processes`` runs ``voice-statement serve`` / ``worker`` in their own process groups (SIGKILL
reaches a Celery worker's pool too). ``PrivatePostgres`` and ``PrivateRedis`` are servers of
this test's own, on ports of their own, so that stopping one never touches the machine's shared
PostgreSQL or Redis that other tests use. ``FlakySink`` is a submission endpoint that can be
down, answer 500, or accept, and counts every POST it was sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.conftest import AUDIO_FIXTURES, write_wav
from transcription.audio import SAMPLE_RATE, decode_audio

BIN = Path(sys.executable).parent
POSTGRES_BIN = Path(
    os.environ.get("VOICE_STATEMENT_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin")
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_long_recording(path: Path) -> Path:
    """About 85 s of speech (the two fixtures, twice) as a WAV file: long enough to be killed
    mid-way through its transcription."""
    parts = [
        decode_audio(AUDIO_FIXTURES / name).samples
        for name in ("mg11_assault.ogg", "missing_person.ogg")
    ]
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    return write_wav(path, np.concatenate([*parts, gap, *parts]), SAMPLE_RATE)


def write_clip(path: Path, source: Path, *, start_s: float, seconds: float) -> Path:
    """``seconds`` of ``source`` from ``start_s``, as a WAV file: a short recording of real
    speech, different bytes (and so a different SHA-256) for each start."""
    samples = decode_audio(source).samples
    first = int(start_s * SAMPLE_RATE)
    return write_wav(path, samples[first : first + int(seconds * SAMPLE_RATE)], SAMPLE_RATE)


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


def wait_until(check: Callable[[], Any], *, timeout_s: float, what: str, procs: Processes) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.1)
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
    """Start ``voice-statement serve`` and return a client signed in as the officer, once the
    service is ready."""
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


def status_of(client: httpx.Client, statement_id: str) -> str:
    status: str = client.get(f"/api/v1/statements/{statement_id}").json()["status"]
    return status


# --- servers of the test's own --------------------------------------------------------------


def _run_as_postgres(command: list[str]) -> subprocess.CompletedProcess[str]:
    """PostgreSQL refuses to run as root: its tools run as the ``postgres`` user."""
    return subprocess.run(
        ["su", "postgres", "-c", " ".join(_quote(part) for part in command)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


def private_postgres_unavailable() -> str | None:
    """Why a private PostgreSQL cluster cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "a private PostgreSQL cluster needs root (initdb runs as the postgres user)"
    if not (POSTGRES_BIN / "initdb").exists():
        return f"initdb is not in {POSTGRES_BIN} (set VOICE_STATEMENT_TEST_POSTGRES_BIN)"
    if shutil.which("su") is None:
        return "su is missing: initdb cannot run as the postgres user"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own, in a directory of its own under the system's
    temporary directory (pytest's is private to root, which the postgres user cannot enter), on
    a port of its own: it can be stopped hard (``-m immediate``: as a crash) and started again
    without touching the machine's shared server. ``close`` stops it and removes it."""

    def __init__(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="voice-statement-pg-"))
        self.directory = directory
        self.data = directory / "cluster"
        self.log = directory / "postgres.log"
        self.port = free_port()
        shutil.chown(directory, "postgres", "postgres")
        made = _run_as_postgres(
            [str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        )
        assert made.returncode == 0, made.stderr
        self.start()
        created = _run_as_postgres(
            [str(POSTGRES_BIN / "createdb"), "-h", str(directory), "-p", str(self.port), "vs"]
        )
        assert created.returncode == 0, created.stderr

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/vs"

    def _ctl(self, *args: str) -> None:
        done = _run_as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), *args])
        assert done.returncode == 0, f"{done.stderr}\n{self.log.read_text(errors='replace')}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._ctl("-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """As a crash: no checkpoint, every connection cut."""
        self._ctl("-m", "immediate", "-w", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError):
                self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of this test's own that keeps nothing on disk: stopping it loses
    every message it held, as a Redis restart without persistence does."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.logs / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.kill()


def private_redis_unavailable() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed: a private Redis cannot be started"
    return None


@dataclass
class SinkPost:
    """One POST the sink was sent, with the status it answered."""

    path: str
    idempotency_key: str | None
    body: dict[str, Any]
    status: int


@dataclass
class FlakySink:
    """A submission endpoint on a fixed port that can be down (nothing listening), answer
    ``failing_status``, or accept (201); every POST it answered is kept in ``posts``."""

    port: int = field(default_factory=free_port)
    failing: bool = False
    failing_status: int = 500
    posts: list[SinkPost] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status = sink.failing_status if sink.failing else 201
                with sink.lock:
                    sink.posts.append(
                        SinkPost(self.path, self.headers.get("Idempotency-Key"), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def about(self, statement_id: str) -> list[SinkPost]:
        with self.lock:
            return [p for p in self.posts if p.body.get("statement_id") == statement_id]
