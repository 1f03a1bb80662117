"""The service as deployed, under faults: nothing accepted is lost, nothing is drafted twice.

Real processes (``voice-statement serve`` and ``worker``), real databases and brokers, real
HTTP. Each test causes one fault, lets the service recover, and ends with the same check
(``tests.reliability.invariants.check_nothing_lost``): every recording the service accepted is
in the audio store with the SHA-256 the client sent, read back through the service's own
decrypting path, and became exactly one statement (one machine version, one ``draft_ready``
event, one job, done). The faults:

1. SIGKILL of a worker mid-transcription, then a restart: embedded (``serve`` on SQLite) and
   distributed (the API and Celery workers on PostgreSQL and Redis).
2. SIGKILL of the API mid-upload: the resumable upload continues from the offset the restarted
   server reports.
3. A crash-restart of PostgreSQL (a private cluster) while jobs run.
4. Redis (a private one, keeping nothing on disk) stopped while jobs are queued and running.
5. The submission endpoint down, then answering 500: the delivery arrives exactly once.
6. The audio store's disk full: the upload is refused cleanly, and the next one, after space
   is freed, works.

Figures (recordings accepted, statements made, lost, time to recover) go to the reliability
report's ``faults`` section.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUDIO_FIXTURES, _postgres_unreachable, make_postgres_database
from tests.reliability.conftest import Report, Scale
from tests.reliability.invariants import check_nothing_lost
from tests.reliability.servers import (
    FlakySink,
    PrivatePostgres,
    PrivateRedis,
    Processes,
    event_kinds,
    free_port,
    post_recording,
    private_postgres_unavailable,
    private_redis_unavailable,
    serve,
    sha256_of,
    status_of,
    wait_until,
    write_clip,
    write_long_recording,
)

pytestmark = pytest.mark.slow

MG11 = AUDIO_FIXTURES / "mg11_assault.ogg"
MISSING_PERSON = AUDIO_FIXTURES / "missing_person.ogg"


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_recording(tmp_path_factory.mktemp("long") / "long_statement.wav")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eight short recordings of real speech (4 s each), each different bytes."""
    folder = tmp_path_factory.mktemp("clips")
    return [
        write_clip(folder / f"clip_{n}.wav", source, start_s=start, seconds=4.0)
        for n, (source, start) in enumerate(
            (source, start) for source in (MG11, MISSING_PERSON) for start in (0.0, 4.0, 8.0, 12.0)
        )
    ]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    url, drop = make_postgres_database()
    yield url
    drop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    reason = private_redis_unavailable()
    if reason:
        pytest.skip(reason)
    server = PrivateRedis(tmp_path)
    yield server
    server.close()


@pytest.fixture
def sink() -> Iterator[FlakySink]:
    endpoint = FlakySink()
    endpoint.up()
    yield endpoint
    endpoint.down()


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """``serve`` on SQLite with its own worker threads; short leases, so a dead worker's job
    is taken up again within seconds."""
    return {
        "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        "VOICE_STATEMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "VOICE_STATEMENT_JOB_LEASE_S": "4",
        "VOICE_STATEMENT_POLL_INTERVAL_S": "0.2",
        **extra,
    }


def distributed_env(
    tmp_path: Path, database_url: str, broker_url: str, **extra: str
) -> dict[str, str]:
    return {
        "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        "VOICE_STATEMENT_DATABASE_URL": database_url,
        "VOICE_STATEMENT_BROKER_URL": broker_url,
        "VOICE_STATEMENT_AUDIO_STORE": "database",  # every worker machine reaches it
        "VOICE_STATEMENT_JOB_LEASE_S": "4",
        "VOICE_STATEMENT_POLL_INTERVAL_S": "0.2",
        "VOICE_STATEMENT_BROKER_VISIBILITY_TIMEOUT_S": "20",
        "VOICE_STATEMENT_DELIVERY_BACKOFF_S": "0.2",
        **extra,
    }


def settled(client: httpx.Client, statement_ids: list[str]) -> bool:
    """Every statement drafted (a failed one would never become a draft: the wait times out
    and the invariant names it)."""
    try:
        return all(status_of(client, sid) == "draft" for sid in statement_ids)
    except (KeyError, ValueError):  # an error body while the service recovers
        return False


def wait_for_drafts(
    client: httpx.Client, procs: Processes, statement_ids: list[str], *, timeout_s: float = 180
) -> None:
    wait_until(
        lambda: settled(client, statement_ids),
        timeout_s=timeout_s,
        what=f"the drafts of {statement_ids}",
        procs=procs,
    )


def transcribing(client: httpx.Client, statement_id: str) -> bool:
    try:
        return "transcribing" in event_kinds(client, statement_id)
    except (KeyError, ValueError):
        return False


# --- 1. a worker killed mid-transcription ----------------------------------------------------


def test_embedded_service_killed_mid_transcription_finishes_the_job_once(
    tmp_path: Path,
    processes: Processes,
    long_recording: Path,
    reliability_report: Report,
) -> None:
    env = embedded_env(tmp_path)
    port = free_port()
    client = serve(processes, env, port)
    statement_id = post_recording(client, long_recording)
    wait_until(
        lambda: transcribing(client, statement_id),
        timeout_s=120,
        what="transcription to start",
        procs=processes,
    )
    processes.kill(processes.running[-1])
    killed_at = time.monotonic()

    client = serve(processes, env, port)
    assert "draft_ready" not in event_kinds(client, statement_id)  # killed before the draft
    wait_for_drafts(client, processes, [statement_id])
    recovered_s = time.monotonic() - killed_at
    kinds = event_kinds(client, statement_id)
    assert kinds.count("decoding") >= 2 and kinds.count("draft_ready") == 1
    original = client.get(f"/api/v1/statements/{statement_id}/audio").content
    assert original == long_recording.read_bytes()
    check_nothing_lost(
        env,
        {statement_id: sha256_of(long_recording)},
        min_attempts=2,  # the killed attempt counted
        report=reliability_report,
        fault="worker_killed_embedded",
        recovered_s=round(recovered_s, 1),
    )


def test_distributed_workers_survive_a_kill_and_deliver_once(
    tmp_path: Path,
    processes: Processes,
    long_recording: Path,
    postgres_url: str,
    redis_server: PrivateRedis,
    sink: FlakySink,
    reliability_report: Report,
) -> None:
    env = distributed_env(
        tmp_path,
        postgres_url,
        redis_server.url,
        VOICE_STATEMENT_SUBMISSION_URL=f"{sink.url}/cjs",
        VOICE_STATEMENT_REFERRAL_URL=f"{sink.url}/referrals",
    )
    port = free_port()
    client = serve(processes, env, port)
    assert client.get("/readyz").json()["checks"]["mode"] == "distributed"

    # One worker, killed mid-transcription, then started again.
    worker = processes.start("worker-1", ["worker"], env)
    statement_id = post_recording(client, long_recording)
    wait_until(
        lambda: transcribing(client, statement_id),
        timeout_s=180,
        what="a worker to start transcribing",
        procs=processes,
    )
    processes.kill(worker)
    killed_at = time.monotonic()
    assert "draft_ready" not in event_kinds(client, statement_id)
    processes.start("worker-1", ["worker"], env)
    wait_for_drafts(client, processes, [statement_id])
    recovered_s = time.monotonic() - killed_at
    check_nothing_lost(env, {statement_id: sha256_of(long_recording)}, min_attempts=2)

    # Two workers: two recordings drafted, then one through to a single delivery.
    processes.start("worker-2", ["worker"], env)
    first = post_recording(client, MG11)
    second = post_recording(client, MISSING_PERSON, "missing_person")
    wait_for_drafts(client, processes, [first, second])
    # Two referrals, one each: the long recording speaks of a missing 14-year-old too (a
    # child, whatever the template), and the missing-person report. The killed and restarted
    # drafting sent its referral once.
    wait_until(
        lambda: len([p for p in sink.posts if p.path == "/referrals"]) >= 2,
        timeout_s=30,
        what="two referrals",
        procs=processes,
    )
    referred = sorted(p.body["statement_id"] for p in sink.posts if p.path == "/referrals")
    assert referred == sorted([statement_id, second])

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
    wait_until(
        lambda: delivered(client, first),
        timeout_s=30,
        what="the delivery to be recorded",
        procs=processes,
    )
    time.sleep(1.0)
    [delivery] = [p for p in sink.posts if p.path == "/cjs"]
    assert delivery.body["statement_id"] == first
    assert len([p for p in sink.posts if p.path == "/referrals"]) == 2  # no referral twice
    pdf = client.get(f"/api/v1/statements/{first}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    check_nothing_lost(
        env,
        {statement_id: sha256_of(long_recording), first: sha256_of(MG11)}
        | {second: sha256_of(MISSING_PERSON)},
        report=reliability_report,
        fault="worker_killed_distributed",
        recovered_s=round(recovered_s, 1),
    )


def delivered(client: httpx.Client, statement_id: str) -> bool:
    return any(
        d["kind"] == "submission" and d["state"] == "delivered"
        for d in client.get(f"/api/v1/statements/{statement_id}").json()["submission"]
    )


# --- 2. the API killed mid-upload -------------------------------------------------------------

PIECE = 8 * 1024


def put_piece(client: httpx.Client, upload_id: str, offset: int, data: bytes) -> httpx.Response:
    return client.put(
        f"/api/v1/uploads/{upload_id}",
        params={"offset": offset},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def test_an_upload_cut_off_by_an_api_crash_resumes_from_the_servers_offset(
    tmp_path: Path, processes: Processes, reliability_report: Report
) -> None:
    recording = MG11.read_bytes()
    sha256 = hashlib.sha256(recording).hexdigest()
    env = embedded_env(tmp_path)
    port = free_port()
    client = serve(processes, env, port)
    declared = client.post(
        "/api/v1/uploads",
        json={
            "template": "mg11",
            "statement_date": "2026-11-20",
            "size": len(recording),
            "sha256": sha256,
            "filename": MG11.name,
            "content_type": "audio/ogg",
        },
    )
    assert declared.status_code == 201, declared.text
    upload_id = declared.json()["id"]
    half = len(recording) // 2 // PIECE * PIECE
    for offset in range(0, half, PIECE):
        assert put_piece(client, upload_id, offset, recording[offset : offset + PIECE]).is_success

    # The next piece is in flight, half of it sent, when the server is killed.
    half_sent = threading.Event()
    release = threading.Event()

    def slow_piece() -> Iterator[bytes]:
        yield recording[half : half + PIECE // 2]
        half_sent.set()
        release.wait(30)
        yield recording[half + PIECE // 2 : half + PIECE]

    outcome: list[BaseException | httpx.Response] = []

    def send_slowly() -> None:
        try:
            outcome.append(
                client.put(
                    f"/api/v1/uploads/{upload_id}",
                    params={"offset": half},
                    content=slow_piece(),
                    headers={"Content-Type": "application/octet-stream"},
                )
            )
        except httpx.TransportError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send_slowly)
    sender.start()
    assert half_sent.wait(30)
    time.sleep(0.2)  # the half piece reaches the server
    processes.kill(processes.running[-1])
    killed_at = time.monotonic()
    release.set()
    sender.join(30)
    assert outcome and isinstance(outcome[0], httpx.TransportError), outcome

    client = serve(processes, env, port)
    recovered_s = time.monotonic() - killed_at
    where = client.get(f"/api/v1/uploads/{upload_id}")
    assert where.status_code == 200, where.text
    offset = where.json()["offset"]
    assert offset == int(where.headers["Upload-Offset"]) == half  # the cut piece not kept
    assert where.json()["complete"] is False and where.json()["statement"] is None
    finished = None
    while offset < len(recording):
        sent = put_piece(client, upload_id, offset, recording[offset : offset + PIECE])
        assert sent.status_code == 200, sent.text
        offset = sent.json()["offset"]
        finished = sent.json()
    assert finished is not None and finished["complete"] is True
    statement_id = finished["statement"]["id"]
    assert finished["statement"]["audio_sha256"] == sha256
    # The last piece sent again (its reply lost, say) names the same statement, not a new one.
    again = put_piece(client, upload_id, len(recording) - PIECE, recording[-PIECE:])
    assert again.status_code in (200, 409), again.text
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["statement"]["id"] == statement_id
    wait_for_drafts(client, processes, [statement_id])
    check_nothing_lost(
        env,
        {statement_id: sha256},
        report=reliability_report,
        fault="api_killed_mid_upload",
        recovered_s=round(recovered_s, 1),
    )


# --- 3. PostgreSQL restarted while jobs run ---------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    reason = private_postgres_unavailable()
    if reason:
        pytest.skip(reason)
    server = PrivatePostgres()
    yield server
    server.close()


def test_jobs_survive_a_postgresql_crash_restart(
    tmp_path: Path,
    processes: Processes,
    clips: list[Path],
    private_postgres: PrivatePostgres,
    scale: Scale,
    reliability_report: Report,
) -> None:
    env = embedded_env(tmp_path, VOICE_STATEMENT_DATABASE_URL=private_postgres.url)
    client = serve(processes, env, free_port())
    recordings = clips[: scale.pick(3, 8)]
    accepted = {post_recording(client, clip): sha256_of(clip) for clip in recordings}
    first = next(iter(accepted))
    wait_until(
        lambda: transcribing(client, first),
        timeout_s=120,
        what="a job to be running",
        procs=processes,
    )
    private_postgres.stop()
    time.sleep(scale.pick(2.0, 15.0))
    private_postgres.start()
    back_at = time.monotonic()
    wait_until(
        lambda: client.get("/readyz").status_code == 200,
        timeout_s=60,
        what="the service to see the database again",
        procs=processes,
    )
    # And a recording sent after the restart is taken as usual.
    late = post_recording(client, clips[-1])
    accepted[late] = sha256_of(clips[-1])
    wait_for_drafts(client, processes, list(accepted))
    check_nothing_lost(
        env,
        accepted,
        report=reliability_report,
        fault="postgresql_restarted",
        outage_s=scale.pick(2.0, 15.0),
        recovered_s=round(time.monotonic() - back_at, 1),
    )


# --- 4. Redis stopped in distributed mode ------------------------------------------------------


def test_jobs_survive_redis_stopping_in_distributed_mode(
    tmp_path: Path,
    processes: Processes,
    clips: list[Path],
    postgres_url: str,
    redis_server: PrivateRedis,
    scale: Scale,
    reliability_report: Report,
) -> None:
    env = distributed_env(
        tmp_path,
        postgres_url,
        redis_server.url,
        VOICE_STATEMENT_BROKER_VISIBILITY_TIMEOUT_S="8",
    )
    client = serve(processes, env, free_port())
    processes.start("worker-1", ["worker"], env)
    recordings = clips[: scale.pick(3, 8)]
    before = {post_recording(client, clip): sha256_of(clip) for clip in recordings[:-1]}
    first = next(iter(before))
    wait_until(
        lambda: transcribing(client, first),
        timeout_s=120,
        what="a worker to start transcribing",
        procs=processes,
    )
    outage_s = scale.pick(5.0, 30.0)
    redis_server.kill()  # and every message it held with it
    stopped_at = time.monotonic()
    # Accepted while the broker is down: the job is in the database, sent when it is back.
    during = {post_recording(client, recordings[-1]): sha256_of(recordings[-1])}
    time.sleep(max(0.0, outage_s - (time.monotonic() - stopped_at)))
    redis_server.start()
    back_at = time.monotonic()
    accepted = before | during
    wait_for_drafts(client, processes, list(accepted))
    check_nothing_lost(
        env,
        accepted,
        report=reliability_report,
        fault="redis_stopped",
        outage_s=outage_s,
        recovered_s=round(time.monotonic() - back_at, 1),
    )


# --- 5. the submission endpoint down, then failing ------------------------------------------


def test_a_submission_retries_through_an_outage_and_arrives_once(
    tmp_path: Path, processes: Processes, reliability_report: Report
) -> None:
    sink = FlakySink()  # down: nothing listens on its port yet
    env = embedded_env(
        tmp_path,
        VOICE_STATEMENT_SUBMISSION_URL=f"{sink.url}/cjs",
        VOICE_STATEMENT_DELIVERY_BACKOFF_S="0.2",
        VOICE_STATEMENT_DELIVERY_MAX_ATTEMPTS="30",
    )
    client = serve(processes, env, free_port())
    try:
        statement_id = post_recording(client, MG11)
        wait_for_drafts(client, processes, [statement_id])
        edited = client.patch(
            f"/api/v1/statements/{statement_id}",
            json={"fields": {"witness.occupation": "nurse"}},
        )
        assert edited.status_code == 200, edited.text
        confirmed = client.post(
            f"/api/v1/statements/{statement_id}/confirm",
            json={"witness_declaration_accepted": True, "place": "Penrith"},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert client.post(f"/api/v1/statements/{statement_id}/submit").status_code == 202
        submitted_at = time.monotonic()

        def submission() -> dict[str, object]:
            [found] = [
                d
                for d in client.get(f"/api/v1/statements/{statement_id}").json()["submission"]
                if d["kind"] == "submission"
            ]
            return found

        # Down: connection refused, tried again with backoff.
        wait_until(
            lambda: int(submission()["attempts"]) >= 2,  # type: ignore[call-overload]
            timeout_s=30,
            what="two refused attempts",
            procs=processes,
        )
        assert submission()["state"] == "pending" and submission()["last_status"] is None
        # Up, answering 500.
        sink.failing = True
        sink.up()
        wait_until(
            lambda: len(sink.about(statement_id)) >= 2,
            timeout_s=30,
            what="two attempts answered 500",
            procs=processes,
        )
        assert submission()["state"] == "pending" and submission()["last_status"] == 500
        # Healthy again.
        sink.failing = False
        returned_at = time.monotonic()
        wait_until(
            lambda: submission()["state"] == "delivered",
            timeout_s=30,
            what="the delivery once the endpoint accepts",
            procs=processes,
        )
        recovered_s = time.monotonic() - returned_at
        time.sleep(1.0)  # time for a second delivery, were there to be one
        posts = sink.about(statement_id)
        assert [p.status for p in posts].count(201) == 1
        assert posts[-1].status == 201 and all(p.status == 500 for p in posts[:-1])
        assert len({p.idempotency_key for p in posts}) == 1  # one message, tried again
        assert int(submission()["attempts"]) >= 2 + len(posts)  # type: ignore[call-overload]
    finally:
        sink.down()
    check_nothing_lost(
        env,
        {statement_id: sha256_of(MG11)},
        report=reliability_report,
        fault="submission_endpoint_down_then_500",
        attempts=int(submission()["attempts"]),  # type: ignore[call-overload]
        posts=len(posts),
        delivered_once=True,
        outage_s=round(returned_at - submitted_at, 1),
        recovered_s=round(recovered_s, 1),
    )


# --- 6. the audio store's disk full ------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, mounted for this test only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the audio store needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path, leave_bytes: int) -> Path:
    """Fill the filesystem of ``directory`` but for about ``leave_bytes``."""
    filler = directory / "filler"
    stats = os.statvfs(directory)
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave_bytes))
    return filler


def test_a_full_audio_disk_refuses_the_upload_cleanly(
    tmp_path: Path, processes: Processes, small_disk: Path, reliability_report: Report
) -> None:
    audio_dir = small_disk / "audio"
    env = embedded_env(tmp_path, VOICE_STATEMENT_AUDIO_DIR=str(audio_dir))
    client = serve(processes, env, free_port())
    filler = fill(small_disk, leave_bytes=16 * 1024)  # MG11 is 68 KiB
    dropped = ""
    refused: httpx.Response | None = None
    with MG11.open("rb") as audio:
        try:
            refused = client.post(
                "/api/v1/statements",
                files={"audio": (MG11.name, audio, "audio/ogg")},
                data={"template": "mg11", "statement_date": "2026-11-20"},
            )
        except httpx.TransportError as exc:  # checked last: first, what the fault left behind
            dropped = repr(exc)
    # A new connection, as a phone would open after a failed upload (a server that dropped the
    # last one may have left it half-closed in the pool).
    client = httpx.Client(base_url=client.base_url, headers=client.headers, timeout=30)
    # Nothing half-written: no partial file, no statement; the service still healthy.
    leftovers = [p for p in audio_dir.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    assert client.get("/api/v1/statements").json()["items"] == []
    assert client.get("/healthz").status_code == 200

    filler.unlink()
    statement_id = post_recording(client, MG11)
    wait_for_drafts(client, processes, [statement_id])
    check_nothing_lost(
        env,
        {statement_id: sha256_of(MG11)},
        report=reliability_report,
        fault="audio_disk_full",
        refused=1,
        refused_with=dropped if refused is None else refused.status_code,
    )
    # Refused as what it is, a full disk, not as a failure of the server's own.
    assert refused is not None, f"the connection was dropped: {dropped}"
    assert refused.status_code == 507, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_storage" and "space" in error["message"]
