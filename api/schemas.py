"""Request and response bodies of the statement API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StatementEdit(BaseModel):
    """An officer's correction. ``fields`` maps a field name to its new value (null removes
    it); ``not_stated`` names fields the witness did not give; ``narrative`` replaces the text
    the witness will sign. ``base_version``, when sent, makes the edit fail with 409 if someone
    else changed the statement since that version."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(
        default_factory=dict, examples=[{"witness.phone": "07700900123"}]
    )
    not_stated: list[str] = Field(default_factory=list)
    narrative: str | None = None
    base_version: int | None = None


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    witness_declaration_accepted: bool = Field(
        description="the witness has read (or been read) the statement and accepts the MG11 "
        "declaration"
    )
    signature_png_base64: str | None = Field(
        default=None, description="the witness's signature as a PNG, base64 (data: URL allowed)"
    )
    place: str | None = Field(default=None, max_length=500, description="where it was confirmed")


class StatementCreated(BaseModel):
    id: str
    status: str
    audio_sha256: str
    audio_bytes: int
    events_url: str
    url: str


class StatementSummary(BaseModel):
    id: str
    status: str
    template: str
    statement_date: date
    officer: str
    created_at: datetime
    updated_at: datetime
    audio_sha256: str
    current_version: int


class StatementPage(BaseModel):
    items: list[StatementSummary]
    total: int
    page: int
    page_size: int


class VersionPublic(BaseModel):
    number: int
    kind: str
    author: str
    created_at: datetime
    changes: list[dict[str, Any]]
    content_sha256: str


class ConfirmationPublic(BaseModel):
    officer: str
    confirmed_at: datetime
    place: str | None
    version: int
    witness_declaration_accepted: bool
    declaration: str
    page_count: int
    signature_sha256: str | None
    content_sha256: str


class DeliveryPublic(BaseModel):
    kind: str
    destination: str | None
    state: str
    attempts: int
    max_attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    idempotency_key: str


class FailurePublic(BaseModel):
    code: str | None
    message: str | None


class StatementPublic(StatementSummary):
    audio_bytes: int
    audio_duration_s: float | None
    statement: dict[str, Any] | None = Field(
        description="the contract JSON (shared/statement-fields.md) of the current version"
    )
    versions: list[VersionPublic]
    confirmation: ConfirmationPublic | None
    submission: list[DeliveryPublic]
    failure: FailurePublic | None


class ProgressPublic(BaseModel):
    status: str
    events: list[dict[str, Any]]
    done: bool = Field(description="true once drafting is over (draft ready, or failed)")


class SubmitBody(BaseModel):
    justification: str | None = Field(
        default=None, max_length=500, description="why, when you are not the statement's officer"
    )


class ReassignBody(BaseModel):
    officer: str = Field(min_length=1, max_length=200, description="the new officer's account")


class HashCheck(BaseModel):
    recorded: str
    recomputed: str | None  # None: what it is a hash of is gone (erased, or missing)
    ok: bool


class IntegrityPublic(BaseModel):
    """Both hashes recomputed now from what is stored, against those recorded at the time."""

    statement_id: str
    audio: HashCheck
    confirmed_content: HashCheck | None  # None: not confirmed
    ok: bool


class ErrorDetail(BaseModel):
    code: str = Field(description="a stable machine code, such as not_found or csrf_failed")
    message: str = Field(description="what went wrong, for a person")
    detail: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    """Every error the service answers (api/errors.py): ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "The request is refused (its error code says why)",
    401: "No credentials, or credentials not accepted",
    403: "The caller's roles do not allow this, or a signed-in browser sent no CSRF token",
    404: "Not found, or out of the caller's reach (the same answer)",
    409: "The resource is not in a state that allows this",
    410: "Gone: erased under the retention policy",
    413: "The upload is larger than the service accepts",
    415: "Not a format the service reads",
    416: "The Range asked for is outside the recording",
    422: "The request does not validate",
    429: "Too many attempts: wait for Retry-After seconds",
    503: "A service this one depends on is not available",
    507: "The service has no space left to keep the upload (nothing was stored)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``statuses`` as the service's error envelope (422
    included: FastAPI would otherwise declare its own validation body, which this service does
    not send)."""
    return {
        status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]}
        for status in sorted({*statuses, 422})
    }
