"""The service's background machinery for one API process, embedded or distributed.

Embedded (no broker configured): drafting threads and the outbox delivery thread run here.
Distributed (``VOICE_STATEMENT_BROKER_URL``): drafting jobs go to Celery workers; this process
still delivers the outbox and sends again the jobs whose worker died or whose broker message
was lost (the job table, not the broker, is the record of what is owed).

In both, this process applies the retention policy (``workflow.retention``) on a schedule:
first ``RETENTION_FIRST_RUN_S`` after start, then every ``retention_interval_s``. Several API
processes may each do so; erasure is guarded so that a statement is erased once.

Before anything starts, an embedded-mode process checks the model weights against their pins
(``workflow.pipeline.verify_weights``): weights that are not the pinned ones stop the service
with the reason, rather than fail every recording later.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from nlp.errors import ExtractionError
from transcription.errors import ModelError
from workflow.drafting import fail_exhausted_jobs
from workflow.pipeline import INTEGRITY_CODES, verify_weights
from workflow.retention import apply_retention
from workflow.services import Services
from workflow.worker import EmbeddedWorker

log = logging.getLogger(__name__)

RETENTION_FIRST_RUN_S = 60.0
"""The first retention sweep runs this long after start (or after ``retention_interval_s``
when that is shorter): soon, but not in the middle of start-up and migrations."""


class Runtime:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.statements = services.statements
        self.distributed = bool(services.settings.broker_url)
        self.worker = EmbeddedWorker(services, drafting=not self.distributed)
        self._recovery: threading.Thread | None = None
        self._retention: threading.Thread | None = None
        self._sent: dict[str, float] = {}  # job id → when it was last sent (distributed mode)
        if self.distributed:
            from workflow import celery_app

            celery_app.configure(services.settings)

    def start(self) -> None:
        if not self.distributed:
            self._check_weights()
        self.services.database.migrate()
        self.worker.start()
        if self.distributed:
            self._recovery = threading.Thread(
                target=self._recover_loop, name="recovery", daemon=True
            )
            self._recovery.start()
        if self.services.settings.retention_interval_s > 0:
            self._retention = threading.Thread(
                target=self._retention_loop, name="retention", daemon=True
            )
            self._retention.start()
        else:
            log.warning("retention is off (retention_interval_s <= 0): nothing is erased")

    def stop(self) -> None:
        self.worker.stop()  # sets the stop event the recovery and retention loops wait on
        if self._recovery is not None:
            self._recovery.join(10)
        if self._retention is not None:
            self._retention.join(30)
        self.services.close()

    def _check_weights(self) -> None:
        """Refuse to start on weights that are not the pinned ones. A model that is missing
        altogether is left to the workers, which fail each job with the reason (as before)."""
        try:
            verify_weights(self.services.settings)
        except (ModelError, ExtractionError) as exc:
            if exc.code in INTEGRITY_CODES:
                log.error("refusing to start: %s", exc.message)
                raise
            log.warning("the models cannot be checked before start: %s", exc.message)

    def apply_retention_now(self) -> None:
        """One retention sweep, logged; never raises (the loop must outlive any error)."""
        services = self.services
        try:
            report = apply_retention(services.database, services.audio_store, services.settings)
        except Exception:
            log.exception("the retention sweep failed; it runs again at the next interval")
            return
        if report.erased or report.audio_retried or report.audio_pending or report.failures:
            log.info(
                "retention (submitted %d days, unconfirmed %d days): %s",
                report.policy.submitted_days,
                report.policy.unconfirmed_days,
                ", ".join(f"{name} {n}" for name, n in report.counts.items()),
            )
        else:
            log.debug("retention: nothing due")

    def _retention_loop(self) -> None:
        interval = self.services.settings.retention_interval_s
        delay = min(RETENTION_FIRST_RUN_S, interval)
        while not self.worker.stop_event.wait(delay):
            delay = interval
            self.apply_retention_now()

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
