"""Who may see what, through the real service: accounts with real tokens, statements drafted by
the real pipeline, on SQLite and on PostgreSQL.

The rules (workflow/access.py): an officer reaches only their own statements; a case builder
the confirmed ones of their unit and cannot edit; a supervisor every one of their unit, and
reassigns; an administrator none. A statement out of reach is a 404, the same as one that does
not exist.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import create_app
from models import Principal, Role
from models.tables import StatementRecord, StatementStatus
from security import accounts
from tests.conftest import AUDIO_FIXTURES, _postgres_unreachable, make_postgres_database
from workflow import access
from workflow.access import Permission
from workflow.database import Database
from workflow.pipeline import StatementPipeline
from workflow.settings import Settings

MG11 = AUDIO_FIXTURES / "mg11_assault.ogg"
WHY = {"X-Justification": "case file 42/2026: preparing the file for the CPS"}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    a_draft: str  # officer A's, drafted, never confirmed
    a_confirmed: str  # officer A's, confirmed with the witness
    b_draft: str  # officer B's (same unit as A)

    def as_(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}


ACCOUNTS: dict[str, tuple[list[Role], str | None]] = {
    "officer_a": ([Role.OFFICER], "north"),
    "officer_b": ([Role.OFFICER], "north"),
    "case_builder": ([Role.CASE_BUILDER], "north"),
    "case_builder_south": ([Role.CASE_BUILDER], "south"),
    "supervisor": ([Role.SUPERVISOR], "north"),
    "admin": ([Role.ADMIN], None),
}


def _upload(world_client: TestClient, token: str) -> str:
    with MG11.open("rb") as audio:
        response = world_client.post(
            "/api/v1/statements",
            files={"audio": (MG11.name, audio, "audio/ogg")},
            data={"template": "mg11", "statement_date": "2026-11-20"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 202, response.text
    sid: str = response.json()["id"]
    # The progress endpoint ends the wait once the draft is ready.
    for _ in range(600):
        progress = world_client.get(
            f"/api/v1/statements/{sid}/progress", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if progress["done"]:
            break
        time.sleep(0.1)
    assert progress["status"] == "draft", progress
    return sid


@pytest.fixture(scope="module")
def access_pipeline(data_dir: Path) -> StatementPipeline:
    return StatementPipeline(Settings(data_dir=data_dir))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    access_pipeline: StatementPipeline,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"access-{request.param}")
    drop: Callable[[], None] | None = None
    if request.param == "postgresql":
        if reason := _postgres_unreachable():
            pytest.skip(reason)
        url, drop = make_postgres_database()
    else:
        url = f"sqlite:///{tmp / 'service.db'}"
    settings = Settings(data_dir=tmp / "data", database_url=url, poll_interval_s=0.1)
    app = create_app(settings, pipeline=access_pipeline)
    with TestClient(app) as client:
        services = app.state.services
        tokens = {}
        with services.database.session() as session:
            for name, (roles, unit) in ACCOUNTS.items():
                _, tokens[name] = accounts.add_user(session, name, roles, unit)
        a_draft = _upload(client, tokens["officer_a"])
        a_confirmed = _upload(client, tokens["officer_a"])
        b_draft = _upload(client, tokens["officer_b"])
        confirmed = client.post(
            f"/api/v1/statements/{a_confirmed}/confirm",
            json={"witness_declaration_accepted": True, "place": "Penrith"},
            headers={"Authorization": f"Bearer {tokens['officer_a']}"},
        )
        assert confirmed.status_code == 200, confirmed.text
        yield World(client, tokens, a_draft, a_confirmed, b_draft)
    if drop is not None:
        drop()


# --- no token ------------------------------------------------------------------------------


def test_every_endpoint_but_healthz_needs_a_token(world: World) -> None:
    # Every operation the application declares (its OpenAPI description, built from the routes).
    paths = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    checked = 0
    for template, operations in paths.items():
        path = template.replace("{statement_id}", world.a_draft).replace("{name}", "officer_b")
        for method in operations:
            response = world.client.request(method.upper(), path)
            if template == "/healthz":
                assert response.status_code == 200
                continue
            if template == "/api/v1/auth/login":  # where a credential is exchanged: no body, no go
                assert response.status_code == 422
                continue
            if template == "/api/v1/auth/logout":  # only drops the caller's own cookie, if any
                assert response.status_code == 204 and not response.content
                continue
            assert response.status_code == 401, (method, template, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json()["error"]["code"]
            checked += 1
    assert checked >= 24  # the statement, admin, auth and transcription routes


def test_a_wrong_token_is_401_not_403(world: World) -> None:
    bad = {"Authorization": "Bearer vs_0123456789abcdef_notthesecret"}
    response = world.client.get(f"/api/v1/statements/{world.a_draft}", headers=bad)
    assert response.status_code == 401


# --- officer A against officer B ------------------------------------------------------------

READS = ["", "/audio", "/export.json", "/export.pdf", "/progress", "/integrity", "/events"]


@pytest.mark.parametrize("suffix", READS)
def test_another_officers_statement_is_not_found(world: World, suffix: str) -> None:
    url = f"/api/v1/statements/{world.a_draft}{suffix}"
    # Even with a justification: an officer's role does not reach others' statements.
    response = world.client.get(url, headers=world.as_("officer_b", **WHY))
    assert response.status_code == 404, response.text
    unknown = world.client.get(
        f"/api/v1/statements/00000000-0000-0000-0000-000000000000{suffix}",
        headers=world.as_("officer_b", **WHY),
    )
    # No existence oracle: the same status and the same kind of body as a missing id.
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == response.json()["error"]["code"] == "not_found"


def test_another_officer_cannot_edit_confirm_or_submit(world: World) -> None:
    base = f"/api/v1/statements/{world.a_draft}"
    headers = world.as_("officer_b")
    edit = world.client.patch(
        base, json={"fields": {"witness.phone": "07700900123"}}, headers=headers
    )
    confirm = world.client.post(
        f"{base}/confirm", json={"witness_declaration_accepted": True}, headers=headers
    )
    submit = world.client.post(f"/api/v1/statements/{world.a_confirmed}/submit", headers=headers)
    assert [edit.status_code, confirm.status_code, submit.status_code] == [404, 404, 404]
    own = world.client.get(base, headers=world.as_("officer_a")).json()
    assert own["current_version"] == 1 and own["status"] == "draft"  # nothing changed


def test_an_officer_lists_only_their_own(world: World) -> None:
    listed = world.client.get("/api/v1/statements", headers=world.as_("officer_b")).json()
    assert {item["id"] for item in listed["items"]} == {world.b_draft}
    assert listed["total"] == 1
    mine = world.client.get("/api/v1/statements", headers=world.as_("officer_a")).json()
    assert {item["id"] for item in mine["items"]} == {world.a_draft, world.a_confirmed}


def test_the_owner_reads_without_a_justification(world: World) -> None:
    response = world.client.get(
        f"/api/v1/statements/{world.a_draft}", headers=world.as_("officer_a")
    )
    assert response.status_code == 200
    assert response.json()["officer"] == "officer_a"


# --- case builder ---------------------------------------------------------------------------


def test_a_case_builder_reads_confirmed_statements_of_their_unit_with_a_reason(
    world: World,
) -> None:
    url = f"/api/v1/statements/{world.a_confirmed}"
    without = world.client.get(url, headers=world.as_("case_builder"))
    assert without.status_code == 400
    assert without.json()["error"]["code"] == "justification_required"
    with_reason = world.client.get(url, headers=world.as_("case_builder", **WHY))
    assert with_reason.status_code == 200 and with_reason.json()["status"] == "confirmed"
    pdf = world.client.get(f"{url}/export.pdf", headers=world.as_("case_builder", **WHY))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = world.client.get("/api/v1/statements", headers=world.as_("case_builder")).json()
    assert {item["id"] for item in listed["items"]} == {world.a_confirmed}


def test_a_case_builder_sees_no_drafts_and_no_other_unit(world: World) -> None:
    draft = world.client.get(
        f"/api/v1/statements/{world.a_draft}", headers=world.as_("case_builder", **WHY)
    )
    other_unit = world.client.get(
        f"/api/v1/statements/{world.a_confirmed}", headers=world.as_("case_builder_south", **WHY)
    )
    assert draft.status_code == 404 and other_unit.status_code == 404


def test_a_case_builder_cannot_edit(world: World) -> None:
    for sid in (world.a_confirmed, world.a_draft):
        response = world.client.patch(
            f"/api/v1/statements/{sid}",
            json={"fields": {"witness.phone": "07700900123"}},
            headers=world.as_("case_builder", **WHY),
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
        assert "officer" in response.json()["error"]["message"]


# --- supervisor and administrator -----------------------------------------------------------


def test_a_supervisor_reads_the_unit_but_cannot_edit(world: World) -> None:
    read = world.client.get(
        f"/api/v1/statements/{world.b_draft}", headers=world.as_("supervisor", **WHY)
    )
    assert read.status_code == 200
    edit = world.client.patch(
        f"/api/v1/statements/{world.b_draft}",
        json={"fields": {"witness.phone": "07700900123"}},
        headers=world.as_("supervisor", **WHY),
    )
    assert edit.status_code == 403


def test_an_administrator_reads_no_statement(world: World) -> None:
    for url in (f"/api/v1/statements/{world.a_confirmed}", "/api/v1/statements"):
        response = world.client.get(url, headers=world.as_("admin", **WHY))
        assert response.status_code == 403, url
    audit_log = world.client.get("/api/v1/admin/audit", headers=world.as_("admin"))
    assert audit_log.status_code == 200 and audit_log.json()["total"] > 0


def test_non_administrators_cannot_reach_the_audit_log_or_accounts(world: World) -> None:
    for who in ("officer_a", "case_builder", "supervisor"):
        for url in ("/api/v1/admin/audit", "/api/v1/admin/users", "/api/v1/admin/retention"):
            assert world.client.get(url, headers=world.as_(who)).status_code == 403, (who, url)


def test_a_supervisor_reassigns_within_the_unit(world: World) -> None:
    """Runs last of the module's tests on this statement: it changes the owner."""
    sid = world.b_draft
    refused = world.client.post(
        f"/api/v1/statements/{sid}/reassign",
        json={"officer": "case_builder"},  # not an officer
        headers=world.as_("supervisor"),
    )
    assert refused.status_code == 422
    moved = world.client.post(
        f"/api/v1/statements/{sid}/reassign",
        json={"officer": "officer_a"},
        headers=world.as_("supervisor"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["officer"] == "officer_a"
    assert (
        world.client.get(f"/api/v1/statements/{sid}", headers=world.as_("officer_b")).status_code
        == 404
    )
    assert (
        world.client.get(f"/api/v1/statements/{sid}", headers=world.as_("officer_a")).status_code
        == 200
    )
    by_officer = world.client.post(
        f"/api/v1/statements/{sid}/reassign",
        json={"officer": "officer_b"},
        headers=world.as_("officer_a"),
    )
    assert by_officer.status_code == 403


# --- the rules, SQL against Python ----------------------------------------------------------


def test_the_sql_filter_and_the_python_rule_agree(database: Database) -> None:
    """Every principal shape against every statement shape, for every permission."""
    with database.session() as session:
        for status, owner, unit in itertools.product(
            list(StatementStatus), ["u1", "u2", None], ["north", "south", None]
        ):
            session.add(
                StatementRecord(
                    id=str(uuid.uuid4()),
                    status=status.value,
                    template="mg11",
                    statement_date=date(2026, 11, 20),
                    officer=owner or "legacy",
                    officer_id=owner,
                    unit=unit,
                    audio_key="k",
                    audio_sha256="0" * 64,
                    audio_bytes=1,
                )
            )
    role_sets = [frozenset(c) for n in range(3) for c in itertools.combinations(list(Role), n)]
    principals = [
        Principal(user_id=uid, name=uid, roles=roles, unit=unit)
        for roles in role_sets
        for uid in ("u1", "u2")
        for unit in ("north", None)
    ]
    with database.session() as session:
        records = list(session.scalars(select(StatementRecord)))
        for principal, permission in itertools.product(principals, list(Permission)):
            by_sql = set(
                session.scalars(
                    select(StatementRecord.id).where(access.visible(principal, permission))
                )
            )
            by_python = {r.id for r in records if access.reaches(principal, permission, r)}
            assert by_sql == by_python, (principal, permission)
    # and the rules do what they say on a few hand-picked cases
    officer = Principal(user_id="u1", name="u1", roles=frozenset({Role.OFFICER}), unit="north")
    assert all(r.officer_id == "u1" for r in records if access.reaches(officer, Permission.READ, r))
