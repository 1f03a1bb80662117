"""Statements in a given state without a Whisper model: taken through the real lifecycle
(``StatementService`` create, edit, confirm), with only the machine draft written directly, as
the drafting job writes it (the transcript with timed words, version 1, status ``draft``).

Accounts are real local accounts (``security.accounts``): each comes back with its API token,
for HTTP, and the principal the service acts for.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import update

from models import Template
from models.statement import DETAIL_NAMES, unanswered
from models.tables import Job, JobState, StatementRecord, StatementStatus, StatementVersion, utcnow
from models.users import Principal, Role
from security import accounts
from workflow.services import Services
from workflow.statements import ConfirmRequest

# Bytes, not a recording: nothing decodes them in these tests; the audio route serves them.
AUDIO = b"OggS" + bytes(range(256)) * 40
WORD_S = 0.4  # how long each made-up transcript word lasts, in seconds


@dataclass(frozen=True)
class Account:
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def account(services: Services, name: str, *roles: Role, unit: str | None = "north") -> Account:
    """A new local account (officer by default) on the service's (migrated) database."""
    with services.database.session() as session:
        user, token = accounts.add_user(session, name, roles or (Role.OFFICER,), unit)
        principal = accounts.principal_for(user)
    return Account(principal, token)


def timed_transcript(text: str) -> dict[str, Any]:
    """A transcript in ``Transcript.to_dict`` shape: one segment, each word ``WORD_S`` long."""
    words = [
        {
            "word": f" {w}",
            "start": round(i * WORD_S, 3),
            "end": round((i + 1) * WORD_S, 3),
            "probability": 0.9,
        }
        for i, w in enumerate(text.split())
    ]
    end = words[-1]["end"] if words else 0.0
    return {
        "text": text,
        "language": "en",
        "duration_s": end,
        "task": "transcribe",
        "segments": [
            {
                "start": 0.0,
                "end": end,
                "text": f" {text}",
                "avg_logprob": -0.2,
                "no_speech_prob": 0.01,
                "words": words,
            }
        ],
    }


def draft_content(
    template: Template, narrative: str, fields: dict[str, str], transcript: str
) -> dict[str, Any]:
    """Version 1 as the extractor makes it: each field with the span it was heard in (found in
    ``transcript`` when it occurs there) and its time; required fields not given are flagged."""
    made: dict[str, Any] = {}
    for name, value in fields.items():
        at = transcript.find(value)
        first_word = len(transcript[:at].split()) if at >= 0 else None
        made[name] = {
            "value": value,
            "text": value,
            "start_char": max(at, 0),
            "end_char": max(at, 0) + len(value),
            "confidence": 0.9,
            "source": "rule",
            "start_s": None if first_word is None else round(first_word * WORD_S, 3),
            "end_s": None
            if first_word is None
            else round((first_word + len(value.split())) * WORD_S, 3),
        }
    flags = [
        {"kind": "missing_required", "field": name, "reason": f"{name} was not stated"}
        for name in unanswered(template, set(fields))
    ]
    return {
        "template": template.value,
        "statement_date": "2026-11-20",
        # template details ("witness.over_18", ...) are kept apart from the contract's fields
        "fields": {name: item for name, item in made.items() if name not in DETAIL_NAMES},
        "details": {name: item for name, item in made.items() if name in DETAIL_NAMES},
        "persons": [],
        "vehicles": [],
        "weapons": [],
        "narrative": narrative,
        "flags": flags,
    }


def drafted(
    services: Services,
    officer: Principal,
    *,
    narrative: str,
    fields: dict[str, str] | None = None,
    transcript: str | None = None,
    template: Template = Template.MG11,
    statement_date: date = date(2026, 11, 20),
    audio: bytes = AUDIO,
) -> str:
    """A statement of ``officer``'s with its machine draft; returns its id. The transcript is
    the narrative unless given; ``audio`` is stored as the recording, byte for byte."""
    heard = transcript if transcript is not None else narrative
    stored = services.audio_store.save(io.BytesIO(audio), max_bytes=len(audio))
    record, _job = services.statements.create(
        audio=stored,
        template=template,
        statement_date=statement_date,
        actor=officer,
        filename="interview.ogg",
        content_type="audio/ogg",
        duration_s=len(heard.split()) * WORD_S,
    )
    with services.database.session() as session:
        # The drafting job is done: no worker picks it up.
        session.execute(
            update(Job)
            .where(Job.statement_id == record.id)
            .values(state=JobState.DONE.value, finished_at=utcnow(), attempts=1)
        )
        row = session.get(StatementRecord, record.id)
        assert row is not None
        row.transcript = timed_transcript(heard)
        row.status = StatementStatus.DRAFT
        row.current_version = 1
        session.add(
            StatementVersion(
                statement_id=record.id,
                number=1,
                kind="machine",
                author="machine: test",
                content=draft_content(template, narrative, fields or {}, heard),
                changes=[],
            )
        )
    return record.id


def confirm(services: Services, officer: Principal, statement_id: str) -> None:
    """Confirm with the witness, marking every unanswered required field not stated first."""
    from workflow.statements import Edit, answered_names

    with services.database.session() as session:
        row = session.get(StatementRecord, statement_id)
        assert row is not None
        content = row.versions[-1].content
        open_items = unanswered(Template(row.template), answered_names(content))
    if open_items:
        services.statements.edit(statement_id, Edit(not_stated=tuple(open_items)), actor=officer)
    services.statements.confirm(
        statement_id,
        ConfirmRequest(witness_declaration_accepted=True, place="Penrith Police Station"),
        actor=officer,
    )
