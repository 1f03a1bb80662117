"""The HTTP service as a user meets it: real ``voice-statement serve`` (and ``worker``) processes.

    .venv/bin/python -m benchmarks.service [--quick] [--skip warm,cold,throughput,load]
        [--warm N] [--cold-runs N] [--throughput N] [--clients N] [--duration S] [--seed N]
        [--redis-url URL] [--out FILE.json]

Every server listens on 127.0.0.1 at a free port, with a temporary data directory (SQLite, the
key file and, embedded, the audio) that is removed afterwards; every process started is killed
with its process group whatever happens. Accounts are made with the real command
(``voice-statement users add``, all of a data directory's accounts in one process, before the
server starts). The processes get a clean environment: inherited ``VOICE_STATEMENT_*`` variables
are dropped, so "default" means the code's defaults, except that the per-user upload limit
(``VOICE_STATEMENT_UPLOAD_RATE_PER_MINUTE``, 20 a minute) is lifted: a benchmark uploads faster
than an officer does.

What is measured:

1. **Draft latency** of a 60 s recording (``benchmarks.common.long_recording(60)``): from the
   moment ``POST /api/v1/statements`` returns to the moment ``GET .../progress`` (polled every
   50 ms, as a client that cannot hold a stream open does) reports ``done`` with status
   ``draft``. The server's own ``draft_ready`` timestamp minus the POST's return is given too
   (``server_s``; same clock, no polling step). *Warm*: the embedded server has drafted one
   already; N uploads one after the other. *Cold*: a fresh server and data directory each run:
   process start to ``/healthz`` answering (healthy), to ``/readyz`` 200 (ready: migrations
   done, model loaded), and the first upload's draft latency.
2. **Throughput**: N recordings of 60 s uploaded at once (one after the other as fast as the
   POSTs return), then waiting for every draft. statements/min = N / (last ``draft_ready``
   timestamp - first upload sent) x 60. Embedded (``VOICE_STATEMENT_WORKERS=1``, the default,
   reusing the warm server) and, when Redis answers, distributed: ``voice-statement worker
   --concurrency C`` on Redis (``--redis-url``, db 9 by default, flushed before and after) with
   the SQLite file in the temporary directory shared by serve and worker (one machine) and
   ``VOICE_STATEMENT_AUDIO_STORE=database`` as the docs require. Each distributed set-up first
   drafts C recordings untimed so every worker process has loaded its model. C=2 runs with the
   default threads and with ``VOICE_STATEMENT_THREADS=1`` and ``=cores`` (the old default of one
   thread per core in every process: oversubscribed).
3. **API latency under load**: a fixed number of clients (asyncio + httpx over loopback, one
   connection each) for a fixed time,
   against the embedded server after it was seeded with short recordings (the 23 s MG11 fixture,
   uploaded and drafted for real; half then edited and confirmed so a case builder reaches them).
   The operations are those of an officer, a case builder and an administrator: list, read one
   statement (its versions included), progress, a PATCH of one field (each client edits its own
   draft, so no edit races another), the case builder's list and read (with ``X-Justification``),
   the administrator's audit query for one statement, and ``/healthz``. Each client waits
   ``--think`` seconds (x U(0.5, 1.5), default 1) between its requests, as a person does between
   clicks; ``--think 0`` sends the next request at once and measures saturation instead.
   Per operation and overall: requests/s, p50/p95/p99/max in ms, and every answer
   that is not 2xx (or no answer).
4. **Peak RSS** of each server process and each worker process (psutil, sampled every 0.2 s).

The load generator runs in this process, on the same cores as the server: on a small machine
it takes CPU from the server, so the latencies are an upper bound for a server with its own
cores. Prints Markdown tables, writes JSON (``benchmarks/results/service.json`` or ``--out``)
and, for a run that is not ``--quick``, the plot ``docs/benchmarks/service-latency.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
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
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.common import (
    REPO,
    long_recording,
    markdown_table,
    new_figure,
    percentile,
    run_json,
    save_plot,
    write_results,
)

BIN = Path(sys.executable).parent
SEED_RECORDING = REPO / "tests" / "fixtures" / "audio" / "mg11_assault.ogg"
PLOT = "service-latency"
PHASES = ("warm", "cold", "throughput", "load")
POLL_S = 0.05  # how often a waiting client asks for progress
START_TIMEOUT_S = 300.0
DRAFT_TIMEOUT_S = 600.0
STATEMENT_DATE = "2026-11-20"
UNIT = "Penrith CID"
OFFICER, CASE_BUILDER, ADMIN = "PC 4521 Dawson", "DC 310 Hale", "Admin Ward"
JUSTIFICATION = "benchmark: case file preparation"


@dataclass(frozen=True)
class Options:
    """What to run. Counts are recordings or statements; times are seconds."""

    warm: int = 10  # sequential warm uploads measured (after one untimed)
    cold_runs: int = 3  # fresh servers
    throughput: int = 20  # recordings queued at once per set-up
    distributed: bool = True  # measure worker processes too (when Redis answers)
    recording_s: float = 60.0
    clients: int = 50
    duration_s: float = 20.0
    # seconds a client waits between its requests: uniform in [0.5, 1.5] x think_s, as Locust's
    # ``between`` does (a person reads a screen before the next click); 0 sends the next request
    # the moment the last answers, which measures saturation, not latency
    think_s: float = 1.0
    seed: int = 50  # short statements uploaded before the load test
    redis_url: str = "redis://127.0.0.1:6379/9"
    skip: frozenset[str] = frozenset()


# 15 s recordings: the smoke test proves every part runs; the 60 s figures come from full runs.
QUICK = Options(
    warm=2,
    cold_runs=0,
    throughput=3,
    distributed=False,
    recording_s=15.0,
    clients=10,
    duration_s=3.0,
    seed=6,
)


# --------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """This process's environment less every ``VOICE_STATEMENT_*``, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_STATEMENT_")}
    env["VOICE_STATEMENT_DATA_DIR"] = str(data_dir)
    env["VOICE_STATEMENT_UPLOAD_RATE_PER_MINUTE"] = "1000000"
    return {**env, **extra}


class Processes:
    """Child processes in their own process groups, all killed by ``close`` (SIGTERM, then
    SIGKILL after 10 s), with the peak RSS of each process (and its children) sampled."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.peaks: dict[int, tuple[str, float]] = {}  # pid -> (label, peak RSS MB)
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [str(BIN / "voice-statement"), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.running.append((name, proc))
        return proc

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for name, proc in list(self.running):
                if proc.poll() is not None:
                    continue
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(proc.pid)
                    for i, p in enumerate([root, *root.children(recursive=True)]):
                        with contextlib.suppress(psutil.Error):
                            rss = p.memory_info().rss / 1024**2
                            label = name if i == 0 else f"{name} child {p.pid}"
                            old = self.peaks.get(p.pid, (label, 0.0))[1]
                            self.peaks[p.pid] = (label, max(old, rss))

    def peak_rss(self, name: str) -> list[dict[str, Any]]:
        """Every process sampled under ``name`` (the process and each child), largest first."""
        rows = [
            {"process": label, "pid": pid, "peak_rss_mb": round(mb, 1)}
            for pid, (label, mb) in self.peaks.items()
            if label == name or label.startswith(f"{name} child")
        ]
        return sorted(rows, key=lambda r: -float(r["peak_rss_mb"]))

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the whole group (Celery's pool included), SIGKILL what is left after 10 s."""
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; its pool children may not be.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return

    def log_tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        for _, proc in self.running:
            self.stop(proc)
        self._stop.set()
        self._sampler.join(2)


def make_accounts(env: dict[str, str]) -> dict[str, str]:
    """An officer and a case builder of one unit, and an administrator, made by the real
    ``voice-statement users add`` (in one process: each command would pay the imports);
    returns name -> API token."""
    accounts = [
        (OFFICER, ["officer"], UNIT),
        (CASE_BUILDER, ["case_builder"], UNIT),
        (ADMIN, ["admin"], None),
    ]
    script = (
        "import contextlib, io, json, sys\n"
        "from app import main\n"
        "tokens = {}\n"
        "for name, roles, unit in json.loads(sys.argv[1]):\n"
        "    out = io.StringIO()\n"
        "    argv = ['users', 'add', name] + [a for r in roles for a in ('--role', r)]\n"
        "    argv += ['--unit', unit] if unit else []\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        assert main(argv) == 0\n"
        "    tokens[name] = out.getvalue().strip()\n"
        "print(json.dumps(tokens))\n"
    )
    return {
        str(k): str(v) for k, v in run_json(["-c", script, json.dumps(accounts)], env=env).items()
    }


@dataclass
class Server:
    """A running ``serve``: its URL, the tokens of its accounts, and how long it took to start."""

    name: str
    url: str
    tokens: dict[str, str]
    healthy_s: float  # process start to /healthz answering 200
    ready_s: float  # process start to /readyz 200 (embedded: model loaded)
    mode: str

    def client(self, who: str = OFFICER, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=60,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            **kwargs,
        )


def start_server(procs: Processes, name: str, env: dict[str, str]) -> Server:
    tokens = make_accounts(env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = procs.start(name, ["serve", "--port", str(port)], env)
    healthy_s = ready_s = None
    mode = "?"
    auth = {"Authorization": f"Bearer {tokens[OFFICER]}"}
    with httpx.Client(base_url=url, timeout=5) as client:
        while ready_s is None:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited ({proc.returncode}):\n{procs.log_tail(name)}")
            if time.monotonic() - started > START_TIMEOUT_S:
                raise SystemExit(
                    f"{name} not ready in {START_TIMEOUT_S} s:\n{procs.log_tail(name)}"
                )
            try:
                if healthy_s is None and client.get("/healthz").status_code == 200:
                    healthy_s = time.monotonic() - started
                if healthy_s is not None:
                    ready = client.get("/readyz", headers=auth)
                    if ready.status_code == 200:
                        ready_s = time.monotonic() - started
                        mode = ready.json()["checks"]["mode"]
                        break
            except httpx.TransportError:
                pass
            time.sleep(POLL_S)
    assert healthy_s is not None
    return Server(name, url, tokens, healthy_s, ready_s, mode)


# --------------------------------------------------------------------------------------------
# Uploads and drafts


@dataclass
class Draft:
    """One recording through the service. Times in seconds."""

    statement_id: str
    post_s: float  # the upload request, sent to answered
    posted_at: float  # wall clock (time.time) when the POST returned
    draft_s: float | None = None  # POST returned -> progress polled says done (draft)
    server_s: float | None = None  # POST returned -> the server's draft_ready timestamp
    status: str = "received"


def upload(client: httpx.Client, path: Path) -> Draft:
    content = path.read_bytes()
    sent = time.monotonic()
    response = client.post(
        "/api/v1/statements",
        files={
            "audio": (path.name, content, "audio/wav" if path.suffix == ".wav" else "audio/ogg")
        },
        data={"template": "mg11", "statement_date": STATEMENT_DATE},
    )
    returned = time.monotonic()
    if response.status_code != 202:
        raise SystemExit(f"upload refused: {response.status_code} {response.text}")
    return Draft(response.json()["id"], returned - sent, time.time())


def draft_ready_at(events: list[dict[str, Any]]) -> float | None:
    for event in events:
        if event["kind"] == "draft_ready":
            return datetime.fromisoformat(event["at"]).timestamp()
    return None


def wait_for_draft(client: httpx.Client, draft: Draft) -> Draft:
    """Poll ``progress`` every 50 ms from the POST's return until drafting is over."""
    after = 0
    events: list[dict[str, Any]] = []
    # The wall-clock POST return, on the monotonic clock.
    start = time.monotonic() - (time.time() - draft.posted_at)
    while True:
        response = client.get(f"/api/v1/statements/{draft.statement_id}/progress?after={after}")
        response.raise_for_status()
        body = response.json()
        events += body["events"]
        if events:
            after = events[-1]["id"]
        if body["done"]:
            draft.draft_s = time.monotonic() - start
            draft.status = body["status"]
            ready = draft_ready_at(events)
            draft.server_s = None if ready is None else ready - draft.posted_at
            return draft
        if time.monotonic() - start > DRAFT_TIMEOUT_S:
            raise SystemExit(f"no draft of {draft.statement_id} in {DRAFT_TIMEOUT_S} s")
        time.sleep(POLL_S)


def draft_one(client: httpx.Client, path: Path) -> Draft:
    return wait_for_draft(client, upload(client, path))


def summary(values: list[float]) -> dict[str, float]:
    """p50, p95 and max of some seconds (or milliseconds), rounded to the millisecond."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3) if values else float("nan"),
    }


def warm_latency(server: Server, recording: Path, n: int) -> dict[str, Any]:
    with server.client() as client:
        first = draft_one(client, recording)  # untimed: the model's first run
        drafts = [draft_one(client, recording) for _ in range(n)]
    latencies = [d.draft_s for d in drafts if d.draft_s is not None and d.status == "draft"]
    return {
        "first_draft_s": first.draft_s,
        "drafts": [vars(d) for d in drafts],
        "completed": len(latencies),
        "draft_s": summary(latencies),
        "server_s": summary([d.server_s for d in drafts if d.server_s is not None]),
        "post_s": summary([d.post_s for d in drafts]),
    }


def cold_start(procs: Processes, root: Path, recording: Path, run: int) -> dict[str, Any]:
    data = root / f"cold-{run}"
    name = f"cold-{run}"
    try:
        server = start_server(procs, name, clean_env(data, {}))
        with server.client() as client:
            draft = draft_one(client, recording)
        procs.stop(procs.running[-1][1])
        return {
            "healthy_s": round(server.healthy_s, 3),
            "ready_s": round(server.ready_s, 3),
            "first_draft_s": draft.draft_s,
            "first_server_s": draft.server_s,
            "status": draft.status,
            "peak_rss": procs.peak_rss(name),
        }
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Throughput


@dataclass(frozen=True)
class Setup:
    """One way of running the drafting: embedded, or ``worker --concurrency`` with threads."""

    label: str
    concurrency: int = 0  # 0: embedded
    threads: str | None = None  # VOICE_STATEMENT_THREADS, None: the default


def queue_at_once(server: Server, recording: Path, n: int) -> dict[str, Any]:
    """Upload ``n`` recordings back to back, wait for every draft, and time the whole."""
    with server.client() as client:
        first_sent = time.time()
        drafts = [upload(client, recording) for _ in range(n)]
        uploaded = time.time()
        pending = {d.statement_id for d in drafts}
        deadline = time.monotonic() + DRAFT_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            time.sleep(0.5)  # one list request: the waiting must not load the server
            page = client.get("/api/v1/statements", params={"page_size": 200}).json()
            pending -= {
                i["id"] for i in page["items"] if i["status"] not in ("received", "transcribing")
            }
        ends: list[float] = []
        statuses: list[str] = []
        for d in drafts:
            body = client.get(f"/api/v1/statements/{d.statement_id}/progress").json()
            statuses.append(body["status"])
            at = draft_ready_at(body["events"])
            if at is not None:
                ends.append(at)
    done = statuses.count("draft")
    elapsed = (max(ends) - first_sent) if ends else float("nan")
    return {
        "recordings": n,
        "drafted": done,
        "upload_s": round(uploaded - first_sent, 3),
        "elapsed_s": round(elapsed, 3),
        "statements_per_min": round(done / elapsed * 60, 2) if ends else 0.0,
    }


def redis_reachable(url: str) -> str | None:
    """None when Redis answers at ``url``, else why not."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis is not reachable at {url}: {exc}".splitlines()[0]


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def distributed_throughput(
    procs: Processes, root: Path, setup: Setup, recording: Path, n: int, redis_url: str
) -> dict[str, Any]:
    data = root / setup.label.replace(" ", "-").replace("=", "")
    extra = {
        "VOICE_STATEMENT_BROKER_URL": redis_url,
        "VOICE_STATEMENT_AUDIO_STORE": "database",
        "VOICE_STATEMENT_DATABASE_URL": f"sqlite:///{data / 'shared.db'}",
    }
    if setup.threads is not None:
        extra["VOICE_STATEMENT_THREADS"] = setup.threads
    env = clean_env(data, extra)
    flush_redis(redis_url)
    serve_name, worker_name = f"serve {setup.label}", f"worker {setup.label}"
    try:
        server = start_server(procs, serve_name, env)
        assert server.mode == "distributed", server.mode
        procs.start(worker_name, ["worker", "--concurrency", str(setup.concurrency)], env)
        with server.client() as client:  # untimed: every worker process loads its model
            warm = [upload(client, recording) for _ in range(setup.concurrency)]
            for d in warm:
                wait_for_draft(client, d)
        result = queue_at_once(server, recording, n)
        for name, proc in list(procs.running):
            if name in (serve_name, worker_name):
                procs.stop(proc)
        return {
            **result,
            "peak_rss": procs.peak_rss(worker_name) + procs.peak_rss(serve_name),
        }
    finally:
        flush_redis(redis_url)
        shutil.rmtree(data, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# API latency under load


@dataclass(frozen=True)
class Operation:
    """One kind of request; ``path`` and ``body`` are made for each request by the client."""

    name: str
    method: str
    weight: int
    headers: dict[str, str]
    path: Callable[[random.Random, int], str]
    body: Callable[[int, int], dict[str, Any]] | None = None
    only_clients: int | None = None  # only clients numbered below this send it


@dataclass
class Seeded:
    """The statements the load test reads and edits (the officer's; the confirmed ones reach
    the case builder too)."""

    drafts: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    total: int = 0  # every statement in the database, earlier phases' included


def seed(server: Server, n: int) -> tuple[Seeded, float]:
    """Upload ``n`` short recordings and wait for their drafts; edit and confirm half of them.
    Returns the statements and the seconds it took."""
    started = time.monotonic()
    seeded = Seeded()
    with server.client() as client:
        drafts = [upload(client, SEED_RECORDING) for _ in range(n)]
        for d in drafts:
            wait_for_draft(client, d)
        ids = [d.statement_id for d in drafts if d.status == "draft"]
        half = len(ids) // 2
        seeded.drafts = ids[half:]
        for statement_id in ids[:half]:
            # The three fields an MG11 needs, as the officer corrects them before confirming.
            edit = client.patch(
                f"/api/v1/statements/{statement_id}",
                json={
                    "fields": {
                        "witness.name": "Sarah Jane Holloway",
                        "incident.date": "2026-11-17",
                        "incident.location": "Market Street, Penrith",
                    }
                },
            )
            edit.raise_for_status()
            confirm = client.post(
                f"/api/v1/statements/{statement_id}/confirm",
                json={"witness_declaration_accepted": True, "place": "Penrith police station"},
            )
            confirm.raise_for_status()
            seeded.confirmed.append(statement_id)
        seeded.total = client.get("/api/v1/statements", params={"page_size": 1}).json()["total"]
    return seeded, time.monotonic() - started


def operations(server: Server, seeded: Seeded) -> list[Operation]:
    officer = {"Authorization": f"Bearer {server.tokens[OFFICER]}"}
    builder = {
        "Authorization": f"Bearer {server.tokens[CASE_BUILDER]}",
        "X-Justification": JUSTIFICATION,
    }
    admin = {"Authorization": f"Bearer {server.tokens[ADMIN]}"}
    mine = seeded.drafts + seeded.confirmed
    drafts, confirmed = seeded.drafts, seeded.confirmed
    base = "/api/v1/statements"
    return [
        Operation("healthz", "GET", 1, {}, lambda r, c: "/healthz"),
        Operation("officer list", "GET", 2, officer, lambda r, c: f"{base}?page_size=20"),
        Operation("officer read", "GET", 3, officer, lambda r, c: f"{base}/{r.choice(mine)}"),
        Operation(
            "officer progress", "GET", 1, officer, lambda r, c: f"{base}/{r.choice(mine)}/progress"
        ),
        Operation(
            "officer edit",
            "PATCH",
            1,
            officer,
            lambda r, c: f"{base}/{drafts[c]}",
            # A new value every time, so every edit adds a version as a real correction does.
            body=lambda c, i: {"fields": {"witness.occupation": f"nurse {c}-{i}"}},
            only_clients=len(drafts),
        ),
        Operation(
            "case builder list",
            "GET",
            1,
            builder,
            lambda r, c: f"{base}?status=confirmed&page_size=20",
        ),
        Operation(
            "case builder read", "GET", 2, builder, lambda r, c: f"{base}/{r.choice(confirmed)}"
        ),
        Operation(
            "admin audit",
            "GET",
            1,
            admin,
            lambda r, c: f"/api/v1/admin/audit?statement_id={r.choice(mine)}&page_size=20",
        ),
    ]


async def _client_loop(
    http: httpx.AsyncClient,
    number: int,
    ops: list[Operation],
    deadline: float,
    samples: list[tuple[str, float, int]],
    think_s: float,
) -> None:
    rng = random.Random(number)  # the same mix every run
    mine = [op for op in ops if op.only_clients is None or number < op.only_clients]
    weights = [op.weight for op in mine]
    sent = 0
    while time.monotonic() < deadline:
        op = rng.choices(mine, weights)[0]
        sent += 1
        body = op.body(number, sent) if op.body else None
        started = time.perf_counter()
        try:
            response = await http.request(
                op.method, op.path(rng, number), headers=op.headers, json=body
            )
            status = response.status_code
        except httpx.HTTPError:
            status = 0  # no answer
        samples.append((op.name, time.perf_counter() - started, status))
        if think_s > 0:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def _load(
    url: str, ops: list[Operation], clients: int, duration_s: float, think_s: float
) -> tuple[list[tuple[str, float, int]], float]:
    samples: list[tuple[str, float, int]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        started = time.monotonic()
        deadline = started + duration_s
        await asyncio.gather(
            *(_client_loop(http, n, ops, deadline, samples, think_s) for n in range(clients))
        )
        elapsed = time.monotonic() - started
    return samples, elapsed


def one_at_a_time(server: Server, ops: list[Operation], repeat: int) -> dict[str, float]:
    """Each operation ``repeat`` times, one request at a time: the service time of each with no
    queue in front of it, to tell apart what the load adds. Returns the median ms."""
    rng = random.Random(0)
    medians: dict[str, float] = {}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for op in ops:
            ms = []
            for i in range(repeat):
                body = op.body(0, 10_000 + i) if op.body else None
                started = time.perf_counter()
                response = http.request(op.method, op.path(rng, 0), headers=op.headers, json=body)
                ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            medians[op.name] = round(percentile(ms, 50), 1)
    return medians


def api_load(
    server: Server, seeded: Seeded, clients: int, duration_s: float, think_s: float
) -> dict[str, Any]:
    ops = operations(server, seeded)
    alone = one_at_a_time(server, ops, 10)
    samples, elapsed = asyncio.run(_load(server.url, ops, clients, duration_s, think_s))
    rows: dict[str, Any] = {}
    for name in [op.name for op in ops] + ["all"]:
        mine = [s for s in samples if name in ("all", s[0])]
        ms = [s[1] * 1000 for s in mine]
        rows[name] = {
            "requests": len(mine),
            "per_s": round(len(mine) / elapsed, 1),
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1) if ms else float("nan"),
            "non_2xx": sum(1 for s in mine if not 200 <= s[2] < 300),
            "statuses": sorted({s[2] for s in mine}),
            "alone_p50_ms": alone.get(name, float("nan")),
        }
    return {
        "clients": clients,
        "think_s": think_s,
        "duration_s": round(elapsed, 2),
        "endpoints": rows,
        "latencies_ms": {
            op.name: [round(s[1] * 1000, 2) for s in samples if s[0] == op.name] for op in ops
        },
    }


# --------------------------------------------------------------------------------------------
# The run


def run(options: Options, root: Path) -> dict[str, Any]:
    skip = options.skip
    recording = long_recording(options.recording_s)
    results: dict[str, Any] = {
        "recording": {"file": recording.name, "seconds": options.recording_s},
        "options": {
            k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in vars(options).items()
        },
    }
    procs = Processes(root)
    try:
        if not {"warm", "throughput", "load"} <= skip:
            server = start_server(procs, "serve embedded", clean_env(root / "embedded", {}))
            results["embedded_start"] = {"healthy_s": server.healthy_s, "ready_s": server.ready_s}
            if "warm" not in skip:
                print(
                    f"warm: {options.warm} drafts of {options.recording_s:.0f} s", file=sys.stderr
                )
                results["warm"] = warm_latency(server, recording, options.warm)
            if "throughput" not in skip:
                print(f"throughput: embedded, {options.throughput} at once", file=sys.stderr)
                if "warm" in skip:  # the model's first run is not timed
                    with server.client() as client:
                        draft_one(client, recording)
                results["throughput"] = {
                    "embedded (1 thread)": queue_at_once(server, recording, options.throughput)
                }
            if "load" not in skip:
                print(f"load: seeding {options.seed} statements", file=sys.stderr)
                seeded, seed_s = seed(server, options.seed)
                print(f"load: {options.clients} clients, {options.duration_s} s", file=sys.stderr)
                results["load"] = {
                    "seeded": options.seed,
                    "seed_s": round(seed_s, 1),
                    "statements_in_database": seeded.total,
                    **api_load(
                        server, seeded, options.clients, options.duration_s, options.think_s
                    ),
                }
            procs.stop(procs.running[-1][1])
            results["embedded_peak_rss"] = procs.peak_rss("serve embedded")
        if "throughput" not in skip and options.distributed:
            why_not = redis_reachable(options.redis_url)
            results["redis"] = why_not or f"reachable at {options.redis_url}"
            if why_not:
                print(f"throughput: {why_not}; embedded only", file=sys.stderr)
            else:
                cores = str(os.cpu_count() or 1)
                for setup in (
                    Setup("distributed c1", 1),
                    Setup("distributed c2", 2),
                    Setup("distributed c2 threads=1", 2, "1"),
                    Setup(f"distributed c2 threads={cores}", 2, cores),
                ):
                    print(f"throughput: {setup.label}", file=sys.stderr)
                    results["throughput"][setup.label] = distributed_throughput(
                        procs, root, setup, recording, options.throughput, options.redis_url
                    )
        if "cold" not in skip and options.cold_runs:
            results["cold"] = []
            for i in range(options.cold_runs):
                print(f"cold: run {i + 1} of {options.cold_runs}", file=sys.stderr)
                results["cold"].append(cold_start(procs, root, recording, i))
    finally:
        procs.close()
    return results


def report(results: dict[str, Any]) -> str:
    out: list[str] = []
    if "warm" in results:
        w = results["warm"]
        out += [
            f"### Draft latency, {results['recording']['seconds']:.0f} s recording, warm "
            "(POST returned -> draft ready, s)",
            "",
            markdown_table(
                ["measure", "n", "p50", "p95", "max"],
                [
                    [k, w[k]["n"], w[k]["p50"], w[k]["p95"], w[k]["max"]]
                    for k in ("draft_s", "server_s", "post_s")
                ],
            ),
            "",
        ]
    if results.get("cold"):
        out += [
            "### Cold start (s)",
            "",
            markdown_table(
                ["run", "healthy", "ready", "first draft", "status"],
                [
                    [i + 1, c["healthy_s"], c["ready_s"], round(c["first_draft_s"], 3), c["status"]]
                    for i, c in enumerate(results["cold"])
                ],
            ),
            "",
        ]
    if "throughput" in results:
        out += [
            "### Throughput (recordings queued at once)",
            "",
            markdown_table(
                ["set-up", "recordings", "drafted", "elapsed s", "statements/min", "peak RSS MB"],
                [
                    [
                        label,
                        t["recordings"],
                        t["drafted"],
                        t["elapsed_s"],
                        t["statements_per_min"],
                        ", ".join(
                            f"{r['process'].split(' ')[0]} {r['peak_rss_mb']:.0f}"
                            for r in t.get("peak_rss", [])
                        )
                        or "(embedded server below)",
                    ]
                    for label, t in results["throughput"].items()
                ],
            ),
            "",
        ]
        if "redis" in results:
            out += [f"Redis: {results['redis']}", ""]
    if "load" in results:
        load = results["load"]
        out += [
            f"### API under load: {load['clients']} clients, think time {load['think_s']} s, "
            f"{load['duration_s']} s, "
            f"{load['statements_in_database']} statements",
            "",
            markdown_table(
                [
                    "operation",
                    "requests",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "max ms",
                    "non-2xx",
                    "alone p50 ms",
                ],
                [
                    [
                        name,
                        r["requests"],
                        r["per_s"],
                        r["p50_ms"],
                        r["p95_ms"],
                        r["p99_ms"],
                        r["max_ms"],
                        r["non_2xx"],
                        r["alone_p50_ms"],
                    ]
                    for name, r in load["endpoints"].items()
                ],
            ),
            "",
        ]
    if "embedded_peak_rss" in results:
        out += [
            "### Peak RSS of the embedded server (MB)",
            "",
            markdown_table(
                ["process", "peak RSS MB"],
                [[r["process"], r["peak_rss_mb"]] for r in results["embedded_peak_rss"]],
            ),
        ]
    return "\n".join(out)


def plot(results: dict[str, Any], beside: Path | None) -> None:
    """Draw the figure: into docs/benchmarks, or (``beside``: a partial run, whose figures must
    not replace the documented plot) as a PNG beside that JSON file."""
    figure, _ = new_figure(11.0, 4.5)
    figure.clf()
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    latencies = results.get("load", {}).get("latencies_ms", {})
    names = [n for n, v in latencies.items() if v]
    if names:
        left.boxplot([latencies[n] for n in names], whis=(1, 99), showfliers=False)
        left.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
        left.set_yscale("log")
        left.axhline(50, color="tab:red", linestyle="--", linewidth=1, label="target p95 50 ms")
        left.set_ylabel("request latency, ms (box: quartiles, whiskers: p1-p99)")
        left.set_title(f"API under load ({results['load']['clients']} clients)")
        left.legend(loc="upper left")
    points: list[tuple[str, list[float]]] = []
    if "warm" in results:
        points.append(("warm", [d["draft_s"] for d in results["warm"]["drafts"] if d["draft_s"]]))
    if results.get("cold"):
        points.append(("cold", [c["first_draft_s"] for c in results["cold"]]))
    for x, (label, values) in enumerate(points, start=1):
        jitter = [x + (i % 5 - 2) * 0.04 for i in range(len(values))]
        right.scatter(jitter, values, s=18, label=label)
    if points:
        right.axhline(4.0, color="tab:red", linestyle="--", linewidth=1, label="target p95 4 s")
        right.set_xticks(range(1, len(points) + 1), [p[0] for p in points])
        right.set_xlim(0.5, len(points) + 0.5)
        right.set_ylim(bottom=0)
        right.set_ylabel(f"draft latency of {results['recording']['seconds']:.0f} s, s")
        right.set_title("Upload to draft (POST returned -> draft)")
    else:
        right.set_axis_off()
    if beside is None:
        save_plot(figure, PLOT)
        return
    import matplotlib.pyplot as plt

    path = beside.with_suffix(".png")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    print(f"plotted: {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test (about a minute)")
    parser.add_argument("--skip", default="", help=f"comma-separated phases: {','.join(PHASES)}")
    parser.add_argument("--warm", type=int, help="warm drafts measured (default 10)")
    parser.add_argument("--cold-runs", type=int, help="fresh servers started (default 3)")
    parser.add_argument("--throughput", type=int, help="recordings queued at once (default 20)")
    parser.add_argument("--clients", type=int, help="load-test clients (default 50)")
    parser.add_argument("--duration", type=float, help="load-test seconds (default 20)")
    parser.add_argument(
        "--think",
        type=float,
        help="seconds between a client's requests, x U(0.5, 1.5) (default 1; 0 saturates)",
    )
    parser.add_argument("--seed", type=int, help="statements seeded for the load test (default 50)")
    parser.add_argument(
        "--seconds", type=float, help="recording length for draft and throughput (default 60)"
    )
    parser.add_argument(
        "--redis-url", help="Redis for distributed mode (default db 9 on localhost)"
    )
    parser.add_argument(
        "--out", type=Path, help="JSON file (default benchmarks/results/service.json)"
    )
    args = parser.parse_args()
    skip = frozenset(s.strip() for s in args.skip.split(",") if s.strip())
    if skip - set(PHASES):
        parser.error(f"--skip takes {', '.join(PHASES)}")
    if args.seed is not None and args.seed < 2:
        parser.error("--seed: at least 2 (one draft to edit, one confirmed statement to read)")
    options = QUICK if args.quick else Options()
    given = {
        "warm": args.warm,
        "cold_runs": args.cold_runs,
        "throughput": args.throughput,
        "clients": args.clients,
        "duration_s": args.duration,
        "think_s": args.think,
        "seed": args.seed,
        "redis_url": args.redis_url,
        "recording_s": args.seconds,
    }
    options = Options(
        **{**vars(options), **{k: v for k, v in given.items() if v is not None}, "skip": skip}
    )
    root = Path(tempfile.mkdtemp(prefix="vs-service-bench-"))
    try:
        results = run(options, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["quick"] = args.quick
    print(report(results))
    out = write_results("service", results, args.out)
    full_run = not args.quick and not skip and options == Options()
    plot(results, None if full_run else out)


if __name__ == "__main__":
    main()
