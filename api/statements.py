"""The statement API: capture, draft, review, confirm, submit, export.

Views are thin: they translate HTTP to calls on ``workflow.statements.StatementService`` and its
errors to JSON errors. Handlers are plain ``def`` so that FastAPI runs them in its thread pool:
file and database work never blocks the event loop, and drafting runs in the workers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import ApiError
from api.ranges import audio_response
from api.schemas import (
    ConfirmBody,
    ProgressPublic,
    StatementCreated,
    StatementEdit,
    StatementPage,
    StatementPublic,
)
from models import Template
from models.tables import StatementRecord
from transcription.audio import AudioError, probe_duration
from workflow import events
from workflow.audio_store import AudioNotFound, UploadTooLarge
from workflow.delivery import delivery_status
from workflow.exports import render_pdf
from workflow.runtime import Runtime
from workflow.services import Services
from workflow.statements import (
    ConfirmRequest,
    Edit,
    LifecycleError,
    StatementNotFound,
    confirmation_json,
    decode_signature,
    export_json,
    version_json,
)

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])

# How often the event stream looks for new events, and sends a keep-alive comment.
SSE_POLL_S = 0.5
SSE_KEEPALIVE_S = 15.0


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def current_officer(request: Request) -> str:
    """Who is acting. Until authentication lands this is the ``X-Officer`` header, recorded as
    given; a request without it is recorded as made by an unidentified officer."""
    header = request.app.state.services.settings.officer_header
    name = " ".join((request.headers.get(header) or "").split())[:200]
    return name or "unidentified officer"


@contextmanager
def lifecycle_errors() -> Iterator[None]:
    try:
        yield
    except StatementNotFound as exc:
        raise ApiError(404, "not_found", f"no statement with id {exc.args[0]!r}") from exc
    except LifecycleError as exc:
        raise ApiError(422 if exc.invalid else 409, exc.code, exc.message) from exc


def _statement_json(runtime: Runtime, session: Session, record: StatementRecord) -> dict[str, Any]:
    service = runtime.statements
    return {
        "id": record.id,
        "status": record.status,
        "template": record.template,
        "statement_date": record.statement_date,
        "officer": record.officer,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "audio_sha256": record.audio_sha256,
        "audio_bytes": record.audio_bytes,
        "audio_duration_s": record.audio_duration_s,
        "current_version": record.current_version,
        "statement": service.current_content(record),
        "versions": [version_json(v) for v in record.versions],
        "confirmation": confirmation_json(record.confirmation),
        "submission": delivery_status(service.outbox(session, record.id)),
        "failure": None
        if record.failure_code is None
        else {"code": record.failure_code, "message": record.failure_message},
    }


def _read(runtime: Runtime, statement_id: str) -> dict[str, Any]:
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.get(session, statement_id)
        return _statement_json(runtime, session, record)


@router.post("", status_code=202, response_model=StatementCreated)
def create_statement(
    request: Request,
    services: ServicesDep,
    audio: Annotated[
        UploadFile, File(description="the recording: m4a, webm, ogg, mp3, wav, flac, 3gp")
    ],
    template: Annotated[Template, Form()] = Template.MG11,
    statement_date: Annotated[
        date | None, Form(description="the day the statement is taken (default today)")
    ] = None,
) -> dict[str, Any]:
    """Receive a recording: keep it byte for byte, return its SHA-256, draft it in the
    background. Watch ``events_url`` for progress."""
    runtime = get_runtime(request)
    officer = current_officer(request)
    store = services.audio_store
    try:
        stored = store.save(audio.file, max_bytes=services.settings.max_upload_bytes)
    except UploadTooLarge as exc:
        raise ApiError(
            413, "too_large", f"the recording is larger than the limit of {exc.limit} bytes"
        ) from exc
    try:
        duration = _check_audio(services, stored.key, audio.filename)
        record, job = runtime.statements.create(
            audio=stored,
            template=template,
            statement_date=statement_date or date.today(),
            officer=officer,
            filename=audio.filename,
            content_type=audio.content_type,
            duration_s=duration,
        )
    except BaseException:
        store.delete(stored.key)  # nothing half-written: no statement, no orphaned audio
        raise
    runtime.dispatch(job.id)
    return {
        "id": record.id,
        "status": record.status,
        "audio_sha256": stored.sha256,
        "audio_bytes": stored.size,
        "url": f"/api/v1/statements/{record.id}",
        "events_url": f"/api/v1/statements/{record.id}/events",
    }


def _check_audio(services: Services, key: str, filename: str | None) -> float | None:
    """Refuse at once what is not a usable recording, rather than after queueing it."""
    local_name = ""
    try:
        with services.audio_store.local_copy(key) as path:
            local_name = path.name
            duration = probe_duration(path)
    except AudioError as exc:
        # The message names the stored copy; the officer knows the file they sent.
        message = str(exc).replace(local_name, filename or "the upload") if local_name else str(exc)
        raise ApiError(422, exc.code, message) from exc
    limit = services.settings.max_duration_s
    if duration is not None and duration > limit:
        raise ApiError(
            422, "too_long", f"the recording lasts {duration:.0f} s; the limit is {limit:.0f} s"
        )
    return duration


@router.get("", response_model=StatementPage)
def list_statements(
    request: Request,
    status: str | None = None,
    template: Template | None = None,
    officer: str | None = None,
    statement_date: Annotated[date | None, Query(alias="date")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    runtime = get_runtime(request)
    with runtime.services.database.session() as session:
        records, total = runtime.statements.search(
            session,
            status=status,
            template=template.value if template else None,
            officer=officer,
            statement_date=statement_date,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        items = [
            {
                "id": r.id,
                "status": r.status,
                "template": r.template,
                "statement_date": r.statement_date,
                "officer": r.officer,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "audio_sha256": r.audio_sha256,
                "current_version": r.current_version,
            }
            for r in records
        ]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/{statement_id}", response_model=StatementPublic)
def get_statement(request: Request, statement_id: str) -> dict[str, Any]:
    return _read(get_runtime(request), statement_id)


@router.patch("/{statement_id}", response_model=StatementPublic)
def edit_statement(request: Request, statement_id: str, body: StatementEdit) -> dict[str, Any]:
    """Correct the draft: a new version recording who, when, and each old and new value."""
    runtime = get_runtime(request)
    with lifecycle_errors():
        runtime.statements.edit(
            statement_id,
            Edit(
                fields=body.fields,
                not_stated=tuple(body.not_stated),
                narrative=body.narrative,
                base_version=body.base_version,
            ),
            officer=current_officer(request),
        )
    return _read(runtime, statement_id)


@router.post("/{statement_id}/confirm", response_model=StatementPublic)
def confirm_statement(request: Request, statement_id: str, body: ConfirmBody) -> dict[str, Any]:
    """The witness accepts the statement and the MG11 declaration; its content is frozen."""
    runtime = get_runtime(request)
    with lifecycle_errors():
        signature = decode_signature(body.signature_png_base64)
        runtime.statements.confirm(
            statement_id,
            ConfirmRequest(
                witness_declaration_accepted=body.witness_declaration_accepted,
                signature_png=signature,
                place=body.place,
            ),
            officer=current_officer(request),
        )
    return _read(runtime, statement_id)


@router.post("/{statement_id}/submit", status_code=202, response_model=StatementPublic)
def submit_statement(request: Request, statement_id: str) -> dict[str, Any]:
    """Send the confirmed statement to the justice system (delivered in the background;
    ``submission`` shows its state and attempts)."""
    runtime = get_runtime(request)
    with lifecycle_errors():
        payload = _export(runtime, statement_id)
        runtime.statements.submit(statement_id, officer=current_officer(request), payload=payload)
    runtime.wake_delivery()
    return _read(runtime, statement_id)


def _export(runtime: Runtime, statement_id: str) -> dict[str, Any]:
    with runtime.services.database.session() as session:
        record = runtime.statements.get(session, statement_id)
        document = runtime.statements.export_document(session, record)
        deliveries = delivery_status(runtime.statements.outbox(session, record.id))
        return export_json(record, document, deliveries)


@router.get("/{statement_id}/export.json")
def export_statement_json(request: Request, statement_id: str) -> JSONResponse:
    with lifecycle_errors():
        body = _export(get_runtime(request), statement_id)
    return JSONResponse(
        body,
        headers={"Content-Disposition": f'attachment; filename="statement-{statement_id}.json"'},
    )


@router.get("/{statement_id}/export.pdf")
def export_statement_pdf(request: Request, statement_id: str) -> Response:
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.get(session, statement_id)
        document = runtime.statements.export_document(session, record)
    pdf = render_pdf(document)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="statement-{statement_id}.pdf"'},
    )


@router.get("/{statement_id}/audio")
def get_audio(
    request: Request,
    statement_id: str,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The original recording, byte for byte; supports Range so a player can seek."""
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.get(session, statement_id)
        key, sha256 = record.audio_key, record.audio_sha256
        media_type = record.audio_content_type or "application/octet-stream"
        filename = record.audio_filename
    try:
        return audio_response(
            runtime.services.audio_store,
            key,
            range_header=range_header,
            media_type=media_type,
            filename=filename,
            sha256=sha256,
        )
    except AudioNotFound as exc:
        raise ApiError(
            500, "audio_missing", "the recording is missing from the audio store"
        ) from exc


def _progress(runtime: Runtime, statement_id: str, after: int) -> dict[str, Any]:
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.get(session, statement_id)
        found = events.events_after(session, statement_id, after)
        done = record.status not in ("received", "transcribing")
        return {
            "status": record.status,
            "events": [events.event_json(e) for e in found],
            "done": done,
        }


@router.get("/{statement_id}/progress", response_model=ProgressPublic)
def get_progress(
    request: Request, statement_id: str, after: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """The same events as the stream, for a client that polls: those after event ``after``."""
    return _progress(get_runtime(request), statement_id, after)


@router.get(
    "/{statement_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    statement_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
) -> StreamingResponse:
    """Server-sent events: queued, decoding, transcribing (percent), extracting, draft_ready
    (or retrying, failed). The stream ends once drafting is over; a reconnecting client sends
    Last-Event-ID and misses nothing."""
    runtime = get_runtime(request)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    first = await run_in_threadpool(_progress, runtime, statement_id, start)  # 404 before 200

    async def stream() -> AsyncIterator[str]:
        batch, last = first, start
        idle = 0.0
        yield "retry: 2000\n\n"
        while True:
            for event in batch["events"]:
                last = event["id"]
                yield f"id: {last}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"
            if batch["done"] and not batch["events"]:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(SSE_POLL_S)
            idle += SSE_POLL_S
            if idle >= SSE_KEEPALIVE_S:
                idle = 0.0
                yield ": keep-alive\n\n"
            batch = await run_in_threadpool(_progress, runtime, statement_id, last)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
