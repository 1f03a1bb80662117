"""The service's background machinery for one API process, embedded or distributed.

Embedded (no broker configured): drafting threads and the outbox delivery thread run here.
Distributed (``VOICE_STATEMENT_BROKER_URL``): drafting jobs go to Celery workers; this process
still delivers the outbox and sends again the jobs whose worker died or whose broker message
was lost (the job table, not the broker, is the record of what is owed).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from workflow.drafting import fail_exhausted_jobs
from workflow.services import Services
from workflow.worker import EmbeddedWorker

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.statements = services.statements
        self.distributed = bool(services.settings.broker_url)
        self.worker = EmbeddedWorker(services, drafting=not self.distributed)
        self._recovery: threading.Thread | None = None
        self._sent: dict[str, float] = {}  # job id → when it was last sent (distributed mode)
        if self.distributed:
            from workflow import celery_app

            celery_app.configure(services.settings)

    def start(self) -> None:
        self.services.database.migrate()
        self.worker.start()
        if self.distributed:
            self._recovery = threading.Thread(
                target=self._recover_loop, name="recovery", daemon=True
            )
            self._recovery.start()

    def stop(self) -> None:
        self.worker.stop()
        if self._recovery is not None:
            self._recovery.join(10)
        self.services.close()

    def dispatch(self, job_id: str) -> None:
        """Tell a worker about a new job (after the transaction that queued it committed)."""
        if not self.distributed:
            self.worker.wake_drafting()
            return
        from workflow.celery_app import send_draft

        try:
            send_draft(job_id)
            self._sent[job_id] = time.monotonic()
        except Exception:  # the broker is down: the recovery loop sends it when it is back
            log.exception("could not send job %s to the broker", job_id)

    def wake_delivery(self) -> None:
        self.worker.wake_delivery()

    @property
    def model_state(self) -> str:
        if self.distributed:
            return "in_workers"
        return "loaded" if self.services.pipeline_loaded else "loading"

    def _recover_loop(self) -> None:
        settings = self.services.settings
        interval = max(settings.poll_interval_s, min(settings.job_lease_s / 3, 10.0))
        resend_after = settings.job_lease_s
        while not self.worker.stop_event.wait(interval):
            try:
                fail_exhausted_jobs(self.services)
                owed = self.statements.jobs.lapsed_or_lost(
                    queued_older_than=timedelta(seconds=settings.broker_visibility_timeout_s)
                )
            except Exception:
                log.exception("could not read the job table; trying again")
                continue
            now = time.monotonic()
            for job_id in owed:
                if now - self._sent.get(job_id, -resend_after) >= resend_after:
                    log.info(
                        "sending job %s again: its worker stopped or its message was lost", job_id
                    )
                    self.dispatch(job_id)
