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
