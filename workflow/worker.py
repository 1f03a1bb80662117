"""The embedded worker: threads in the service's own process, reading the durable job table.

Nothing to install or run beside ``voice-statement serve``. Jobs survive a restart because they
live in the database: a job whose worker died is claimed again once its lease lapses (see
``workflow.jobs``). The same process delivers the outbox.
"""

from __future__ import annotations

import logging
import threading

from workflow.delivery import OutboxDelivery
from workflow.drafting import fail_exhausted_jobs, run_draft_job
from workflow.jobs import LeaseLost
from workflow.services import Services

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """``workers`` drafting threads and one delivery thread, started and stopped together."""

    def __init__(self, services: Services, *, drafting: bool = True) -> None:
        """drafting: False in distributed mode, where Celery workers draft and this process
        only delivers the outbox."""
        self.services = services
        settings = services.settings
        self.queue = services.statements.jobs
        self.delivery = OutboxDelivery(
            services.database,
            timeout_s=settings.delivery_timeout_s,
            backoff_s=settings.delivery_backoff_s,
        )
        self.drafting = drafting
        self.stop_event = threading.Event()
        self.job_wake = threading.Event()
        self.delivery_wake = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.drafting:
            for n in range(max(1, self.services.settings.workers)):
                self.threads.append(
                    threading.Thread(target=self._draft_loop, name=f"drafting-{n}", daemon=True)
                )
        self.threads.append(
            threading.Thread(
                target=self.delivery.run,
                args=(self.stop_event,),
                kwargs={
                    "interval_s": self.services.settings.poll_interval_s,
                    "wake": self.delivery_wake,
                },
                name="delivery",
                daemon=True,
            )
        )
        for thread in self.threads:
            thread.start()

    def wake_drafting(self) -> None:
        self.job_wake.set()

    def wake_delivery(self) -> None:
        self.delivery_wake.set()

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stop taking work; a job in progress finishes (or its lease lapses for the next start)."""
        self.stop_event.set()
        self.job_wake.set()
        self.delivery_wake.set()
        for thread in self.threads:
            thread.join(timeout_s)

    def _draft_loop(self) -> None:
        interval = self.services.settings.poll_interval_s
        try:
            self.services.warm_up()
        except Exception:
            log.exception("the models failed to load; drafting jobs will fail with the reason")
        while not self.stop_event.is_set():
            try:
                fail_exhausted_jobs(self.services)
                claim = self.queue.claim()
            except Exception:
                log.exception("could not read the job table; trying again")
                claim = None
            if claim is None:
                self.job_wake.wait(interval)
                self.job_wake.clear()
                continue
            try:
                run_draft_job(self.services, claim)
            except LeaseLost:
                pass
            except Exception:
                log.exception("job %s: its failure could not be recorded", claim.job_id)
            self.delivery_wake.set()  # a draft may have queued a referral
