"""The job table: one claimant per job, leases that lapse, bounded retries, results written once."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from models.tables import Job, JobState, StatementRecord, StatementVersion, utcnow
from workflow.database import Database
from workflow.jobs import JobQueue, LeaseLost


def add_job(database: Database, queue: JobQueue, statement_id: str = "st-1") -> str:
    with database.session() as session:
        session.add(
            StatementRecord(
                id=statement_id,
                status="received",
                template="mg11",
                statement_date=date(2026, 11, 20),
                officer="PC 1",
                audio_key="k",
                audio_sha256="0" * 64,
                audio_bytes=1,
            )
        )
        session.flush()
        return queue.enqueue(session, statement_id=statement_id, kind="draft").id


def test_only_one_of_many_racing_workers_claims_a_job(database: Database) -> None:
    queue = JobQueue(database, lease_s=60, max_attempts=3)
    job_id = add_job(database, queue)
    claims = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        claims.append(queue.claim(job_id))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].attempt == 1
    assert queue.claim() is None  # held under a live lease


def test_a_lapsed_lease_is_claimed_again_and_the_first_worker_cannot_finish(
    database: Database,
) -> None:
    queue = JobQueue(database, lease_s=5, max_attempts=3)
    job_id = add_job(database, queue)
    first = queue.claim(job_id)
    assert first is not None
    later = utcnow() + timedelta(seconds=6)
    second = queue.claim(now=later)
    assert second is not None and second.job_id == job_id and second.attempt == 2

    # The presumed-dead first worker comes back: its result must not be written.
    with pytest.raises(LeaseLost), database.session() as session:
        session.add(
            StatementVersion(
                statement_id="st-1", number=1, kind="machine", author="m", content={}, changes=[]
            )
        )
        queue.complete(session, first)
    with database.session() as session:
        queue.complete(session, second)
    with database.session() as session:
        assert session.query(StatementVersion).count() == 0  # the first result rolled back
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.DONE and job.attempts == 2
    assert not queue.renew(first)


def test_a_failing_job_is_retried_after_a_backoff_then_fails_for_good(database: Database) -> None:
    queue = JobQueue(database, lease_s=60, max_attempts=2)
    job_id = add_job(database, queue)
    claim = queue.claim(job_id)
    assert claim is not None
    with database.session() as session:
        assert queue.fail(session, claim, "boom", permanent=False) == JobState.QUEUED
    assert queue.claim(job_id) is None  # waiting out its backoff
    claim = queue.claim(job_id, now=utcnow() + timedelta(seconds=60))
    assert claim is not None and claim.is_last_attempt
    with database.session() as session:
        assert queue.fail(session, claim, "boom again", permanent=False) == JobState.FAILED
    job = queue.get(job_id)
    assert job is not None and job.state == JobState.FAILED and job.last_error == "boom again"
    assert queue.claim(job_id, now=utcnow() + timedelta(hours=1)) is None


def test_a_permanent_failure_is_not_retried(database: Database) -> None:
    queue = JobQueue(database, lease_s=60, max_attempts=5)
    job_id = add_job(database, queue)
    claim = queue.claim(job_id)
    assert claim is not None
    with database.session() as session:
        assert queue.fail(session, claim, "not audio", permanent=True) == JobState.FAILED


def test_a_job_whose_worker_died_on_its_last_attempt_is_found_and_given_up(
    database: Database,
) -> None:
    queue = JobQueue(database, lease_s=5, max_attempts=1)
    job_id = add_job(database, queue)
    assert queue.claim(job_id) is not None
    later = utcnow() + timedelta(seconds=10)
    assert queue.claim(now=later) is None  # no attempts left
    [job] = queue.exhausted(now=later)
    with database.session() as session:
        assert queue.give_up(session, job, "worker died", now=later)
    again = queue.get(job_id)
    assert again is not None and again.state == JobState.FAILED
    assert queue.lapsed_or_lost(queued_older_than=timedelta(0), now=later) == []
