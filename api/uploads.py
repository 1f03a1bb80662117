"""The resumable upload API: a recording sent in pieces from a phone on a poor signal.

    POST /api/v1/uploads            declare it: {template, statement_date, size, sha256,
                                    filename, content_type, speakers} → 201 {id, offset: 0, ...}
    GET  /api/v1/uploads/{id}       where it has got to: {id, offset, size, complete, statement}
    PUT  /api/v1/uploads/{id}?offset=N   the next piece (raw bytes, at most 1 MiB)

A piece must start at the upload's current offset (else 409 ``offset_mismatch`` with the
offset in ``Upload-Offset``); one sent again after its reply was lost is answered with the
current state. The piece that completes the recording assembles it, checks its SHA-256
against the declared one (422 ``checksum_mismatch``: the upload is discarded) and makes the
statement exactly as ``POST /api/v1/statements`` does (``api.statements.register_recording``);
``statement`` is then that request's body. Only the officer who declared an upload reaches it
(anyone else: 404). The work is ``workflow.uploads``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import StatementCreated, error_responses
from api.statements import (
    LARGEST_POSITION,
    SPEAKERS_FIELD,
    Creator,
    check_upload_rate,
    get_runtime,
    recording_content_type,
    recording_filename,
    register_recording,
    save_recording,
    speakers_choice,
)
from models import Principal, Template
from workflow.runtime import Runtime
from workflow.uploads import (
    MAX_CHUNK_BYTES,
    Assembly,
    ChunkTooLarge,
    OffsetMismatch,
    UploadNotFound,
    UploadService,
    UploadState,
)

router = APIRouter(
    prefix="/api/v1/uploads",
    tags=["uploads"],
    responses=error_responses(401, 403, 404, 409, 413, 429, 507),
)

OFFSET_HEADER = "Upload-Offset"


class UploadStart(BaseModel):
    template: Template = Template.MG11
    statement_date: date | None = Field(
        default=None, description="the day the statement is taken (default today)"
    )
    size: int = Field(ge=1, description="the recording's length in bytes")
    sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$", description="the SHA-256 of the whole recording, hex"
    )
    # Kept as metadata only, cleaned as a single-request upload's are (recording_filename): an
    # odd name never refuses a recording; only an absurd one is.
    filename: str | None = Field(default=None, max_length=4096)
    content_type: str | None = Field(default=None, max_length=1000)
    speakers: str | None = Field(
        default=None,
        pattern=SPEAKERS_FIELD["pattern"],
        description=SPEAKERS_FIELD["description"],
        examples=SPEAKERS_FIELD["examples"],
    )


class UploadPublic(BaseModel):
    id: str
    offset: int
    size: int
    complete: bool
    statement: StatementCreated | None


class OffsetConflict(ApiError):
    """409: the piece does not start at the upload's offset, which ``Upload-Offset`` (and the
    body's ``detail.offset``) gives, for the client to resume from."""

    def __init__(self, current: int) -> None:
        super().__init__(
            409,
            "offset_mismatch",
            f"the upload has received {current} bytes: send the piece starting at {current}",
            offset=current,
        )
        self.headers = {OFFSET_HEADER: str(current)}  # added to the response by the handler


@contextmanager
def upload_errors() -> Iterator[None]:
    try:
        yield
    except UploadNotFound as exc:
        raise ApiError(404, "not_found", f"no upload with id {exc.args[0]!r}") from exc
    except OffsetMismatch as exc:
        raise OffsetConflict(exc.current) from exc
    except ChunkTooLarge as exc:
        raise ApiError(413, "too_large", str(exc)) from exc


def _public(state: UploadState) -> dict[str, Any]:
    statement = None
    if state.statement_id is not None:
        statement = {
            "id": state.statement_id,
            "status": state.statement_status or "received",
            "audio_sha256": state.sha256,
            "audio_bytes": state.size,
            "url": f"/api/v1/statements/{state.statement_id}",
            "events_url": f"/api/v1/statements/{state.statement_id}/events",
        }
    return {
        "id": state.id,
        "offset": state.offset,
        "size": state.size,
        "complete": state.complete,
        "statement": statement,
    }


@router.post("", status_code=201, response_model=UploadPublic)
def start_upload(
    request: Request, response: Response, services: ServicesDep, body: UploadStart, user: Creator
) -> dict[str, Any]:
    """Declare a recording about to be sent in pieces; counts against the upload rate."""
    limit = services.settings.max_upload_bytes
    if body.size > limit:
        raise ApiError(
            413, "too_large", f"the recording is {body.size} bytes; the limit is {limit} bytes"
        )
    check_upload_rate(request, user)
    state = UploadService(services.database).start(
        user,
        template=body.template,
        statement_date=body.statement_date or date.today(),
        size=body.size,
        sha256=body.sha256,
        filename=recording_filename(body.filename),
        content_type=recording_content_type(body.content_type),
        speakers=speakers_choice(body.speakers),
    )
    response.headers["Location"] = f"/api/v1/uploads/{state.id}"
    response.headers[OFFSET_HEADER] = str(state.offset)
    return _public(state)


@router.get("/{upload_id}", response_model=UploadPublic)
def get_upload(
    response: Response, services: ServicesDep, upload_id: str, user: Creator
) -> dict[str, Any]:
    """Where the upload has got to: send the next piece from ``offset``."""
    with upload_errors():
        state = UploadService(services.database).state(upload_id, user)
    response.headers[OFFSET_HEADER] = str(state.offset)
    return _public(state)


async def _read_piece(request: Request) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``MAX_CHUNK_BYTES``:
    nothing past the limit is held in memory."""
    too_large = ApiError(413, "too_large", f"a piece may hold at most {MAX_CHUNK_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CHUNK_BYTES:
        raise too_large
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_CHUNK_BYTES:
            raise too_large
    return bytes(body)


@router.put(
    "/{upload_id}",
    response_model=UploadPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_piece(
    request: Request,
    response: Response,
    upload_id: str,
    user: Creator,
    offset: Annotated[
        int,
        Query(ge=0, le=LARGEST_POSITION, description="where this piece starts in the recording"),
    ],
) -> dict[str, Any]:
    """The next piece of the recording, raw bytes (at most 1 MiB). The piece that completes it
    makes the statement: ``complete`` is then true and ``statement`` says which."""
    data = await _read_piece(request)
    body = await run_in_threadpool(_put, get_runtime(request), user, upload_id, offset, data)
    response.headers[OFFSET_HEADER] = str(body["offset"])
    return body


def _put(
    runtime: Runtime, user: Principal, upload_id: str, offset: int, data: bytes
) -> dict[str, Any]:
    uploads = UploadService(runtime.services.database)
    with upload_errors():
        state = uploads.append(upload_id, user, offset=offset, data=data)
    # Also when every byte had already arrived: an assembly that failed (or whose reply was
    # lost) is tried again by the client sending its last piece again.
    if state.ready:
        return _complete(runtime, uploads, user, state)
    return _public(state)


def _complete(
    runtime: Runtime, uploads: UploadService, user: Principal, state: UploadState
) -> dict[str, Any]:
    assembly = uploads.claim_assembly(state.id, user)
    if assembly is None:  # completed meanwhile, or another request is assembling it
        with upload_errors():
            return _public(uploads.state(state.id, user))
    try:
        statement = _assemble(runtime, uploads, user, assembly)
    except ApiError as exc:
        if 400 <= exc.status < 500:
            # These bytes can never become a statement (not the ones declared, not a usable
            # recording): keeping them would only make the client send them again.
            uploads.discard(assembly, user, reason=exc.code)
        else:
            uploads.release(assembly)
        raise
    except BaseException:
        uploads.release(assembly)  # the next piece sent (the last one again) retries
        raise
    return {
        "id": assembly.upload_id,
        "offset": assembly.size,
        "size": assembly.size,
        "complete": True,
        "statement": statement,
    }


def _assemble(
    runtime: Runtime, uploads: UploadService, user: Principal, assembly: Assembly
) -> dict[str, Any]:
    """Store the pieces as one recording, check it is the one declared, make the statement."""
    services = runtime.services
    previous = assembly.previous_audio_key
    if previous is not None:
        # An earlier assembly stored the recording and was cut off: either it made the
        # statement too (then that is the upload's statement, not a second one) or it did not.
        made = uploads.statement_with_audio(previous)
        if made is not None:
            uploads.finish(assembly, made)
            statement: dict[str, Any] = _public(uploads.state(assembly.upload_id, user))[
                "statement"
            ]
            return statement
        services.audio_store.delete(previous)
    stored = save_recording(services, cast(BinaryIO, uploads.reader(assembly)))
    if stored.sha256 != assembly.sha256 or stored.size != assembly.size:
        services.audio_store.delete(stored.key)
        raise ApiError(
            422,
            "checksum_mismatch",
            f"the recording received has SHA-256 {stored.sha256}, not the {assembly.sha256} "
            "declared: it changed on the way; the upload is discarded, send it again",
            expected=assembly.sha256,
            received=stored.sha256,
        )
    uploads.record_audio(assembly, stored.key)
    created = register_recording(
        runtime,
        user,
        stored,
        template=assembly.template,
        statement_date=assembly.statement_date,
        filename=assembly.filename,
        content_type=assembly.content_type,
        speakers=assembly.speakers,
    )
    uploads.finish(assembly, created["id"])
    return created
