"""Someone probes the API: nothing answers 500, nothing answers outside its schema, and no one
gets in where they should not (issue 8, "probing").

1. schemathesis generates requests for every operation of the OpenAPI description, signed in as
   an officer and signed out, and checks each answer: no 5xx, a declared status, a declared
   content type, a body matching the declared schema.
2. The authorisation matrix (``probing_matrix.py``): every route of the application (walked
   from its routes, so a new one must be classified) x every role and anonymous x the caller's
   own statement, a colleague's and another unit's.
3. Tampered bearer tokens, local and OpenID Connect: all 401, never 500.
4. Session fixation: a cookie planted before sign-in is not adopted; sign-out ends the session
   on the server.
5. CSRF: a cookie-authenticated change without the session's token, with a wrong one, with
   another session's, is 403 ``csrf_failed``; the pages' scripts send it.
6. Audit-chain tampering after real activity, on SQLite and PostgreSQL: ``voice-statement audit
   verify`` exits 1 naming the broken entry, and the administrators' route says the same.

The app is the real one (``app.create_app``) on a real database, called in-process. Its
background runtime (drafting threads) is not started: requests are probed, nothing is
transcribed; statements come from ``tests.factories`` (the real lifecycle, machine draft
written directly).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from jwt.algorithms import RSAAlgorithm
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import delete, select, update
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from app import create_app
from models.tables import AuditEntry
from models.users import Principal, Role
from security import accounts
from tests.conftest import AUDIO_FIXTURES, REPO
from tests.factories import account, confirm, drafted
from tests.reliability.conftest import Report, Scale
from tests.reliability.probing_matrix import (
    CALLERS,
    MATRIX,
    STATEMENT_TARGETS,
    UPLOAD_TARGETS,
    Row,
)
from workflow.pipeline import StatementPipeline
from workflow.services import Services
from workflow.settings import Settings

MG11 = AUDIO_FIXTURES / "mg11_assault.ogg"
WHY = "case file 42/2026: preparing the file for the CPS"
ISSUER = "https://login.example.test/tenant-1/v2.0"
AUDIENCE = "api://voice-statement"
ROLE_MAP = {"VS.Officer": "officer"}

# --- the service under probe ----------------------------------------------------------------


@dataclass
class World:
    """The real app on a real database (runtime not started), with one account per caller."""

    app: FastAPI
    client: TestClient
    services: Services
    tokens: dict[str, str]  # caller -> API token
    signing_key: rsa.RSAPrivateKey  # the OpenID Connect issuer's
    principals: dict[str, Principal]  # account name -> principal

    def bearer(self, caller: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[caller]}"} if caller in self.tokens else {}


ACCOUNTS: dict[str, tuple[tuple[Role, ...], str | None]] = {
    "officer": ((Role.OFFICER,), "north"),  # officer A
    "colleague": ((Role.OFFICER,), "north"),  # officer B
    "other_unit_officer": ((Role.OFFICER,), "south"),  # officer C
    "case_builder": ((Role.CASE_BUILDER,), "north"),
    "supervisor": ((Role.SUPERVISOR,), "north"),
    "administrator": ((Role.ADMIN,), None),
}


def make_world(tmp: Path, database_url: str, pipeline: StatementPipeline) -> World:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = tmp / "jwks.json"
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "key-1", "use": "sig"}]}))
    settings = Settings(
        data_dir=tmp / "data",
        database_url=database_url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_file=jwks,
        oidc_role_map=ROLE_MAP,
    )
    app = create_app(settings, pipeline=pipeline)
    services: Services = app.state.services
    services.database.migrate()  # what the runtime's start would do first
    made = {
        name: account(services, name, *roles, unit=unit) for name, (roles, unit) in ACCOUNTS.items()
    }
    # Not entered as a context manager: the lifespan (drafting threads) never starts.
    client = TestClient(app, follow_redirects=False)
    return World(
        app,
        client,
        services,
        {name: a.token for name, a in made.items()},
        key,
        {name: a.principal for name, a in made.items()},
    )


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, faster_pipeline: StatementPipeline
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("probing")
    _ = faster_pipeline.engine, faster_pipeline.extractor  # loaded: /readyz answers ready
    made = make_world(tmp, f"sqlite:///{tmp / 'service.db'}", faster_pipeline)
    yield made
    made.client.close()
    made.services.close()


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- 1. schemathesis against the OpenAPI description -----------------------------------------


def without_lifespan(app: FastAPI) -> Callable[[Scope, Receive, Send], Any]:
    """``app`` with the ASGI lifespan answered here: the runtime (drafting threads) stays off,
    so nothing the probe uploads is transcribed."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await app(scope, receive, send)

    return wrapped


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operation_labels() -> list[str]:
    """Every operation of the app's OpenAPI description ("GET /path"), read at collection time
    from a throwaway app, so that a new route is probed without editing this file."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp) / "data"))
        paths = app.openapi()["paths"]
        app.state.services.close()
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


OPERATIONS = _operation_labels()


@dataclass
class ProbeTotals:
    operations: set[str] = field(default_factory=set)
    examples: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


PROBE_TOTALS = ProbeTotals()


@pytest.fixture(scope="module")
def probe_world(
    tmp_path_factory: pytest.TempPathFactory, faster_pipeline: StatementPipeline
) -> Iterator[tuple[World, Any, str]]:
    """A world of its own (the probe's failed sign-ins fill its limiter) with one statement of
    the officer's, and the schema loaded from the app's own description."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    made = make_world(tmp, f"sqlite:///{tmp / 'service.db'}", faster_pipeline)
    _ = faster_pipeline.engine, faster_pipeline.extractor  # loaded: /readyz answers ready
    officer = made.principals["officer"]
    statement_id = drafted(made.services, officer, narrative="I saw a man in a red coat.")
    schema = schemathesis.openapi.from_dict(made.app.openapi())
    yield made, schema, statement_id
    made.client.close()
    made.services.close()


@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    label: str,
    probe_world: tuple[World, Any, str],
    scale: Scale,
    reliability_report: Report,
) -> None:
    made, schema, statement_id = probe_world
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    app = without_lifespan(made.app)
    examples = scale.pick(8, 100)
    failures: list[str] = []
    seen = 0

    def probe_as(caller: str) -> None:
        headers = made.bearer(caller)

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def probe(case: Any) -> None:
            nonlocal seen
            # A real statement id every other time, so that the probe gets past the 404.
            if case.path_parameters and "statement_id" in case.path_parameters and seen % 2:
                case.path_parameters["statement_id"] = statement_id
            seen += 1
            response = case.call(app=app, headers=headers)
            key = str(response.status_code)
            PROBE_TOTALS.statuses[key] = PROBE_TOTALS.statuses.get(key, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures.append(
                        f"{caller} {label} -> {response.status_code}: {failure.title}: "
                        f"{str(failure.message)[:300]}"
                    )

        probe()

    for caller in ("officer", "anonymous"):
        probe_as(caller)

    PROBE_TOTALS.operations.add(label)
    PROBE_TOTALS.examples += seen
    PROBE_TOTALS.failures.extend(failures)
    reliability_report.record("probing", "schemathesis_operations", len(PROBE_TOTALS.operations))
    reliability_report.record("probing", "schemathesis_operations_in_schema", len(OPERATIONS))
    reliability_report.record("probing", "schemathesis_examples", PROBE_TOTALS.examples)
    reliability_report.record("probing", "schemathesis_failures", len(PROBE_TOTALS.failures))
    reliability_report.record("probing", "schemathesis_statuses", dict(PROBE_TOTALS.statuses))
    assert seen >= 2
    assert not failures, "\n".join(sorted(set(failures))[:20])


# What the full-size (--long) probe found, kept here so that CI asks it every time: each was a
# 500 (a NUL reaching the audit log; numbers past SQLite's integers).
FOUND_BY_THE_LONG_PROBE = [
    ("GET", "/api/v1/statements?officer=%00%C2%83", {}, 422),
    ("GET", "/api/v1/statements?q=a%00b", {}, 422),
    ("GET", "/api/v1/statements?status=%07", {}, 422),
    ("GET", "/api/v1/statements/{sid}/progress?after=100000000000000000000", {}, 422),
    ("GET", "/api/v1/statements/{sid}/events?after=100000000000000000000", {}, 422),
    ("GET", "/api/v1/statements/{sid}/events", {"Last-Event-ID": "9" * 30}, 200),
    ("GET", "/api/v1/statements/{sid}/events", {"Last-Event-ID": "9" * 19}, 200),
]


@pytest.mark.parametrize(("method", "path", "headers", "status"), FOUND_BY_THE_LONG_PROBE)
def test_what_the_long_probe_found_is_a_clean_answer(
    world: World, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    officer = world.principals["officer"]
    sid = drafted(world.services, officer, narrative="I saw a man in a red coat.")
    response = world.client.request(
        method, path.format(sid=sid), headers={**world.bearer("officer"), **headers}
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert error_code(response) == "invalid_request"


# --- 2. the authorisation matrix --------------------------------------------------------------

STATEMENT_OWNERS = {
    "own_draft": ("officer", False),
    "own_confirmed": ("officer", True),
    "colleague_draft": ("colleague", False),
    "colleague_confirmed": ("colleague", True),
    "other_unit": ("other_unit_officer", True),
}
# Routes that change the statement (or account) they name: each cell gets a fresh one.
CHANGING = ("PATCH", "POST", "PUT")


def route_keys(app: FastAPI) -> list[str]:
    """Every route of ``app`` as "METHOD /path" (a mount as "MOUNT /path"), walked from the
    application's own routes, included routers and all."""
    keys: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            keys.add(f"MOUNT {route.path}")
            continue
        for method in route.methods or ():
            if method != "HEAD":
                keys.add(f"{method} {route.path}")
    return sorted(keys)


def new_statement(world: World, target: str) -> str:
    """A statement of the target's kind, drafted (with its required fields marked not stated,
    so it can be confirmed) or confirmed."""
    from workflow.statements import Edit

    owner, confirmed = STATEMENT_OWNERS[target]
    officer = world.principals[owner]
    sid = drafted(world.services, officer, narrative="I saw a man in a red coat run off.")
    if confirmed:
        confirm(world.services, officer, sid)
    else:
        from models import Template
        from models.statement import unanswered

        world.services.statements.edit(
            sid, Edit(not_stated=tuple(unanswered(Template.MG11, set()))), actor=officer
        )
    return sid


def new_upload(world: World, owner: str) -> str:
    body = b"OggS" + bytes(60)
    response = world.client.post(
        "/api/v1/uploads",
        json={
            "template": "mg11",
            "statement_date": "2026-11-20",
            "size": len(body),
            "sha256": __import__("hashlib").sha256(body).hexdigest(),
            "filename": "interview.ogg",
            "content_type": "audio/ogg",
        },
        headers=world.bearer(owner),
    )
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["id"]
    return upload_id


def sign_in(world: World, name: str) -> tuple[str, str]:
    """A browser session for account ``name``: (cookie value, CSRF token)."""
    response = world.client.post(
        "/api/v1/auth/login", json={"name": name, "secret": world.tokens[name]}
    )
    assert response.status_code == 200, response.text
    cookie = response.cookies.get("vs_session")
    world.client.cookies.clear()  # each request says which session it carries
    assert cookie
    return cookie, str(response.json()["csrf_token"])


@dataclass
class Cell:
    key: str
    caller: str
    target: str | None
    expected: int


def expected_cells(key: str, row: Row) -> list[Cell]:
    _method, path = key.split(" ", 1)
    targets: tuple[str | None, ...] = (None,)
    if "{statement_id}" in path:
        targets = STATEMENT_TARGETS
    elif "{upload_id}" in path:
        targets = UPLOAD_TARGETS
    cells: list[Cell] = []
    for caller in CALLERS:
        statuses = row.cell(caller).split()
        if len(statuses) == 1:
            statuses = statuses * len(targets)
        assert len(statuses) == len(targets), (key, caller, "one status, or one per target")
        cells.extend(Cell(key, caller, t, int(s)) for t, s in zip(targets, statuses, strict=True))
    return cells


def send_cell(world: World, cell: Cell, fixed: dict[str, str], sessions: dict[str, str]) -> Any:
    method, template = cell.key.split(" ", 1)
    row = MATRIX[cell.key]
    account_of = {"officer": "officer", "case_builder": "case_builder",
                  "supervisor": "supervisor", "administrator": "administrator"}  # fmt: skip
    name = account_of.get(cell.caller)
    if row.kind == "api":
        headers = {"X-Justification": WHY, **(world.bearer(name) if name else {})}
    else:
        headers = {"Cookie": f"vs_session={sessions[name]}"} if name else {}
    path = template
    if cell.target in STATEMENT_TARGETS:
        # A request that may change the statement gets a fresh one; a refusal cannot change it.
        changing = method in CHANGING and cell.expected not in (401, 403, 404)
        sid = new_statement(world, cell.target) if changing else fixed[cell.target]
        path = path.replace("{statement_id}", sid)
    elif cell.target in UPLOAD_TARGETS:
        owner = "officer" if cell.target == "own_upload" else "colleague"
        path = path.replace("{upload_id}", new_upload(world, owner))
    if "{name}" in path:
        fresh = f"probe-{uuid.uuid4().hex[:8]}"
        account(world.services, fresh)
        path = path.replace("{name}", fresh)
    if cell.key == "MOUNT /static":
        method, path = "GET", "/static/api.js"
    kwargs: dict[str, Any] = {}
    if cell.key == "POST /api/v1/auth/login":
        kwargs["json"] = (
            {"name": name, "secret": world.tokens[name]}
            if name
            else {"name": "nobody", "secret": "vs_0123456789abcdef_guess"}
        )
        headers = {}
    elif cell.key == "POST /api/v1/statements":
        kwargs["files"] = {"audio": (MG11.name, MG11.read_bytes(), "audio/ogg")}
        kwargs["data"] = {"template": "mg11", "statement_date": "2026-11-20"}
    elif cell.key.startswith("PATCH /api/v1/statements/"):
        kwargs["json"] = {"fields": {"witness.phone": "07700900123"}}
    elif cell.key.endswith("/confirm"):
        kwargs["json"] = {"witness_declaration_accepted": True, "place": "Penrith"}
    elif cell.key.endswith("/submit"):
        kwargs["json"] = {"justification": WHY}
    elif cell.key.endswith("/reassign"):
        kwargs["json"] = {"officer": "colleague"}
    elif cell.key.endswith("/erase"):
        kwargs["json"] = {"justification": "court order 7/2026"}
    elif cell.key == "POST /api/v1/uploads":
        kwargs["json"] = {"size": 4, "sha256": "0" * 64}
    elif cell.key == "PUT /api/v1/uploads/{upload_id}":
        path += "?offset=0"
        kwargs["content"] = b"OggS"
        headers["Content-Type"] = "application/octet-stream"
    elif cell.key == "POST /v1/audio/transcriptions":
        kwargs["files"] = {"file": ("notes.wav", b"these are notes, not audio", "audio/wav")}
        kwargs["data"] = {"model": "whisper-1"}
    elif cell.key == "POST /api/v1/admin/users":
        kwargs["json"] = {"name": f"new-{uuid.uuid4().hex[:8]}", "roles": ["officer"]}
    elif cell.key == "PUT /api/v1/admin/retention":
        kwargs["json"] = {"submitted_days": 2192, "unconfirmed_days": 30}
    world.client.cookies.clear()  # only the cookie this cell names is sent
    return world.client.request(method, path, headers=headers, **kwargs)


def test_the_authorisation_matrix_holds_for_every_route_role_and_statement(
    world: World, reliability_report: Report
) -> None:
    keys = route_keys(world.app)
    unclassified = [k for k in keys if k not in MATRIX]
    assert not unclassified, f"routes missing from probing_matrix.MATRIX: {unclassified}"
    stale = [k for k in MATRIX if k not in keys]
    assert not stale, f"MATRIX names routes the app does not have: {stale}"

    fixed = {target: new_statement(world, target) for target in STATEMENT_TARGETS}
    sessions = {
        name: sign_in(world, name)[0]
        for name in ("officer", "case_builder", "supervisor", "administrator")
    }
    cells = [cell for key in keys for cell in expected_cells(key, MATRIX[key])]
    mismatches = []
    for cell in cells:
        response = send_cell(world, cell, fixed, sessions)
        if response.status_code != cell.expected:
            mismatches.append(
                f"{cell.key} as {cell.caller} on {cell.target}: {response.status_code} "
                f"(expected {cell.expected}) {response.text[:160]}"
            )
        elif cell.expected in (401, 403, 404) and MATRIX[cell.key].kind == "api":
            # A refusal says nothing about the statement: the error envelope and nothing else.
            assert set(response.json()) == {"error"}, (cell, response.text)
    reliability_report.record("probing", "matrix_routes", len(keys))
    reliability_report.record("probing", "matrix_cells", len(cells))
    reliability_report.record("probing", "matrix_mismatches", len(mismatches))
    assert not mismatches, "\n".join(mismatches)


# --- 3. tampered bearer tokens ---------------------------------------------------------------


def _jwt(world: World, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "oidc-officer-1",
                              "iat": now, "nbf": now, "exp": now + 600, "name": "PC Shah",
                              "unit": "north", "roles": ["VS.Officer"]}  # fmt: skip
    claims.update(overrides)
    return jwt.encode(claims, world.signing_key, algorithm="RS256", headers={"kid": "key-1"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_tokens_are_all_401_never_500(world: World, reliability_report: Report) -> None:
    token, other = world.tokens["officer"], world.tokens["colleague"]
    good_jwt = _jwt(world)
    header, body, signature = good_jwt.split(".")
    wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with world.services.database.session() as session:
        revoked = accounts.issue_token(session, "colleague")
    world.client.post(  # the administrator revokes the account behind ``revoked``'s twin
        "/api/v1/admin/users/other_unit_officer/revoke", headers=world.bearer("administrator")
    )
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    tampered = {
        "changed character": flipped,
        "changed character in the id": token[:5] + ("0" if token[5] != "0" else "1") + token[6:],
        "truncated": token[:-6],
        "extended": token + "x",
        "another user's prefix with this secret": other[:20] + token[20:],
        "revoked account's token": world.tokens["other_unit_officer"],
        "empty bearer": "",
        "jwt alg none": f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{body}.",
        "jwt wrong key": jwt.encode(
            json.loads(base64.urlsafe_b64decode(body + "==")),
            wrong_key,
            algorithm="RS256",
            headers={"kid": "key-1"},
        ),
        "jwt expired": _jwt(
            world,
            exp=int(time.time()) - 3600,
            iat=int(time.time()) - 7200,
            nbf=int(time.time()) - 7200,
        ),
        "jwt wrong audience": _jwt(world, aud="api://someone-else"),
        "jwt wrong issuer": _jwt(world, iss="https://evil.example.test/"),
        "jwt body changed": f"{header}.{_b64(json.dumps({'sub': 'admin'}).encode())}.{signature}",
        "jwt hs256 (an algorithm not accepted)": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600},
            "not-the-key-but-32-bytes-long-ok",
            algorithm="HS256",
        ),
        "garbage": "%%%not-a-token%%%",
    }
    # The untampered ones are accepted: the refusals below are the tampering's doing.
    assert (
        world.client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    assert (
        world.client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {good_jwt}"}
        ).status_code
        == 200
    )
    assert (
        world.client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {revoked}"}
        ).status_code
        == 200
    )
    refused = {}
    for what, value in tampered.items():
        for path in ("/api/v1/auth/me", "/api/v1/statements"):
            response = world.client.get(path, headers={"Authorization": f"Bearer {value}"})
            refused[(what, path)] = response.status_code
            assert response.status_code == 401, (what, path, response.text)
            assert error_code(response) != "internal_error", (what, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # A valid token of another role does not lend its role: the administrator reads no statement.
    admin = world.client.get("/api/v1/statements", headers=world.bearer("administrator"))
    assert admin.status_code == 403
    reliability_report.record("probing", "tampered_tokens_tried", len(refused))
    reliability_report.record("probing", "tampered_tokens_accepted", 0)


# --- 4. session fixation ------------------------------------------------------------------------


def test_a_planted_session_cookie_is_not_adopted_and_sign_out_ends_it(world: World) -> None:
    planted = "attacker-chosen-" + "a" * 40
    world.client.cookies.clear()
    login = world.client.post(
        "/api/v1/auth/login",
        json={"name": "colleague", "secret": world.tokens["colleague"]},
        headers={"Cookie": f"vs_session={planted}"},
    )
    assert login.status_code == 200, login.text
    issued = login.cookies.get("vs_session")
    csrf = login.json()["csrf_token"]
    world.client.cookies.clear()
    assert issued and issued != planted
    planted_use = world.client.get("/api/v1/auth/me", headers={"Cookie": f"vs_session={planted}"})
    assert planted_use.status_code == 401
    me = world.client.get("/api/v1/auth/me", headers={"Cookie": f"vs_session={issued}"})
    assert me.status_code == 200 and me.json()["user"]["name"] == "colleague"
    # A second sign-in issues another value; the first session is not silently extended into it.
    again = world.client.post(
        "/api/v1/auth/login", json={"name": "colleague", "secret": world.tokens["colleague"]}
    )
    second = again.cookies.get("vs_session")
    world.client.cookies.clear()
    assert second and second != issued
    out = world.client.post(
        "/api/v1/auth/logout",
        headers={"Cookie": f"vs_session={issued}", "X-CSRF-Token": csrf},
    )
    world.client.cookies.clear()
    assert out.status_code == 204
    replay = world.client.get("/api/v1/auth/me", headers={"Cookie": f"vs_session={issued}"})
    assert replay.status_code == 401 and error_code(replay) == "session_expired"
    page = world.client.get("/officer", headers={"Cookie": f"vs_session={issued}"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert (
        world.client.get("/api/v1/auth/me", headers={"Cookie": f"vs_session={second}"}).status_code
        == 200
    )


# --- 5. CSRF on the pages ----------------------------------------------------------------------


def test_a_cookie_authenticated_change_needs_the_sessions_own_csrf_token(world: World) -> None:
    cookie, csrf = sign_in(world, "officer")
    _, other_csrf = sign_in(world, "colleague")
    sid = new_statement(world, "own_draft")
    url = f"/api/v1/statements/{sid}"
    change = {"fields": {"witness.phone": "07700900123"}}
    for sent in (None, "", "wrong-" + csrf[6:], other_csrf):
        headers = {"Cookie": f"vs_session={cookie}"}
        if sent is not None:
            headers["X-CSRF-Token"] = sent
        response = world.client.patch(url, json=change, headers=headers)
        world.client.cookies.clear()
        assert response.status_code == 403, (sent, response.text)
        assert error_code(response) == "csrf_failed"
    # A cross-site Origin: the app does not check Origin; the cookie is SameSite=Strict (a
    # browser does not send it cross-site) and the token is the second lock. What holds: even
    # with the cookie, a cross-site request that lacks the token is refused.
    cross = world.client.patch(
        url,
        json=change,
        headers={"Cookie": f"vs_session={cookie}", "Origin": "https://evil.example.test"},
    )
    world.client.cookies.clear()
    assert cross.status_code == 403 and error_code(cross) == "csrf_failed"
    login = world.client.post(
        "/api/v1/auth/login", json={"name": "officer", "secret": world.tokens["officer"]}
    )
    world.client.cookies.clear()
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    assert "httponly" in login.headers["set-cookie"].lower()
    ok = world.client.patch(
        url, json=change, headers={"Cookie": f"vs_session={cookie}", "X-CSRF-Token": csrf}
    )
    world.client.cookies.clear()
    assert ok.status_code == 200, ok.text
    # The page carries the session's token, and the pages' scripts send it with every change.
    page = world.client.get(
        f"/officer/statements/{sid}", headers={"Cookie": f"vs_session={cookie}"}
    )
    world.client.cookies.clear()
    assert f'<meta name="csrf-token" content="{csrf}">' in page.text
    static = REPO / "api" / "pages" / "static"
    api_js = (static / "api.js").read_text()
    assert 'if (CHANGES.has(method)) headers.set("X-CSRF-Token", csrfToken());' in api_js
    for script in static.glob("*.js"):
        source = script.read_text()
        for match in re.finditer(r"fetch\(([^,)]*)", source):
            # Every fetch that may change something goes through api(); the raw fetches are
            # reads, api()'s own, and the sign-in (no session yet).
            window = source[match.start() : match.start() + 300]
            if re.search(r'method:\s*"(POST|PUT|PATCH|DELETE)"', window):
                assert script.name == "login.js" and "/api/v1/auth/login" in window, (
                    script.name,
                    window[:120],
                )


# --- 6. audit-chain tampering, end to end -----------------------------------------------------


def _cli_verify(env: dict[str, str], *, subprocess_run: bool) -> tuple[int, str]:
    """``voice-statement audit verify``: as a real process, or through its entry point here
    (the same ``app.main``; a process start costs seconds on a small machine)."""
    if subprocess_run:
        done = subprocess.run(
            [sys.executable, "-m", "app", "audit", "verify"],
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout + done.stderr
    import contextlib

    from app import main

    out = io.StringIO()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out):
            code = main(["audit", "verify"])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue()


def test_audit_tampering_is_detected_by_the_cli_and_the_admin_route(
    tmp_path: Path,
    database_url: str,
    faster_pipeline: StatementPipeline,
    reliability_report: Report,
) -> None:
    made = make_world(tmp_path, database_url, faster_pipeline)
    try:
        # Real activity through the API: reads, an edit, a refused read, an account change.
        sid = new_statement(made, "own_draft")
        officer = made.bearer("officer")
        assert made.client.get(f"/api/v1/statements/{sid}", headers=officer).status_code == 200
        assert (
            made.client.patch(
                f"/api/v1/statements/{sid}",
                json={"fields": {"witness.phone": "07700900123"}},
                headers=officer,
            ).status_code
            == 200
        )
        made.client.get(f"/api/v1/statements/{sid}/audio", headers=officer)
        made.client.post(
            "/api/v1/admin/users/colleague/tokens", headers=made.bearer("administrator")
        )
        admin = made.bearer("administrator")
        env = {
            "VOICE_STATEMENT_DATABASE_URL": database_url,
            "VOICE_STATEMENT_DATA_DIR": str(tmp_path / "data"),
        }
        with made.services.database.session() as session:
            seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        assert len(seqs) >= 4, seqs
        middle = seqs[len(seqs) // 2]

        def verify_both(*, expect_ok: bool, real_process: bool = False) -> str:
            code, output = _cli_verify(env, subprocess_run=real_process)
            route = made.client.get("/api/v1/admin/audit/verify", headers=admin).json()
            assert (code == 0) is expect_ok, output
            assert route["ok"] is expect_ok, route
            if not expect_ok:
                assert str(route["first_broken"]) in output, (output, route)
                assert route["reason"]
            return output

        verify_both(expect_ok=True)
        db = made.services.database
        # Someone who can alter the database (a DBA) first drops the append-only triggers.
        from tests.security.test_audit import _drop_triggers

        _drop_triggers(db)
        broken: dict[str, str] = {}

        # 1. a field changed (the justification of the middle entry)
        with db.session() as session:
            original = session.scalar(select(AuditEntry.operation).where(AuditEntry.seq == middle))
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.seq == middle)
                .values(operation="statement.nothing")
            )
        broken["field changed"] = verify_both(expect_ok=False, real_process=True)
        assert f"entry {middle}" in broken["field changed"]
        with db.session() as session:
            session.execute(
                update(AuditEntry).where(AuditEntry.seq == middle).values(operation=original)
            )
        verify_both(expect_ok=True)

        # 2. a middle row deleted
        with db.session() as session:
            row = session.get(AuditEntry, middle)
            assert row is not None
            saved = {c.name: getattr(row, c.name) for c in AuditEntry.__table__.columns}
            session.execute(delete(AuditEntry).where(AuditEntry.seq == middle))
        broken["row deleted"] = verify_both(expect_ok=False)
        assert str(middle) in broken["row deleted"]
        with db.session() as session:
            session.add(AuditEntry(**saved))
        verify_both(expect_ok=True)

        # 3. two rows reordered (their seq swapped)
        first, second = middle, middle + 1
        with db.session() as session:
            session.execute(update(AuditEntry).where(AuditEntry.seq == first).values(seq=-1))
            session.execute(update(AuditEntry).where(AuditEntry.seq == second).values(seq=first))
            session.execute(update(AuditEntry).where(AuditEntry.seq == -1).values(seq=second))
        broken["rows reordered"] = verify_both(expect_ok=False)
        assert f"entry {first}" in broken["rows reordered"]
        reliability_report.record(
            "probing", f"audit_tampering_detected_{made.services.database.dialect}", sorted(broken)
        )
    finally:
        made.client.close()
        made.services.close()
