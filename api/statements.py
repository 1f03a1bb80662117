"""The statement API: capture, draft, review, confirm, submit, export.

Views are thin: they translate HTTP to calls on ``workflow.statements.StatementService`` and its
errors to JSON errors. Every route needs an authenticated caller whose roles allow the operation
(a route dependency: 403 otherwise); the service decides which statements that caller reaches
(``workflow.access``: 404 otherwise) and writes the audit entries. Handlers
are plain ``def`` so that FastAPI runs them in its thread pool: file and database work never
blocks the event loop, and drafting runs in the workers.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AuthError, require_roles
from api.deps import ServicesDep
from api.errors import ApiError, error_body
from api.ranges import audio_response
from api.schemas import (
    ConfirmBody,
    IntegrityPublic,
    ProgressPublic,
    ReassignBody,
    StatementCreated,
    StatementEdit,
    StatementPage,
    StatementPublic,
    SubmitBody,
    error_responses,
)
from models import Principal, Template
from models.tables import StatementRecord, StatementStatus
from transcription.audio import AudioError, probe_duration
from transcription.diarisation import MAX_SPEAKERS
from workflow import access, events
from workflow.access import AccessDenied, Permission
from workflow.audio_store import AudioNotFound, AudioStoreFull, StoredAudio, UploadTooLarge
from workflow.delivery import delivery_status
from workflow.exports import render_pdf
from workflow.integrity import check_integrity
from workflow.runtime import Runtime
from workflow.services import Services
from workflow.statements import (
    ConfirmRequest,
    Edit,
    JustificationRequired,
    LifecycleError,
    StatementNotFound,
    confirmation_json,
    decode_signature,
    export_json,
    version_json,
)
from workflow.voices import SPEAKERS_PATTERN, VoiceError, parse_speakers

# Every answer a statement route may give besides its success, in the service's error envelope
# (declared so that clients, and the schema probe in tests/reliability, can rely on them).
router = APIRouter(
    prefix="/api/v1/statements",
    tags=["statements"],
    responses=error_responses(400, 401, 403, 404, 409, 429),
)

# How often the event stream looks for new events, and sends a keep-alive comment.
SSE_POLL_S = 0.5
SSE_KEEPALIVE_S = 15.0


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _may(permission: Permission) -> Any:
    """The route dependency for ``permission``: 403 unless one of the caller's roles allows it
    on some statement. Which statement the caller reaches is then the service's question."""
    return Depends(require_roles(*access.roles_allowing(permission)))


Creator = Annotated[Principal, _may(Permission.CREATE)]
Reader = Annotated[Principal, _may(Permission.READ)]
Listener = Annotated[Principal, _may(Permission.PLAY_AUDIO)]
Exporter = Annotated[Principal, _may(Permission.EXPORT)]
Editor = Annotated[Principal, _may(Permission.EDIT)]
Confirmer = Annotated[Principal, _may(Permission.CONFIRM)]
Submitter = Annotated[Principal, _may(Permission.SUBMIT)]
Reassigner = Annotated[Principal, _may(Permission.REASSIGN)]

Justification = Annotated[
    str | None,
    Header(
        alias="X-Justification",
        description="why you are consulting a statement that is not your own (DPA 2018 s.62); "
        "required unless you are its officer",
    ),
]


@contextmanager
def lifecycle_errors() -> Iterator[None]:
    try:
        yield
    except AccessDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except StatementNotFound as exc:
        raise ApiError(404, "not_found", f"no statement with id {exc.args[0]!r}") from exc
    except JustificationRequired as exc:
        raise ApiError(400, "justification_required", str(exc)) from exc
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


def _read(
    runtime: Runtime,
    statement_id: str,
    user: Principal,
    *,
    justification: str | None,
    operation: str = "statement.view",
) -> dict[str, Any]:
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.consult(
            session,
            statement_id,
            user,
            Permission.READ,
            operation,
            justification=justification,
        )
        return _statement_json(runtime, session, record)


def check_upload_rate(request: Request, user: Principal) -> None:
    """429 when ``user`` has sent more recordings in the last minute than the settings allow
    (``upload_rate_per_minute``; a resumable upload counts when it is declared)."""
    wait = request.app.state.upload_limiter.hit(user.user_id)
    if wait is not None:
        # AuthError, not ApiError: it carries the Retry-After header to the response.
        raise AuthError(
            429,
            "too_many_uploads",
            "too many recordings sent in the last minute; try again shortly",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


FILENAME_MAX_CHARS = 255
"""The longest original filename kept (the ``audio_filename`` and upload columns' size)."""
CONTENT_TYPE_MAX_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def recording_filename(name: str | None) -> str | None:
    """The name the officer's device gave the recording, as kept with it: metadata only. The
    recording is evidence, so an odd name never refuses it; the store files it under a key of
    its own and never makes a path of this. Control characters (NUL among them, which
    PostgreSQL cannot store) become U+FFFD, and a name longer than the column is cut to its
    first characters plus its extension. None when nothing is left."""
    if name is None:
        return None
    name = _CONTROL.sub("\ufffd", unicodedata.normalize("NFC", name)).strip()
    if len(name) > FILENAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        keep = f".{extension}" if dot and 0 < len(extension) <= 10 else ""
        name = (stem if keep else name)[: FILENAME_MAX_CHARS - len(keep) - 1] + "\u2026" + keep
    return name or None


def recording_content_type(content_type: str | None) -> str | None:
    """The content type the client declared, as kept with the recording (metadata: what the
    recording is, FFmpeg decides, and ``api.ranges`` serves back only audio or video types)."""
    if content_type is None:
        return None
    content_type = _CONTROL.sub("", content_type).strip()[:CONTENT_TYPE_MAX_CHARS]
    return content_type or None


RECORDING_ROUTES = frozenset({("POST", "/api/v1/statements"), ("PUT", "/api/v1/me/voice")})
"""The routes taking a whole recording in one multipart request (method, path): a statement's,
and an officer's voice sample (which its route limits further)."""
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""What a multipart request may carry beyond the recording itself: boundaries, part headers
(a long filename) and the small form fields."""


class RecordingBodyLimit:
    """Refuses a recording over ``max_upload_bytes`` while it streams in, not after it.

    FastAPI parses a multipart form completely (into a temporary file) before the route runs,
    so the limit the audio store applies would come only once the whole upload had arrived. This
    ASGI middleware stands in front of ``RECORDING_ROUTES``: a declared ``Content-Length`` over
    the limit is answered 413 before one byte of the body is read; a chunked body is counted as
    it arrives and answered 413 as soon as it passes the limit, with ``Connection: close`` so
    the client stops sending. The route then sees the client as gone (its form parser closes its
    temporary file) and whatever it would answer is dropped. (A body that is not multipart is the
    route's to refuse, with 415, once the caller is known: :func:`require_multipart`.)
    """

    def __init__(self, app: ASGIApp, *, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope.get("method"), scope.get("path")) not in (
            RECORDING_ROUTES
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.limit()
        allowed = limit + MULTIPART_OVERHEAD_BYTES
        too_large = f"the recording is larger than the limit of {limit} bytes"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > allowed:
            await _answer(send, 413, "too_large", too_large)
            return
        received = 0
        answered = False

        async def counted_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    answered = True
                    await _answer(send, 413, "too_large", too_large)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:  # once refused, the route's own answer (to a lost client) is dropped
                await send(message)

        await self.app(scope, counted_receive, guarded_send)


def require_multipart(request: Request) -> None:
    """415 for a recording that is not sent as a multipart form. A dependency declared after
    the caller's, so that an anonymous caller is told 401 first, whatever it sent."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the recording as multipart/form-data, in the field 'audio' (not "
            f"{content_type.split(';')[0].strip() or 'a body without a content type'})",
        )


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # the client may still be sending: it must stop, and this connection is done
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def save_recording(services: Services, source: BinaryIO) -> StoredAudio:
    """Keep everything ``source`` yields in the audio store (encrypted, hashed as it streams);
    413 past ``max_upload_bytes``, with nothing kept."""
    try:
        return services.audio_store.save(source, max_bytes=services.settings.max_upload_bytes)
    except UploadTooLarge as exc:
        raise ApiError(
            413, "too_large", f"the recording is larger than the limit of {exc.limit} bytes"
        ) from exc
    except AudioStoreFull as exc:
        # The officer's phone keeps the recording and tries again later: say it is our disk,
        # not their recording, that is the problem.
        raise ApiError(
            507,
            "insufficient_storage",
            "the service has no space left to keep the recording; nothing was stored: "
            "keep it on the device and send it again later",
        ) from exc


def register_recording(
    runtime: Runtime,
    user: Principal,
    stored: StoredAudio,
    *,
    template: Template,
    statement_date: date,
    filename: str | None,
    content_type: str | None,
    speakers: str | None = None,
) -> dict[str, Any]:
    """Make a statement of a recording already in the store, owned by ``user``, and queue its
    drafting: the one way every upload (single request or resumable) becomes a statement.
    ``speakers``: how many voices it holds (already checked; None for one).
    Refuses what is not a usable recording (422); on any failure the recording is deleted from
    the store (no statement, no orphaned audio). Returns the ``StatementCreated`` body."""
    store = runtime.services.audio_store
    try:
        duration = _check_audio(runtime.services, stored.key, filename)
        record, job = runtime.statements.create(
            audio=stored,
            template=template,
            statement_date=statement_date,
            actor=user,
            filename=filename,
            content_type=content_type,
            duration_s=duration,
            speakers=speakers,
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


SPEAKERS_FIELD: dict[str, Any] = {
    "pattern": SPEAKERS_PATTERN,
    "description": "how many voices the recording holds, when more than one: 2 (the officer "
    f"and the witness) up to {MAX_SPEAKERS}, or auto to count them; absent for a dictation",
    "examples": ["2"],
}
"""The ``speakers`` field of a single upload's form and of a resumable upload's declaration."""


def speakers_choice(speakers: str | None) -> str | None:
    """``speakers`` as kept with the recording; 422 ``invalid_request`` for a bad value (the
    field's pattern refuses it first; this is its one definition in ``workflow.voices``)."""
    try:
        return parse_speakers(speakers)
    except VoiceError as exc:
        raise ApiError(422, "invalid_request", f"speakers: {exc.message}") from exc


@router.post(
    "",
    status_code=202,
    response_model=StatementCreated,
    responses=error_responses(413, 415, 507),
)
def create_statement(
    request: Request,
    services: ServicesDep,
    user: Creator,
    _multipart: Annotated[None, Depends(require_multipart)],
    audio: Annotated[
        UploadFile, File(description="the recording: m4a, webm, ogg, mp3, wav, flac, 3gp")
    ],
    template: Annotated[Template, Form()] = Template.MG11,
    statement_date: Annotated[
        date | None, Form(description="the day the statement is taken (default today)")
    ] = None,
    speakers: Annotated[str | None, Form(**SPEAKERS_FIELD)] = None,
) -> dict[str, Any]:
    """Receive a recording: keep it byte for byte, return its SHA-256, draft it in the
    background. Watch ``events_url`` for progress. (A phone on a poor signal sends it in
    pieces instead: ``/api/v1/uploads``.) A conversation (the officer asking, the witness
    answering) is sent with ``speakers``: its voices are told apart and the officer's
    questions kept out of the statement."""
    check_upload_rate(request, user)
    stored = save_recording(services, audio.file)
    return register_recording(
        get_runtime(request),
        user,
        stored,
        template=template,
        statement_date=statement_date or date.today(),
        filename=recording_filename(audio.filename),
        content_type=recording_content_type(audio.content_type),
        speakers=speakers_choice(speakers),
    )


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
    shortest = services.settings.min_duration_s
    if duration is not None and duration < shortest:
        # Refused now, as the command line refuses it, rather than accepted and failed later.
        raise ApiError(
            422,
            "too_short",
            f"{filename or 'the upload'}: the recording lasts {duration:.1f} s, too short to "
            f"hold speech (minimum {shortest:.1f} s)",
        )
    return duration


# Search terms are written to the audit log, which refuses control characters (a NUL, say):
# such a term is refused here, as the caller's mistake, rather than failing there.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# The largest event number or offset a client may send: past it SQLite's integers overflow.
LARGEST_POSITION = 2**62


@router.get("", response_model=StatementPage)
def list_statements(
    request: Request,
    user: Reader,
    status: Annotated[str | None, Query(max_length=40, pattern=PRINTABLE)] = None,
    template: Template | None = None,
    officer: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    statement_date: Annotated[date | None, Query(alias="date")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=PRINTABLE,
            description="words the statement contains (any case; all of them)",
        ),
    ] = None,
    # bounded: a page number past any real listing must not overflow the database's integers
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        records, total = runtime.statements.search(
            session,
            actor=user,
            status=status,
            template=template.value if template else None,
            officer=officer,
            statement_date=statement_date,
            text=q,
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
def get_statement(
    request: Request, statement_id: str, user: Reader, justification: Justification = None
) -> dict[str, Any]:
    return _read(get_runtime(request), statement_id, user, justification=justification)


@router.patch("/{statement_id}", response_model=StatementPublic)
def edit_statement(
    request: Request, statement_id: str, body: StatementEdit, user: Editor
) -> dict[str, Any]:
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
            actor=user,
        )
    return _read_back(runtime, statement_id, user)


@router.post("/{statement_id}/confirm", response_model=StatementPublic)
def confirm_statement(
    request: Request, statement_id: str, body: ConfirmBody, user: Confirmer
) -> dict[str, Any]:
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
            actor=user,
        )
    return _read_back(runtime, statement_id, user)


@router.post("/{statement_id}/submit", status_code=202, response_model=StatementPublic)
def submit_statement(
    request: Request,
    statement_id: str,
    user: Submitter,
    justification: Justification = None,
    body: SubmitBody | None = None,
) -> dict[str, Any]:
    """Send the confirmed statement to the justice system (delivered in the background;
    ``submission`` shows its state and attempts)."""
    runtime = get_runtime(request)
    reason = (body.justification if body else None) or justification
    with lifecycle_errors():
        with runtime.services.database.session() as session:
            # The payload is composed for the recipient; it is not shown to the caller.
            record = runtime.statements.lookup(session, statement_id, user, Permission.SUBMIT)
            payload = _export_body(runtime, session, record)
        runtime.statements.submit(statement_id, actor=user, payload=payload, justification=reason)
    runtime.wake_delivery()
    return _read_back(runtime, statement_id, user)


def _read_back(runtime: Runtime, statement_id: str, user: Principal) -> dict[str, Any]:
    """The statement as a change left it, for the caller who made the change: the change's own
    audit entry covers showing it back, so no second (consultation) entry is written."""
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.lookup(session, statement_id, user, Permission.READ)
        return _statement_json(runtime, session, record)


def _export_body(runtime: Runtime, session: Session, record: StatementRecord) -> dict[str, Any]:
    document = runtime.statements.export_document(session, record)
    deliveries = delivery_status(runtime.statements.outbox(session, record.id))
    return export_json(record, document, deliveries)


def _consult_export(
    runtime: Runtime,
    session: Session,
    statement_id: str,
    user: Principal,
    *,
    justification: str | None,
    form: str,
) -> StatementRecord:
    return runtime.statements.consult(
        session,
        statement_id,
        user,
        Permission.EXPORT,
        "statement.export",
        justification=justification,
        detail={"format": form},
    )


def _export(
    runtime: Runtime, statement_id: str, user: Principal, *, justification: str | None, form: str
) -> dict[str, Any]:
    with runtime.services.database.session() as session:
        record = _consult_export(
            runtime, session, statement_id, user, justification=justification, form=form
        )
        return _export_body(runtime, session, record)


@router.get("/{statement_id}/export.json")
def export_statement_json(
    request: Request, statement_id: str, user: Exporter, justification: Justification = None
) -> JSONResponse:
    with lifecycle_errors():
        body = _export(
            get_runtime(request), statement_id, user, justification=justification, form="json"
        )
    return JSONResponse(
        body,
        headers={"Content-Disposition": f'attachment; filename="statement-{statement_id}.json"'},
    )


@router.get(
    "/{statement_id}/export.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The statement as PDF"}},
)
def export_statement_pdf(
    request: Request, statement_id: str, user: Exporter, justification: Justification = None
) -> Response:
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        record = _consult_export(
            runtime, session, statement_id, user, justification=justification, form="pdf"
        )
        document = runtime.statements.export_document(session, record)
    pdf = render_pdf(document)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="statement-{statement_id}.pdf"'},
    )


_AUDIO_CONTENT: dict[str, Any] = {"audio/*": {}, "application/octet-stream": {}}


@router.get(
    "/{statement_id}/audio",
    response_class=Response,
    responses={
        200: {"content": _AUDIO_CONTENT, "description": "The original recording"},
        206: {"content": _AUDIO_CONTENT, "description": "The part of it the Range asked for"},
        **error_responses(410, 416),
    },
)
def get_audio(
    request: Request,
    statement_id: str,
    user: Listener,
    justification: Justification = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The original recording, byte for byte; supports Range so a player can seek. Each
    request is a consultation in the audit log, with the range it asked for."""
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.consult(
            session,
            statement_id,
            user,
            Permission.PLAY_AUDIO,
            "audio.play",
            justification=justification,
            detail={"range": (range_header or "")[:100] or None},
        )
        if record.status == StatementStatus.ERASED:
            raise ApiError(410, "erased", "the recording was erased under the retention policy")
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


def _progress(runtime: Runtime, statement_id: str, user: Principal, after: int) -> dict[str, Any]:
    # Progress events carry no personal data (states, percentages, counts), so reading them is
    # not logged as a consultation; who may read them is checked like any read.
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.lookup(session, statement_id, user, Permission.READ)
        found = events.events_after(session, statement_id, after)
        done = record.status not in ("received", "transcribing")
        return {
            "status": record.status,
            "events": [events.event_json(e) for e in found],
            "done": done,
        }


@router.get("/{statement_id}/progress", response_model=ProgressPublic)
def get_progress(
    request: Request,
    statement_id: str,
    user: Reader,
    after: Annotated[int, Query(ge=0, le=LARGEST_POSITION)] = 0,
) -> dict[str, Any]:
    """The same events as the stream, for a client that polls: those after event ``after``."""
    return _progress(get_runtime(request), statement_id, user, after)


@router.get(
    "/{statement_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    statement_id: str,
    user: Reader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int, Query(ge=0, le=LARGEST_POSITION)] = 0,
) -> StreamingResponse:
    """Server-sent events: queued, decoding, transcribing (percent), extracting, draft_ready
    (or retrying, failed). The stream ends once drafting is over; a reconnecting client sends
    Last-Event-ID and misses nothing."""
    runtime = get_runtime(request)
    start = after
    # An id no event can have (not ASCII digits, or past any event number) is ignored.
    if (
        last_event_id
        and len(last_event_id) <= 19
        and last_event_id.isascii()
        and last_event_id.isdigit()
    ):
        start = min(int(last_event_id), LARGEST_POSITION)
    first = await run_in_threadpool(_progress, runtime, statement_id, user, start)  # 404 first

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
            batch = await run_in_threadpool(_progress, runtime, statement_id, user, last)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{statement_id}/integrity", response_model=IntegrityPublic)
def get_integrity(
    request: Request, statement_id: str, user: Reader, justification: Justification = None
) -> dict[str, Any]:
    """Recompute the SHA-256 of the stored recording (of its plaintext, decrypted as it is read)
    and of the confirmed content, and compare them with those recorded when they were taken."""
    runtime = get_runtime(request)
    with runtime.services.database.session() as session, lifecycle_errors():
        record = runtime.statements.consult(
            session,
            statement_id,
            user,
            Permission.READ,
            "statement.integrity",
            justification=justification,
        )
        return check_integrity(runtime.services.audio_store, record)


@router.post("/{statement_id}/reassign", response_model=StatementPublic)
def reassign_statement(
    request: Request, statement_id: str, body: ReassignBody, user: Reassigner
) -> dict[str, Any]:
    """Give the statement to another officer of its unit (a supervisor's decision, audited)."""
    runtime = get_runtime(request)
    with lifecycle_errors():
        runtime.statements.reassign(statement_id, actor=user, to_name=body.officer)
    return _read_back(runtime, statement_id, user)
