"""A durable job table, claimed under leases, so that each job finishes exactly once.

A worker *claims* a job by a guarded UPDATE that succeeds for one claimant only, and holds it
under a lease (a token and an expiry) that it renews while it works. If the worker dies (a crash,
SIGKILL, a lost machine) the lease lapses and another worker claims the job again. The result
of a job is written in the same transaction that marks it done, and that UPDATE is guarded by
the lease token: a worker that lost its lease cannot write a second result.

A job is tried at most ``max_attempts`` times; a death mid-job counts as a try, so a recording
that kills its worker every time still ends ``failed`` with the reason, rather than looping.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models.tables import Job, JobState, utcnow
from workflow.database import Database

# Backoff before a job that raised is tried again: RETRY_BACKOFF_S * 2**(attempt-1).
RETRY_BACKOFF_S = 2.0


@dataclass(frozen=True)
class Claim:
    """A job held by this worker until ``expires_at`` (renewed by :meth:`JobQueue.renew`)."""

    job_id: str
    statement_id: str
    kind: str
    token: str
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead): its work is discarded."""


class JobQueue:
    def __init__(self, database: Database, *, lease_s: float, max_attempts: int) -> None:
        """
        lease_s: how long a claim lasts without renewal; a worker silent for longer is presumed
            dead and its job is claimed again.
        max_attempts: how many times a job is tried (a worker's death counts) before it fails.
        """
        self.database = database
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts

    def enqueue(self, session: Session, *, statement_id: str, kind: str) -> Job:
        """Add a job in the caller's transaction; it exists only if that commits."""
        job = Job(
            id=uuid.uuid4().hex,
            statement_id=statement_id,
            kind=kind,
            state=JobState.QUEUED,
            attempts=0,
            max_attempts=self.max_attempts,
            not_before=utcnow(),
        )
        session.add(job)
        return job

    @staticmethod
    def _claimable(now: datetime) -> ColumnElement[bool]:
        return and_(
            Job.attempts < Job.max_attempts,
            or_(
                and_(Job.state == JobState.QUEUED, Job.not_before <= now),
                and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now),
            ),
        )

    def claim(self, job_id: str | None = None, *, now: datetime | None = None) -> Claim | None:
        """Claim ``job_id``, or the oldest claimable job; None when there is nothing to claim
        (or another worker won the race)."""
        now = now or utcnow()
        with self.database.session() as session:
            if job_id is None:
                candidates = list(
                    session.scalars(
                        select(Job.id).where(self._claimable(now)).order_by(Job.created_at).limit(5)
                    )
                )
            else:
                candidates = [job_id]
            for candidate in candidates:
                token = uuid.uuid4().hex
                result = session.execute(
                    update(Job)
                    .where(Job.id == candidate, self._claimable(now))
                    .values(
                        state=JobState.RUNNING,
                        lease_token=token,
                        lease_expires_at=now + self.lease,
                        attempts=Job.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    job = session.get(Job, candidate, populate_existing=True)
                    assert job is not None
                    return Claim(
                        job_id=job.id,
                        statement_id=job.statement_id,
                        kind=job.kind,
                        token=token,
                        attempt=job.attempts,
                        max_attempts=job.max_attempts,
                    )
        return None

    def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when it was lost."""
        with self.database.session() as session:
            result = session.execute(
                update(Job)
                .where(
                    Job.id == claim.job_id,
                    Job.lease_token == claim.token,
                    Job.state == JobState.RUNNING,
                )
                .values(lease_expires_at=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def complete(self, session: Session, claim: Claim) -> None:
        """Mark the job done in the caller's transaction (the one writing its result).

        Raises :class:`LeaseLost` if another worker has taken it over: the caller's transaction
        must then roll back, so the result is written once.
        """
        self._finish(session, claim, state=JobState.DONE, error=None)

    def fail(self, session: Session, claim: Claim, error: str, *, permanent: bool) -> JobState:
        """Record a failed try in the caller's transaction: queued again after a backoff, or
        failed for good (permanent, or the last attempt). Returns the new state."""
        if permanent or claim.is_last_attempt:
            self._finish(session, claim, state=JobState.FAILED, error=error)
            return JobState.FAILED
        result = session.execute(
            update(Job)
            .where(Job.id == claim.job_id, Job.lease_token == claim.token)
            .values(
                state=JobState.QUEUED,
                lease_token=None,
                lease_expires_at=None,
                last_error=error,
                not_before=utcnow() + timedelta(seconds=RETRY_BACKOFF_S * 2 ** (claim.attempt - 1)),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(claim.job_id)
        return JobState.QUEUED

    def _finish(
        self, session: Session, claim: Claim, *, state: JobState, error: str | None
    ) -> None:
        result = session.execute(
            update(Job)
            .where(
                Job.id == claim.job_id,
                Job.lease_token == claim.token,
                Job.state == JobState.RUNNING,
            )
            .values(state=state, lease_token=None, last_error=error, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(claim.job_id)

    def exhausted(self, *, now: datetime | None = None) -> list[Job]:
        """Jobs whose worker died on their last allowed attempt: nobody will claim them."""
        now = now or utcnow()
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(Job).where(
                        Job.state == JobState.RUNNING,
                        Job.lease_expires_at < now,
                        Job.attempts >= Job.max_attempts,
                    )
                )
            )

    def give_up(self, session: Session, job: Job, error: str, *, now: datetime) -> bool:
        """Fail a job found by :meth:`exhausted`, unless someone renewed it meanwhile."""
        result = session.execute(
            update(Job)
            .where(
                Job.id == job.id,
                Job.state == JobState.RUNNING,
                Job.lease_expires_at < now,
                Job.attempts >= Job.max_attempts,
            )
            .values(state=JobState.FAILED, lease_token=None, last_error=error, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def lapsed_or_lost(
        self, *, queued_older_than: timedelta, now: datetime | None = None
    ) -> list[str]:
        """Jobs a distributed deployment must send to the workers again: running ones whose
        worker died, and queued ones whose broker message may be lost (Redis restarted)."""
        now = now or utcnow()
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(Job.id).where(
                        Job.attempts < Job.max_attempts,
                        or_(
                            and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now),
                            and_(
                                Job.state == JobState.QUEUED,
                                Job.not_before < now - queued_older_than,
                            ),
                        ),
                    )
                )
            )

    def get(self, job_id: str) -> Job | None:
        with self.database.session() as session:
            return session.get(Job, job_id)


class LeaseKeeper:
    """Renews a claim in the background while the job runs (every third of the lease)."""

    def __init__(self, queue: JobQueue, claim: Claim) -> None:
        self.queue = queue
        self.claim = claim
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.job_id}", daemon=True)

    def _run(self) -> None:
        interval = self.queue.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                if not self.queue.renew(self.claim):
                    self.lost.set()
                    return
            except Exception:  # the database blinked: try again next round
                continue

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
