"""What each template requires before it is confirmed, through the statement API, on SQLite and
PostgreSQL: every required item filled or marked not stated, "over 18" answering the MG11's age,
and the template details (``witness.over_18``, ``missing.description``,
``missing.risk_factors``) edited like fields and printed on the exports.

Real app, real accounts and tokens, real encryption; the machine drafts are written directly
(``tests.factories``), so no Whisper model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient

from app import create_app
from models import Template
from tests.factories import Account, account, drafted
from workflow.services import Services
from workflow.settings import Settings


@dataclass
class Desk:
    client: TestClient
    services: Services
    officer: Account

    def url(self, statement_id: str) -> str:
        return f"/api/v1/statements/{statement_id}"

    def read(self, statement_id: str) -> dict[str, Any]:
        response = self.client.get(self.url(statement_id), headers=self.officer.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def patch(self, statement_id: str, **body: Any) -> Any:
        return self.client.patch(self.url(statement_id), json=body, headers=self.officer.headers)

    def confirm(self, statement_id: str) -> Any:
        return self.client.post(
            f"{self.url(statement_id)}/confirm",
            json={"witness_declaration_accepted": True, "place": "Keswick police station"},
            headers=self.officer.headers,
        )

    def pdf_text(self, statement_id: str) -> str:
        response = self.client.get(
            f"{self.url(statement_id)}/export.pdf", headers=self.officer.headers
        )
        assert response.status_code == 200, response.text
        document = pdfium.PdfDocument(response.content)
        return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in document)


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Iterator[Desk]:
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    services: Services = app.state.services
    services.database.migrate()
    officer = account(services, "PC 3308 Iqbal")
    client = TestClient(app)  # no lifespan: no drafting workers, only the routes
    try:
        yield Desk(client, services, officer)
    finally:
        client.close()
        services.close()


def missing_required(content: dict[str, Any]) -> list[str]:
    return [f["field"] for f in content["flags"] if f["kind"] == "missing_required"]


def test_mg11_confirms_once_age_or_over_18_and_occupation_are_answered(desk: Desk) -> None:
    sid = drafted(
        desk.services,
        desk.officer.principal,
        narrative="On Monday a man threw a brick through the window of my shop on Main Street.",
        fields={
            "witness.name": "Elaine Moffat",
            "incident.date": "2026-11-16",
            "incident.location": "Main Street, Keswick",
        },
    )
    draft = desk.read(sid)["statement"]
    assert missing_required(draft) == ["witness.age", "witness.occupation"]

    refused = desk.confirm(sid)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "required_fields_missing"
    assert "witness.age, witness.occupation" in refused.json()["error"]["message"]

    # "over 18" is a detail, edited like a field, and answers the age
    over = desk.patch(sid, fields={"witness.over_18": "over 18"}, base_version=1)
    assert over.status_code == 200, over.text
    content = over.json()["statement"]
    assert content["details"]["witness.over_18"]["value"] == "over 18"
    assert content["details"]["witness.over_18"]["source"] == "officer"
    assert "witness.over_18" not in content["fields"] and "witness.age" not in content["fields"]
    assert missing_required(content) == ["witness.occupation"]
    assert over.json()["versions"][-1]["changes"] == [
        {"field": "witness.over_18", "old": None, "new": "over 18"}
    ]

    still = desk.confirm(sid)
    assert still.status_code == 409
    assert still.json()["error"]["message"].endswith(": witness.occupation")

    assert desk.patch(sid, fields={"witness.occupation": "shopkeeper"}).status_code == 200
    confirmed = desk.confirm(sid)
    assert confirmed.status_code == 200, confirmed.text
    kept = desk.read(sid)["confirmation"]
    assert kept is not None
    assert "Age if under 18: Over 18" in desk.pdf_text(sid)


def test_an_over_18_taken_back_asks_for_the_age_again(desk: Desk) -> None:
    sid = drafted(
        desk.services,
        desk.officer.principal,
        narrative="Age, over eighteen. Occupation, joiner. Yesterday my van was broken into.",
        fields={
            "witness.name": "Rhys Cowan",
            "witness.over_18": "over eighteen",
            "witness.occupation": "joiner",
            "incident.date": "2026-11-19",
            "incident.location": "Lake Road, Keswick",
        },
    )
    draft = desk.read(sid)["statement"]
    assert draft["details"]["witness.over_18"]["value"] == "over eighteen"
    assert missing_required(draft) == []

    removed = desk.patch(sid, fields={"witness.over_18": None})
    assert removed.status_code == 200, removed.text
    assert missing_required(removed.json()["statement"]) == ["witness.age"]
    assert desk.confirm(sid).status_code == 409

    aged = desk.patch(sid, fields={"witness.age": "52"})
    assert missing_required(aged.json()["statement"]) == []
    assert desk.confirm(sid).status_code == 200


def test_missing_person_needs_every_item_answered_details_included(desk: Desk) -> None:
    sid = drafted(
        desk.services,
        desk.officer.principal,
        template=Template.MISSING_PERSON,
        narrative="My brother Neil has not come home since Tuesday night.",
        fields={
            "witness.name": "Iona Brack",
            "missing.name": "Neil Brack",
            "missing.last_seen_date": "2026-11-17",
            "missing.last_seen_location": "Station Street, Keswick",
            "missing.description": "tall and thin, with a shaved head",
        },
    )
    draft = desk.read(sid)["statement"]
    assert draft["details"]["missing.description"]["value"] == "tall and thin, with a shaved head"
    assert missing_required(draft) == [
        "missing.age",
        "missing.last_seen_time",
        "missing.clothing",
        "missing.risk_factors",
    ]

    refused = desk.confirm(sid)
    assert refused.status_code == 409
    assert "missing.risk_factors" in refused.json()["error"]["message"]

    edited = desk.patch(
        sid,
        fields={
            "missing.age": 41,
            "missing.last_seen_time": "23:30",
            "missing.clothing": "green waterproof jacket",
            "missing.risk_factors": "epileptic; has no medication with him",
        },
        not_stated=["missing.description"],
    )
    assert edited.status_code == 200, edited.text
    content = edited.json()["statement"]
    assert content["details"] == {
        "missing.risk_factors": content["details"]["missing.risk_factors"]
    }
    assert content["details"]["missing.risk_factors"]["value"] == (
        "epileptic; has no medication with him"
    )
    assert "missing.description" in content["not_stated"]
    assert missing_required(content) == []
    changes = {c["field"]: (c["old"], c["new"]) for c in edited.json()["versions"][-1]["changes"]}
    assert changes["missing.description"] == ("tall and thin, with a shaved head", "not stated")

    assert desk.confirm(sid).status_code == 200
    text = desk.pdf_text(sid)
    assert "Risk factors epileptic; has no medication with him" in text
    assert "Description not stated" in text


def test_unknown_names_are_still_refused(desk: Desk) -> None:
    sid = drafted(desk.services, desk.officer.principal, narrative="Nothing of note happened.")
    for body in (
        {"fields": {"missing.hair_colour": "red"}},
        {"not_stated": ["witness.over_21"]},
    ):
        refused = desk.patch(sid, **body)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["code"] == "unknown_field"
