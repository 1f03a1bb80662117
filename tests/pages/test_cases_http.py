"""The case builder's desk pages over HTTP, without a browser, on SQLite and PostgreSQL.

A browser signs in as the page does (``POST /api/v1/auth/login`` with an API token as the
secret, which sets the session cookie); the pages are then read with that cookie. The checks:
who gets the pages (case builders and supervisors; signed out: 303 to the login page; an
officer or an administrator: a 403 page naming the roles, since a page that answers with a
redirect would send an officer in circles and say nothing), the DOM ids the browser tests and
the scripts rely on, the list's filters and text search, that the statement page holds no
statement content until a justification is given, and the API calls ``static/case.js`` makes
with the session cookie and the ``X-Justification`` header.

Real app, accounts, cookies and encryption; drafts written directly (``tests.factories``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.pages import cases
from app import create_app
from models import Template
from models.tables import AuditEntry
from models.users import Role
from tests.factories import AUDIO, Account, account, confirm, drafted
from tests.pages.html import Page
from workflow.services import Services
from workflow.settings import Settings
from workflow.statements import Edit

WITNESS = "Sarah Jane Holloway"
WHY = "case file 42/2026: preparing the file for the CPS"


@dataclass
class Desk:
    app: Any
    services: Services
    officer: Account
    builder: Account
    supervisor: Account
    admin: Account
    confirmed: str  # officer's, confirmed with the witness
    draft: str  # officer's, still a draft
    missing: str  # officer's missing person report, confirmed

    def browser(self, who: Account | None = None) -> TestClient:
        """A client with no cookies, signed in as ``who`` the way the login page does it."""
        client = TestClient(self.app, follow_redirects=False)
        if who is not None:
            response = client.post(
                "/api/v1/auth/login", json={"name": who.principal.name, "secret": who.token}
            )
            assert response.status_code == 200, response.text
            client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Iterator[Desk]:
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    services: Services = app.state.services
    services.database.migrate()
    officer = account(services, "PC 4471 Morgan")
    confirmed = drafted(
        services,
        officer.principal,
        narrative="I saw a man in a red jacket hit the driver of the van.",
        fields={"witness.name": WITNESS, "incident.location": "Penrith"},
        transcript=f"My name is {WITNESS}. I saw a man in a red jacket hit the driver of the van "
        "in Penrith.",
    )
    services.statements.edit(
        confirmed,
        Edit(narrative="I saw a man in a red coat hit the driver of the white van."),
        actor=officer.principal,
    )
    confirm(services, officer.principal, confirmed)
    draft = drafted(services, officer.principal, narrative="Still a draft about Rosebank.")
    missing = drafted(
        services,
        officer.principal,
        template=Template.MISSING_PERSON,
        narrative="My son has not come home.",
        fields={"missing.name": "Tom Holloway"},
    )
    confirm(services, officer.principal, missing)
    try:
        yield Desk(
            app=app,
            services=services,
            officer=officer,
            builder=account(services, "Casey Builder", Role.CASE_BUILDER),
            supervisor=account(services, "Sam Supervisor", Role.SUPERVISOR),
            admin=account(services, "Ada Admin", Role.ADMIN, unit=None),
            confirmed=confirmed,
            draft=draft,
            missing=missing,
        )
    finally:
        services.close()


def consultations(services: Services, statement_id: str) -> list[AuditEntry]:
    with services.database.session() as session:
        entries = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.statement_id == statement_id)
                .where(AuditEntry.action == "consultation")
                .order_by(AuditEntry.seq)
            )
        )
        session.expunge_all()
    return entries


# --- who gets the pages ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cases", "/cases?q=holloway", "/cases/{id}"])
def test_signed_out_goes_to_the_login_page_and_comes_back(desk: Desk, path: str) -> None:
    path = path.replace("{id}", desk.confirmed)
    response = desk.browser().get(path)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    assert unquote(location.removeprefix("/login?next=")) == path


@pytest.mark.parametrize("who", ["officer", "admin"])
def test_an_officer_or_an_administrator_gets_a_403_page_naming_the_roles(
    desk: Desk, who: str
) -> None:
    client = desk.browser(getattr(desk, who))
    for path in ("/cases", f"/cases/{desk.confirmed}"):
        response = client.get(path)
        # 403, not a redirect: the account is signed in and the page is simply not for it.
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("text/html")
        assert "case builder or supervisor" in response.text
        assert desk.confirmed not in response.text
        page = Page(response.text)
        assert page.find(id="case-list") == [] and page.find(id="justification") == []


def test_the_start_page_sends_a_case_builder_to_the_list(desk: Desk) -> None:
    response = desk.browser(desk.builder).get("/")
    assert response.status_code == 303 and response.headers["location"] == "/cases"


# --- the list ----------------------------------------------------------------------------------


def test_the_list_has_the_filters_and_one_row_per_statement_in_reach(desk: Desk) -> None:
    response = desk.browser(desk.builder).get("/cases")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    page.one("form", id="filters")
    page.one("select", name="status")
    page.one("select", name="template")
    page.one("input", name="officer")
    date = page.one("input", name="date")
    assert date["type"] == "date"
    page.one("input", name="q")
    page.one("button", type="submit")
    # Every control has a label.
    for control in ("q", "status", "template", "officer", "date"):
        page.one("label", for_=f"filter-{control}")
    page.one(id="case-list")
    rows = {row["data-id"] for row in page.find(class_="case-row")}
    # The case builder: confirmed statements of the unit, not the draft.
    assert rows == {desk.confirmed, desk.missing}
    assert page.find("a", href=f"/cases/{desk.confirmed}")
    text = " ".join(page.text)
    for shown in ("PC 4471 Morgan", "20 Nov 2026", "confirmed", "Missing person"):
        assert shown in text
    # The supervisor sees the unit's draft too.
    supervised = Page(desk.browser(desk.supervisor).get("/cases").text)
    assert {r["data-id"] for r in supervised.find(class_="case-row")} == {
        desk.confirmed,
        desk.missing,
        desk.draft,
    }


def test_the_filters_and_the_text_search(desk: Desk) -> None:
    client = desk.browser(desk.builder)

    def rows(**params: str) -> set[str]:
        response = client.get("/cases", params=params)
        assert response.status_code == 200, response.text
        return {r["data-id"] for r in Page(response.text).find(class_="case-row")}

    assert rows(q="HOLLOWAY") == {desk.confirmed, desk.missing}
    assert rows(q="white van") == {desk.confirmed}  # the confirmed text, not the machine draft's
    assert rows(q="rosebank") == set()  # only in a draft the case builder does not reach
    assert rows(template="missing_person") == {desk.missing}
    assert rows(status="submitted") == set()
    assert rows(officer="PC 4471 Morgan", date="2026-11-20") == {desk.confirmed, desk.missing}
    assert rows(date="2026-11-21") == set()
    # The form shows what was searched for.
    page = Page(client.get("/cases", params={"q": "holloway", "status": "confirmed"}).text)
    assert page.one("input", name="q")["value"] == "holloway"
    assert page.one("option", value="confirmed").get("selected") == ""
    # A value the form cannot mean is named on the page, not answered with a bare 422.
    wrong = client.get("/cases", params={"date": "20/11/2026", "status": "lost"})
    assert wrong.status_code == 200
    said = Page(wrong.text)
    errors = " ".join(said.text)
    assert "not a date written as YYYY-MM-DD" in errors and "no status 'lost'" in errors
    assert {r["data-id"] for r in said.find(class_="case-row")} == {
        desk.confirmed,
        desk.missing,
    }
    empty = client.get("/cases", params={"q": "nobody said this"})
    assert "No statement matches" in empty.text


def test_the_list_is_audited_as_a_search(desk: Desk) -> None:
    desk.browser(desk.builder).get("/cases", params={"q": "Holloway"})
    with desk.services.database.session() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.operation == "statement.search")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
        assert entry.actor_name == "Casey Builder"
        assert entry.detail == {"text_search": True, "results": 2, "total": 2}


# --- one statement -----------------------------------------------------------------------------


def test_the_statement_page_asks_why_before_showing_anything(desk: Desk) -> None:
    before = len(consultations(desk.services, desk.confirmed))
    response = desk.browser(desk.builder).get(f"/cases/{desk.confirmed}")
    assert response.status_code == 200
    page = Page(response.text)
    page.one("input", id="justification")
    page.one("label", for_="justification")
    page.one("button", id="open")
    assert page.one(id="case")["data-statement-id"] == desk.confirmed
    for element_id in ("transcript", "fields", "versions", "confirmation", "submission"):
        page.one(id=element_id)
    page.one("audio", id="player")
    page.one("button", id="export-pdf")
    page.one("button", id="export-json")
    page.one("button", id="submit")
    # Nothing of the statement is in the frame, and rendering it consulted nothing.
    for secret in (WITNESS, "Holloway", "red coat", "Penrith"):
        assert secret not in response.text
    assert len(consultations(desk.services, desk.confirmed)) == before
    # Every script and stylesheet it names is served (no inline script or style: the CSP).
    assert "<script>" not in response.text and "<style" not in response.text
    assert " style=" not in response.text
    client = desk.browser(desk.builder)
    for asset in [*page.find("script"), *page.find("link", rel="stylesheet")]:
        url = asset.get("src") or asset["href"]
        served = client.get(url)
        assert served.status_code == 200, url
    csp = response.headers["content-security-policy"]
    assert "media-src 'self' blob:" in csp  # the recording plays from an object URL


def test_a_supervisor_gets_no_export_or_submit_buttons(desk: Desk) -> None:
    page = Page(desk.browser(desk.supervisor).get(f"/cases/{desk.draft}").text)
    page.one("button", id="open")
    assert page.find(id="export-pdf") == page.find(id="export-json") == []
    assert page.find(id="submit") == []
    assert page.one(id="case")["data-can-listen"] == "true"


def test_the_calls_the_statement_page_makes(desk: Desk) -> None:
    """What ``case.js`` does, as HTTP: read with the reason, fetch the audio and the exports
    with it, submit with the session's CSRF token and the reason in the body."""
    client = desk.browser(desk.builder)
    base = f"/api/v1/statements/{desk.confirmed}"
    refused = client.get(base)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "justification_required"
    why = {"X-Justification": WHY}
    body = client.get(base, headers=why).json()
    words = [w for s in body["statement"]["transcript"]["segments"] for w in s["words"]]
    assert words[0] == {"word": " My", "start": 0.0, "end": 0.4, "probability": 0.9}
    assert body["statement"]["fields"]["witness.name"]["value"] == WITNESS
    # The diff's inputs: the machine draft's narrative is the first change's old value.
    change = body["versions"][1]["changes"][0]
    assert change["field"] == "narrative" and "red jacket" in change["old"]
    assert body["confirmation"]["content_sha256"]
    audio = client.get(f"{base}/audio", headers=why)
    assert audio.status_code == 200 and audio.content == AUDIO
    assert client.get(f"{base}/export.pdf", headers=why).content.startswith(b"%PDF")
    exported = client.get(f"{base}/export.json", headers=why)
    assert json.loads(exported.content)["statement_id"] == desk.confirmed
    last = consultations(desk.services, desk.confirmed)[-4:]
    assert [e.operation for e in last] == [
        "statement.view",
        "audio.play",
        "statement.export",
        "statement.export",
    ]
    assert all(e.justification == WHY for e in last)
    submitted = client.post(f"{base}/submit", json={"justification": WHY})
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["status"] == "submitted"
    # No recipient is configured in this test: the submission is recorded, and says so.
    assert [(d["kind"], d["state"]) for d in submitted.json()["submission"]] == [
        ("submission", "no_destination")
    ]
    # Without the CSRF token a cookie cannot submit (another site's form could not either).
    other = desk.browser(desk.builder)
    del other.headers["X-CSRF-Token"]
    again = other.post(f"/api/v1/statements/{desk.missing}/submit", json={"justification": WHY})
    assert again.status_code == 403 and again.json()["error"]["code"] == "csrf_failed"


def test_the_list_pages_keep_the_filters(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases, "PAGE_SIZE", 1)  # two statements match: two pages
    client = desk.browser(desk.builder)
    first = Page(client.get("/cases", params={"q": "holloway"}).text)
    assert len(first.find(class_="case-row")) == 1
    assert first.one("a", rel="next")["href"] == "/cases?q=holloway&page=2"
    assert first.find("a", rel="prev") == []
    second = Page(client.get("/cases?q=holloway&page=2").text)
    assert len(second.find(class_="case-row")) == 1
    assert second.one("a", rel="prev")["href"] == "/cases?q=holloway"
    assert second.find("a", rel="next") == []
    seen = {r["data-id"] for page in (first, second) for r in page.find(class_="case-row")}
    assert seen == {desk.confirmed, desk.missing}
    assert "page 2 of 2" in " ".join(second.text)
