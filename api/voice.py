"""The caller's own enrolled voice: how the service knows which voice of a recording is theirs.

    PUT    /api/v1/me/voice   enrol it: a multipart ``audio`` file of the officer reading a few
                              sentences (3 s of speech at least, 2 minutes at most) → 200
    GET    /api/v1/me/voice   whether a voice is enrolled, when, by which encoder → 200
    DELETE /api/v1/me/voice   forget it → 204

Only the voice print is kept (sealed at rest in the caller's account); the sample is decoded
from a temporary file deleted as soon as it is embedded. The vector itself is never returned.
Enrolling is for officers (their recordings are the ones drafted); anyone signed in may see or
remove their own. The work, and its audit entries, are ``workflow.voices``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel

from api.auth import CurrentUser
from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import error_responses
from api.statements import Creator, check_upload_rate, require_multipart
from transcription.errors import TranscriptionError
from workflow.services import Services
from workflow.voices import Account, VoiceError, VoiceService

router = APIRouter(
    prefix="/api/v1/me/voice",
    tags=["voice"],
    responses=error_responses(401, 403),
)

# VoiceError codes -> HTTP status.
_STATUS = {
    "no_local_account": 409,
    "no_such_user": 404,
    "enrolment_too_large": 413,
    "enrolment_too_long": 422,
}


class VoicePublic(BaseModel):
    """Whether the caller has an enrolled voice: never the voice print itself."""

    user: str
    enrolled: bool
    enrolled_at: datetime | None
    encoder: str | None
    encoder_sha256: str | None
    speech_s: float | None


def _service(services: Services) -> VoiceService:
    return VoiceService(
        services.database,
        services.pipeline,
        lock=services.pipeline_lock,
        temp_dir=services.settings.data_dir / "tmp",
    )


@contextmanager
def voice_errors(filename: str | None = None) -> Iterator[None]:
    try:
        yield
    except VoiceError as exc:
        raise ApiError(_STATUS.get(exc.code, 422), exc.code, exc.message) from exc
    except TranscriptionError as exc:
        code = getattr(exc, "code", "transcription_failed")
        message = str(exc)
        path = getattr(exc, "path", None)
        if path:  # the message names the temporary copy; the officer knows the file they sent
            message = message.replace(str(path), filename or "the sample")
            message = message.replace(PurePath(str(path)).name, filename or "the sample")
        if code in {"enrolment_too_short", "not_audio", "empty_file", "truncated", "too_long",
                    "too_short", "not_found"}:  # fmt: skip
            raise ApiError(422, code, message) from exc
        raise ApiError(503, code, message) from exc


def _suffix(filename: str | None) -> str:
    """The sample's extension, for the temporary file (the decoder reads the content, not the
    name; a name that is not a plain extension is dropped)."""
    suffix = PurePath(filename or "").suffix
    return suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""


@router.put(
    "",
    response_model=VoicePublic,
    responses=error_responses(409, 413, 415, 429, 503),
)
def enrol_voice(
    request: Request,
    services: ServicesDep,
    user: Creator,
    _multipart: Annotated[None, Depends(require_multipart)],
    audio: Annotated[
        UploadFile,
        File(description="the officer reading a few sentences: 3 s of speech to 2 minutes"),
    ],
) -> dict[str, Any]:
    """Enrol the caller's voice from a short sample, replacing any enrolled before. Recordings
    they send with ``speakers`` then have their voice told by it."""
    check_upload_rate(request, user)
    with voice_errors(audio.filename):
        status = _service(services).enrol_upload(
            Account.of(user), audio.file, actor=user, suffix=_suffix(audio.filename)
        )
    return status.to_dict()


@router.get("", response_model=VoicePublic)
def get_voice(services: ServicesDep, user: CurrentUser) -> dict[str, Any]:
    """Whether the caller has an enrolled voice, since when, and which encoder made it."""
    with voice_errors():
        return _service(services).status(Account.of(user)).to_dict()


@router.delete("", status_code=204, responses=error_responses(409))
def delete_voice(services: ServicesDep, user: CurrentUser) -> Response:
    """Forget the caller's enrolled voice (nothing to do when there is none)."""
    with voice_errors():
        try:
            _service(services).remove(Account.of(user), actor=user)
        except VoiceError as exc:
            if exc.code != "no_local_account":  # nothing can be stored without one
                raise
    return Response(status_code=204)
