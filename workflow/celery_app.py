"""Distributed mode: Celery workers with a Redis broker, sharing PostgreSQL and the audio store.

Each worker process loads its own model once (``worker_process_init``) and takes one recording
at a time (prefetch 1). A message is acknowledged only after its task returns (``acks_late``)
and is delivered again if its worker process dies; the job table's lease makes sure that a
second delivery never drafts a statement twice (see ``workflow.jobs``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

from models.tables import JobState
from workflow.drafting import fail_exhausted_jobs, run_draft_job
from workflow.jobs import LeaseLost
from workflow.services import Services
from workflow.settings import Settings

log = logging.getLogger(__name__)

DRAFT_TASK = "voice_statement.draft"

app = Celery("voice_statement")
_services: Services | None = None
_concurrency = 1  # worker processes on this machine (``worker --concurrency``)


def threads_per_process(threads: int, concurrency: int) -> int:
    """The inference threads of one worker process: ``threads`` when configured, else the
    machine's cores shared between the ``concurrency`` processes. One thread per core in every
    process (the engines' default) would put concurrency x cores threads on the cores."""
    if threads > 0:
        return threads
    return max(1, (os.cpu_count() or 1) // max(1, concurrency))


def configure(settings: Settings, *, concurrency: int = 1) -> Celery:
    """Point the Celery app at the configured broker (the API and the workers both call it).
    concurrency: the worker processes this machine runs, which share its cores."""
    global _concurrency
    _concurrency = concurrency
    if not settings.broker_url:
        raise ValueError("distributed mode needs VOICE_STATEMENT_BROKER_URL (redis://...)")
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
        worker_hijack_root_logger=False,
    )
    return app


def process_services() -> Services:
    """This worker process's services, with its one model (built on first use)."""
    global _services
    if _services is None:
        settings = Settings()
        threads = threads_per_process(settings.threads, _concurrency)
        _services = Services(settings.model_copy(update={"threads": threads}))
    return _services


@worker_process_init.connect
def _load_model(**_: Any) -> None:
    try:
        process_services().warm_up()
    except Exception:
        log.exception("the models failed to load; drafting jobs will fail with the reason")


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    if _services is not None:
        _services.close()


@app.task(name=DRAFT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def draft_statement(self: Task, job_id: str) -> str:
    """Draft the statement of ``job_id``, unless it is done or another worker holds it."""
    services = process_services()
    settings = services.settings
    queue = services.statements.jobs
    fail_exhausted_jobs(services)
    claim = queue.claim(job_id)
    if claim is None:
        job = queue.get(job_id)
        if job is None or job.state in (JobState.DONE, JobState.FAILED):
            return job.state if job is not None else "unknown"
        # Held by a live worker, or waiting out a retry backoff: look again when that ends.
        raise self.retry(countdown=settings.job_lease_s / 2)
    try:
        state = run_draft_job(services, claim)
    except LeaseLost:
        return "lease_lost"
    if state == JobState.QUEUED:
        raise self.retry(countdown=settings.job_lease_s / 2)
    return state.value


def send_draft(job_id: str) -> None:
    app.send_task(DRAFT_TASK, args=[job_id])
