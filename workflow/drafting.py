"""The drafting job: a received recording becomes the machine draft (version 1).

Run by whichever worker claimed the job: an embedded worker thread or a Celery worker process.
The draft, the job's completion, the ``draft_ready`` event and any safeguarding referral are
written in one transaction guarded by the job's lease, so the draft exists once whatever
crashes, and a referral goes out for every draft that needs one.
"""

from __future__ import annotations

import logging
from typing import Any

from models import SYSTEM, Template, Transcript
from models.tables import JobState, StatementRecord, StatementStatus, StatementVersion, utcnow
from security import audit
from security.audit import AuditAction
from transcription.errors import TranscriptionError
from workflow import delivery, events
from workflow.jobs import Claim, LeaseKeeper, LeaseLost
from workflow.pipeline import TranscribeRequest
from workflow.services import Services
from workflow.statements import StatementService
from workflow.voices import diarisation_options, officer_voice_for

log = logging.getLogger(__name__)

# Progress events are written at most this often (each is a database write).
PROGRESS_EVERY_PERCENT = 10


class PermanentJobError(Exception):
    """A failure no retry can fix (the recording is not usable audio)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_draft_job(services: Services, claim: Claim) -> JobState:
    """Draft the statement of a claimed job; returns the job's new state."""
    service = services.statements
    queue = service.jobs
    try:
        with LeaseKeeper(queue, claim) as keeper:
            _draft(services, service, claim)
            if keeper.lost.is_set():
                raise LeaseLost(claim.job_id)
        return JobState.DONE
    except LeaseLost:
        log.warning("job %s was taken over by another worker; this result is dropped", claim.job_id)
        raise
    except PermanentJobError as exc:
        return _record_failure(services, service, claim, exc.code, exc.message, permanent=True)
    except Exception as exc:
        log.exception("drafting %s failed (attempt %d)", claim.statement_id, claim.attempt)
        message = f"{type(exc).__name__}: {exc}"
        return _record_failure(services, service, claim, "internal_error", message, permanent=False)


def _draft(services: Services, service: StatementService, claim: Claim) -> None:
    database, pipeline = services.database, services.pipeline
    with database.session() as session:
        record = service.get(session, claim.statement_id)
        template, statement_date = Template(record.template), record.statement_date
        audio_key = record.audio_key
        speakers, owner_id = record.speakers, record.officer_id
        if record.status == StatementStatus.RECEIVED:
            record.status = StatementStatus.TRANSCRIBING
        events.emit(session, record.id, "decoding", attempt=claim.attempt)

    progress = _ProgressEvents(services, claim.statement_id)
    try:
        with services.audio_store.local_copy(audio_key) as path, services.pipeline_lock:
            transcript = pipeline.transcribe(
                path,
                _transcribe_request(services, speakers, owner_id),
                on_decoded=progress.on_decoded,
                on_speech=progress.on_speech,
            )
    except TranscriptionError as exc:
        code = getattr(exc, "code", "transcription_failed")
        if code in {"not_audio", "empty_file", "truncated", "too_long", "too_short", "not_found"}:
            # The message names the stored key; the officer knows the recording, not the key.
            raise PermanentJobError(code, str(exc).replace(audio_key, "the recording")) from exc
        raise

    with database.session() as session:
        events.emit(session, claim.statement_id, "extracting")
    statement = pipeline.draft(transcript, template=template, statement_date=statement_date)
    content = statement.to_dict()
    content.pop("transcript", None)  # kept once, on the statement record

    with database.session() as session:
        queue = service.jobs
        queue.complete(session, claim)  # raises LeaseLost → rollback: written once
        record = service.get(session, claim.statement_id, for_update=True)
        record.transcript = transcript.to_dict()
        record.audio_duration_s = transcript.duration_s
        record.status = StatementStatus.DRAFT
        record.current_version = 1
        session.add(
            StatementVersion(
                statement_id=record.id,
                number=1,
                kind="machine",
                author=_machine_author(transcript),
                content=content,
                changes=[],
            )
        )
        safeguarding = [f for f in content["flags"] if f["kind"] == "safeguarding"]
        events.emit(
            session,
            record.id,
            "draft_ready",
            version=1,
            fields=len(content["fields"]),
            flags=len(content["flags"]),
            safeguarding=len(safeguarding),
        )
        audit.record(
            session,
            SYSTEM,
            AuditAction.COLLECTION,
            "statement.draft",
            statement_id=record.id,
            detail={
                "version": 1,
                "model": _machine_author(transcript),
                "fields": len(content["fields"]),
                "flags": len(content["flags"]),
            },
        )
        if safeguarding:
            message = delivery.enqueue(
                session,
                statement_id=record.id,
                kind="referral",
                payload=referral_payload(record, content, safeguarding),
                destination=services.settings.referral_url,
                max_attempts=services.settings.delivery_max_attempts,
                idempotency_key=f"referral-{record.id}",
            )
            events.emit(session, record.id, "referral_queued", state=message.state)
            audit.record(
                session,
                SYSTEM,
                AuditAction.DISCLOSURE,
                "referral.queue",
                statement_id=record.id,
                detail={
                    "recipient": delivery.describe_destination(message.destination),
                    "state": message.state,
                    "safeguarding_flags": len(safeguarding),  # their reasons are content
                },
            )


def _transcribe_request(
    services: Services, speakers: str | None, owner_id: str | None
) -> TranscribeRequest:
    """One voice (a dictation) unless the recording was sent as several; then the voices are
    told apart, and the owning officer's enrolled voice, if any, says which is theirs."""
    diarisation = diarisation_options(speakers)
    if diarisation is None:
        return TranscribeRequest()
    encoder_sha256 = services.pipeline.speaker_encoder.sha256
    officer_voice = officer_voice_for(services.database, owner_id, encoder_sha256=encoder_sha256)
    return TranscribeRequest(diarisation=diarisation, officer_voice=officer_voice)


def _machine_author(transcript: Transcript) -> str:
    model = transcript.model
    return f"machine: {model.engine} {model.name}" if model else "machine"


def referral_payload(
    record: StatementRecord, content: dict[str, Any], flags: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a safeguarding team needs at once, before the statement is confirmed."""
    fields = content["fields"]
    return {
        "type": "safeguarding_referral",
        "statement_id": record.id,
        "template": record.template,
        "officer": record.officer,
        "drafted_at": utcnow().isoformat(),
        "status": "machine draft, not yet confirmed by the officer",
        "flags": flags,
        "fields": {name: fields[name]["value"] for name in fields},
        "narrative": content["narrative"],
    }


def _record_failure(
    services: Services,
    service: StatementService,
    claim: Claim,
    code: str,
    message: str,
    *,
    permanent: bool,
) -> JobState:
    with services.database.session() as session:
        state = service.jobs.fail(session, claim, f"{code}: {message}", permanent=permanent)
        record = service.get(session, claim.statement_id)
        if state == JobState.FAILED:
            mark_failed(record, code, message)
            events.emit(session, record.id, "failed", code=code, message=message)
        else:
            events.emit(
                session,
                record.id,
                "retrying",
                attempt=claim.attempt,
                max_attempts=claim.max_attempts,
                reason=message,
            )
    return state


def mark_failed(record: StatementRecord, code: str, message: str) -> None:
    record.status = StatementStatus.FAILED
    record.failure_code = code
    record.failure_message = message
    record.updated_at = utcnow()


def fail_exhausted_jobs(services: Services) -> int:
    """Fail the jobs whose worker died on their last attempt; returns how many."""
    service = services.statements
    now = utcnow()
    failed = 0
    for job in service.jobs.exhausted(now=now):
        with services.database.session() as session:
            reason = (
                f"the worker stopped (crashed or was killed) during each of {job.attempts} "
                "attempts to draft this recording"
            )
            if service.jobs.give_up(session, job, reason, now=now):
                record = service.get(session, job.statement_id)
                mark_failed(record, "worker_died", reason)
                events.emit(session, record.id, "failed", code="worker_died", message=reason)
                failed += 1
    return failed


class _ProgressEvents:
    """Turns the engine's progress callbacks into a few ``transcribing`` events."""

    def __init__(self, services: Services, statement_id: str) -> None:
        self.services = services
        self.statement_id = statement_id
        self.speech_s = 0.0
        self.last_percent = -PROGRESS_EVERY_PERCENT

    def on_decoded(self, duration_s: float) -> Any:
        self._emit("transcribing", percent=0, duration_s=round(duration_s, 2))
        return self.on_progress

    def on_speech(self, speech_s: float) -> None:
        self.speech_s = speech_s

    def on_progress(self, done_s: float) -> None:
        if self.speech_s <= 0:
            return
        percent = min(100, int(100 * done_s / self.speech_s))
        if percent - self.last_percent >= PROGRESS_EVERY_PERCENT:
            self.last_percent = percent
            self._emit("transcribing", percent=percent)

    def _emit(self, kind: str, **data: Any) -> None:
        try:
            with self.services.database.session() as session:
                events.emit(session, self.statement_id, kind, **data)
        except Exception:  # progress is a courtesy: never fail a draft for it
            log.warning("could not record progress for %s", self.statement_id, exc_info=True)
