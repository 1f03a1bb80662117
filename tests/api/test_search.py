"""Text search in the statement list (``GET /api/v1/statements?q=``), on SQLite and PostgreSQL.

Statement content is encrypted at rest, so the search decrypts the current version and the
transcript of each statement the caller may see and matches there (``StatementService.search``).
These tests hold it to the rules: every word, any case, in the fields, the narrative or the
transcript; the current version only; only what the caller reaches; totals and pages counted
over the matches; and an audit entry that does not repeat the text searched for.

Real app, real accounts and tokens, real encryption; the machine drafts are written directly
(``tests.factories``), so no Whisper model is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import create_app
from models import Template
from models.tables import AuditEntry
from models.users import Role
from tests.factories import Account, account, confirm, drafted
from workflow.services import Services
from workflow.settings import Settings
from workflow.statements import Edit


@dataclass
class Desk:
    client: TestClient
    services: Services
    officer_a: Account
    builder: Account
    ids: dict[str, str]

    def search(self, who: Account, **params: Any) -> dict[str, Any]:
        response = self.client.get("/api/v1/statements", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def found(self, who: Account, **params: Any) -> set[str]:
        names = {v: k for k, v in self.ids.items()}
        return {names[item["id"]] for item in self.search(who, **params)["items"]}


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Iterator[Desk]:
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    services: Services = app.state.services
    services.database.migrate()
    a = account(services, "PC 4471 Morgan")
    b = account(services, "PC 2210 Patel")
    south = account(services, "PC 9001 Okafor", unit="south")
    builder = account(services, "Casey Builder", Role.CASE_BUILDER)

    def made(who: Account, *, confirmed: bool = True, **kwargs: Any) -> str:
        statement_id = drafted(services, who.principal, **kwargs)
        if confirmed:
            confirm(services, who.principal, statement_id)
        return statement_id

    ids = {
        "holloway": made(
            a,
            narrative="I saw a man in a red jacket hit the driver of the van.",
            fields={"witness.name": "Sarah Jane Holloway"},
            transcript="My name is Sarah Jane Holloway. I saw a man in a red jacket hit the "
            "driver of the van.",
        ),
        "missing_son": made(
            b,
            template=Template.MISSING_PERSON,
            narrative="My son has not come home since Friday.",
            fields={"missing.name": "Tom Holloway"},
        ),
        "transcript_only": made(
            a,
            narrative="The car was blue.",
            transcript="um the car was blue and the driver shouted Rosebank",
        ),
        "nothing": made(b, narrative="Nothing of note happened."),
        "draft": made(a, confirmed=False, narrative="Mrs Holloway rang us twice."),
        "south": made(south, narrative="Holloway again, in the south."),
        "edited": made(
            a, confirmed=False, narrative="The bicycle was stolen.", transcript="from the shed"
        ),
    }
    services.statements.edit(
        ids["edited"], Edit(narrative="The scooter was stolen."), actor=a.principal
    )
    confirm(services, a.principal, ids["edited"])
    # No lifespan: no drafting workers or retention thread, only the routes.
    client = TestClient(app)
    try:
        yield Desk(client, services, a, builder, ids)
    finally:
        client.close()
        services.close()


def test_every_word_in_any_case_in_fields_narrative_or_transcript(desk: Desk) -> None:
    # A field value (both statements), whatever the case of the query.
    assert desk.found(desk.builder, q="HOLLOWAY") == {"holloway", "missing_son"}
    assert desk.search(desk.builder, q="holloway")["total"] == 2
    # Words heard in the transcript but not kept in the statement's text.
    assert desk.found(desk.builder, q="rosebank") == {"transcript_only"}
    # Every word must occur (not necessarily together); one missing word: no match.
    assert desk.found(desk.builder, q="jacket  RED") == {"holloway"}
    assert desk.found(desk.builder, q="red scooter") == set()
    assert desk.found(desk.builder, q="driver") == {"holloway", "transcript_only"}


def test_only_the_current_version_is_searched(desk: Desk) -> None:
    assert desk.found(desk.builder, q="bicycle") == set()  # only in the machine draft
    assert desk.found(desk.builder, q="scooter") == {"edited"}


def test_only_statements_the_caller_reaches_are_searched(desk: Desk) -> None:
    # The case builder: confirmed statements of the north unit, not drafts, not the south's.
    assert desk.found(desk.builder, q="holloway") == {"holloway", "missing_son"}
    # Officer A: their own, drafts included; not officer B's.
    assert desk.found(desk.officer_a, q="holloway") == {"holloway", "draft"}


def test_totals_and_pages_count_the_matches_with_the_other_filters(desk: Desk) -> None:
    pages = [desk.search(desk.builder, q="holloway", page=n, page_size=1) for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [2, 2, 2]
    assert [len(p["items"]) for p in pages] == [1, 1, 0]
    assert {p["items"][0]["id"] for p in pages[:2]} == {
        desk.ids["holloway"],
        desk.ids["missing_son"],
    }
    assert desk.found(desk.builder, q="holloway", template="missing_person") == {"missing_son"}
    assert desk.found(desk.builder, q="holloway", officer="PC 4471 Morgan") == {"holloway"}
    assert desk.search(desk.builder, q="holloway", status="submitted")["total"] == 0
    # A blank query is no query: every statement the case builder reaches.
    everything = desk.search(desk.builder, q="   ")
    assert everything["total"] == 5 == desk.search(desk.builder)["total"]


def test_the_search_is_audited_without_the_text(desk: Desk) -> None:
    desk.search(desk.builder, q="Holloway", template="mg11")
    with desk.services.database.session() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.operation == "statement.search")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
        detail = dict(entry.detail)
        actor = entry.actor_name
    assert actor == "Casey Builder"
    assert detail == {"template": "mg11", "text_search": True, "results": 1, "total": 1}
    assert "holloway" not in json.dumps(detail).casefold()


def test_a_query_longer_than_200_characters_is_refused(desk: Desk) -> None:
    response = desk.client.get(
        "/api/v1/statements", params={"q": "x" * 201}, headers=desk.builder.headers
    )
    assert response.status_code == 422
