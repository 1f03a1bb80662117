"""Local accounts end to end, on SQLite and on PostgreSQL: API tokens (argon2 only at rest,
revocation immediate despite the verified-token cache), web sessions (cookie flags, CSRF,
expiry), the role dependency and the administrators' user routes with their audit entries.

The app is the smallest that holds the real pieces: the real Services (database, settings), the
auth and admin routers, the error handlers, the security headers, and two protected routes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from api import admin, auth
from api.auth import CurrentUser, principal_json, require_roles
from api.errors import install_error_handlers
from api.security_headers import install_security
from models.tables import ApiToken, AuditEntry, User, WebSession
from models.users import Principal, Role
from security import accounts, audit
from workflow.services import Services
from workflow.settings import Settings

PASSWORD = "correct horse battery staple"


def make_app(services: Services) -> FastAPI:
    """The auth and admin routers, a route any signed-in caller may use (GET and POST) and one
    only case builders and supervisors may."""
    app = FastAPI()
    app.state.services = services
    install_error_handlers(app)
    install_security(app)
    app.include_router(auth.router)
    app.include_router(admin.router)

    @app.get("/api/v1/ping")
    def ping(user: CurrentUser) -> dict[str, Any]:
        return {"user": principal_json(user)}

    @app.post("/api/v1/ping")
    def ping_change(user: CurrentUser) -> dict[str, Any]:
        return {"changed_by": user.name}

    @app.get("/api/v1/cases")
    def cases(
        user: Annotated[Principal, Depends(require_roles(Role.CASE_BUILDER, Role.SUPERVISOR))],
    ) -> dict[str, Any]:
        return {"user": user.name}

    return app


def make_services(tmp_path: Path, database_url: str, **settings: Any) -> Services:
    services = Services(Settings(data_dir=tmp_path / "data", database_url=database_url, **settings))
    services.database.migrate()
    return services


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = make_services(tmp_path, database_url)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(make_app(services)) as test_client:
        yield test_client


def add(services: Services, name: str, *roles: Role, unit: str | None = "north") -> str:
    with services.database.session() as session:
        _, token = accounts.add_user(session, name, roles or (Role.OFFICER,), unit)
    return token


# --- bearer tokens --------------------------------------------------------------------------


def test_no_credentials_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/ping")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_a_token_stands_for_its_user(client: TestClient, services: Services) -> None:
    token = add(services, "PC 4521 Dawson", Role.OFFICER, unit="north")
    assert token.startswith("vs_") and accounts.parse_token(token) is not None
    response = client.get("/api/v1/ping", headers=bearer(token))
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    with services.database.session() as session:
        row = session.scalar(select(User).where(User.name == "PC 4521 Dawson"))
        assert row is not None
        assert user == {
            "id": row.id,
            "name": "PC 4521 Dawson",
            "roles": ["officer"],
            "unit": "north",
            "via": "token",
        }


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # right id, wrong secret
        lambda t: "vs_" + "0" * 16 + t[19:],  # unknown id, the real secret
        lambda t: "vs_nothex_" + t[20:],  # not the token shape at all
        lambda t: t + "x",  # trailing junk
    ],
)
def test_a_wrong_token_is_401(client: TestClient, services: Services, mangle: Any) -> None:
    token = add(services, "officer")
    response = client.get("/api/v1/ping", headers=bearer(mangle(token)))
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_bearer_header_of_another_scheme_is_401(client: TestClient, services: Services) -> None:
    token = add(services, "officer")
    response = client.get("/api/v1/ping", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_revocation_is_immediate_although_the_token_is_cached(
    client: TestClient, services: Services
) -> None:
    admin_token = add(services, "admin", Role.ADMIN, unit=None)
    token = add(services, "officer")
    digest = hashlib.sha256(token.encode()).hexdigest()
    accounts.clear_token_cache()
    assert client.get("/api/v1/ping", headers=bearer(token)).status_code == 200
    assert accounts._verified.get(digest) is not None  # argon2 will not run for it again
    assert client.get("/api/v1/ping", headers=bearer(token)).status_code == 200

    revoked = client.post("/api/v1/admin/users/officer/revoke", headers=bearer(admin_token))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["user"]["revoked_at"] is not None
    assert accounts._verified.get(digest) is not None  # still cached: the DB check decides
    response = client.get("/api/v1/ping", headers=bearer(token))
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_a_token_revoked_in_the_database_by_another_process_is_refused_at_once(
    client: TestClient, services: Services
) -> None:
    token = add(services, "officer")
    assert client.get("/api/v1/ping", headers=bearer(token)).status_code == 200
    token_id = token[3:19]
    with services.database.session() as session:
        session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=datetime.now(UTC))
        )
    assert client.get("/api/v1/ping", headers=bearer(token)).status_code == 401


def test_tokens_are_stored_only_as_argon2_hashes(services: Services, tmp_path: Path) -> None:
    token = add(services, "officer")
    parsed = accounts.parse_token(token)
    assert parsed is not None
    token_id, secret = parsed
    with services.database.session() as session:
        rows = session.execute(text("SELECT * FROM api_tokens")).mappings().all()
        assert len(rows) == 1
        row = dict(rows[0])
    assert row["id"] == token_id
    assert row["secret_hash"].startswith("$argon2id$")
    assert PasswordHasher().verify(row["secret_hash"], secret)
    assert all(secret not in str(value) for value in row.values())
    if services.database.dialect == "sqlite":
        # Nothing in the database files holds the secret, in any column or page.
        files = list((tmp_path).glob("voice-statement.db*"))
        assert files
        assert all(secret.encode() not in f.read_bytes() for f in files)


def test_last_used_is_written_at_most_once_a_minute(client: TestClient, services: Services) -> None:
    token = add(services, "officer")
    token_id = token[3:19]

    def last_used() -> datetime | None:
        with services.database.session() as session:
            row = session.get(ApiToken, token_id)
            assert row is not None
            return row.last_used_at

    assert last_used() is None
    client.get("/api/v1/ping", headers=bearer(token))
    first = last_used()
    assert first is not None
    client.get("/api/v1/ping", headers=bearer(token))
    assert last_used() == first
    with services.database.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    client.get("/api/v1/ping", headers=bearer(token))
    later = last_used()
    assert later is not None and later >= first


# --- roles ----------------------------------------------------------------------------------


def test_a_route_needing_roles_is_403_for_others(client: TestClient, services: Services) -> None:
    officer = add(services, "officer", Role.OFFICER)
    supervisor = add(services, "sergeant", Role.SUPERVISOR)
    response = client.get("/api/v1/cases", headers=bearer(officer))
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "forbidden",
        "message": "this needs the case_builder or supervisor role",
    }
    assert client.get("/api/v1/cases", headers=bearer(supervisor)).status_code == 200
    assert client.get("/api/v1/cases").status_code == 401


# --- web sessions ---------------------------------------------------------------------------


def sign_in(client: TestClient, name: str, secret: str) -> Any:
    return client.post("/api/v1/auth/login", json={"name": name, "secret": secret})


def cookie_attributes(response: Any) -> dict[str, str]:
    header = response.headers["set-cookie"]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    assert name_value.startswith("vs_session=")
    found: dict[str, str] = {}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        found[key.lower()] = value
    return found


def test_sign_in_sets_a_strict_http_only_cookie(client: TestClient, services: Services) -> None:
    add(services, "officer")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    response = sign_in(client, "officer", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["name"] == "officer" and body["user"]["via"] == "session"
    assert len(body["csrf_token"]) >= 40
    attributes = cookie_attributes(response)
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "strict"
    assert attributes["path"] == "/"
    assert "secure" not in attributes  # plain http, cookie_secure unset
    assert int(attributes["max-age"]) == services.settings.session_ttl_s

    # Only the SHA-256 of the cookie is kept.
    cookie = client.cookies["vs_session"]
    with services.database.session() as session:
        stored = session.scalars(select(WebSession)).all()
    assert [row.id_sha256 for row in stored] == [hashlib.sha256(cookie.encode()).hexdigest()]

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["via"] == "session"


def test_the_cookie_is_secure_over_https_or_when_configured(
    tmp_path: Path, database_url: str
) -> None:
    services = make_services(tmp_path, database_url)
    add(services, "officer")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    try:
        with TestClient(make_app(services), base_url="https://testserver") as client:
            response = sign_in(client, "officer", PASSWORD)
            assert response.status_code == 200
            assert "secure" in cookie_attributes(response)
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        services.settings.cookie_secure = True
        with TestClient(make_app(services)) as client:
            assert "secure" in cookie_attributes(sign_in(client, "officer", PASSWORD))
        services.settings.cookie_secure = False
        with TestClient(make_app(services), base_url="https://testserver") as client:
            assert "secure" not in cookie_attributes(sign_in(client, "officer", PASSWORD))
    finally:
        services.close()


def test_a_cookie_change_needs_the_csrf_token(client: TestClient, services: Services) -> None:
    add(services, "officer")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    csrf = sign_in(client, "officer", PASSWORD).json()["csrf_token"]

    assert client.get("/api/v1/ping").status_code == 200  # reading needs no CSRF token
    missing = client.post("/api/v1/ping")
    assert missing.status_code == 403
    assert error_code(missing) == "csrf_failed"
    wrong = client.post("/api/v1/ping", headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    right = client.post("/api/v1/ping", headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200
    assert right.json() == {"changed_by": "officer"}


def test_a_bearer_token_needs_no_csrf_token(client: TestClient, services: Services) -> None:
    token = add(services, "officer")
    assert client.post("/api/v1/ping", headers=bearer(token)).status_code == 200


def test_an_expired_session_is_401(client: TestClient, services: Services) -> None:
    add(services, "officer")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    assert sign_in(client, "officer", PASSWORD).status_code == 200
    assert client.get("/api/v1/ping").status_code == 200
    with services.database.session() as session:
        session.execute(
            update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = client.get("/api/v1/ping")
    assert response.status_code == 401
    assert error_code(response) == "session_expired"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_sign_in_with_an_api_token_and_sign_out(client: TestClient, services: Services) -> None:
    token = add(services, "officer")
    response = sign_in(client, "officer", token)
    assert response.status_code == 200, response.text
    csrf = response.json()["csrf_token"]
    cookie = client.cookies["vs_session"]

    assert client.post("/api/v1/auth/logout").status_code == 403  # CSRF applies here too
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert "vs_session" not in client.cookies
    # The old cookie value is dead on the server, not only forgotten by this browser.
    client.cookies.set("vs_session", cookie)
    replay = client.get("/api/v1/ping")
    assert replay.status_code == 401
    with services.database.session() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_wrong_secrets_do_not_sign_in(client: TestClient, services: Services) -> None:
    token = add(services, "officer")
    other = add(services, "other")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    for name, secret in [
        ("officer", PASSWORD + "!"),
        ("officer", other),  # another user's token
        ("nobody", PASSWORD),
        ("other", PASSWORD),  # no password set
        ("officer", token[:-2]),
    ]:
        response = sign_in(client, name, secret)
        assert response.status_code == 401, (name, response.text)
        assert error_code(response) == "invalid_credentials"
        assert "set-cookie" not in response.headers


def test_revoking_a_user_ends_their_sessions(client: TestClient, services: Services) -> None:
    add(services, "officer")
    with services.database.session() as session:
        accounts.set_password(session, "officer", PASSWORD)
    assert sign_in(client, "officer", PASSWORD).status_code == 200
    assert client.get("/api/v1/ping").status_code == 200
    with services.database.session() as session:
        accounts.revoke_user(session, "officer")
    assert client.get("/api/v1/ping").status_code == 401
    assert sign_in(client, "officer", PASSWORD).status_code == 401


# --- accounts -------------------------------------------------------------------------------


def test_account_rules(services: Services) -> None:
    with services.database.session() as session:
        accounts.add_user(session, "officer", [Role.OFFICER], None)
    cases: list[tuple[str, Any]] = [
        ("user_exists", lambda s: accounts.add_user(s, " officer ", [Role.OFFICER], None)),
        ("invalid_name", lambda s: accounts.add_user(s, "a/b", [Role.OFFICER], None)),
        ("invalid_name", lambda s: accounts.add_user(s, "  ", [Role.OFFICER], None)),
        ("no_roles", lambda s: accounts.add_user(s, "x", [], None)),
        ("weak_password", lambda s: accounts.set_password(s, "officer", "short")),
        ("no_such_user", lambda s: accounts.issue_token(s, "nobody")),
        ("no_such_user", lambda s: accounts.revoke_user(s, "nobody")),
    ]
    for code, call in cases:
        with pytest.raises(accounts.AccountError) as caught, services.database.session() as s:
            call(s)
        assert caught.value.code == code
    with services.database.session() as session:
        accounts.revoke_user(session, "officer")
    with pytest.raises(accounts.AccountError) as caught, services.database.session() as s:
        accounts.issue_token(s, "officer")
    assert caught.value.code == "user_revoked"


# --- administrators' user routes ------------------------------------------------------------


def test_user_management_is_for_administrators_and_is_audited(
    client: TestClient, services: Services
) -> None:
    admin_token = add(services, "records admin", Role.ADMIN, unit=None)
    officer_token = add(services, "officer")
    as_admin = bearer(admin_token)

    assert client.get("/api/v1/admin/users", headers=bearer(officer_token)).status_code == 403
    assert client.get("/api/v1/admin/users").status_code == 401

    created = client.post(
        "/api/v1/admin/users",
        json={"name": "PC 77 Reid", "roles": ["officer", "case_builder"], "unit": "south"},
        headers=as_admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["roles"] == ["case_builder", "officer"]
    new_token = body["token"]
    me = client.get("/api/v1/auth/me", headers=bearer(new_token)).json()["user"]
    assert me["name"] == "PC 77 Reid" and me["unit"] == "south"

    duplicate = client.post(
        "/api/v1/admin/users", json={"name": "PC 77 Reid", "roles": ["officer"]}, headers=as_admin
    )
    assert duplicate.status_code == 409 and error_code(duplicate) == "user_exists"
    bad_role = client.post(
        "/api/v1/admin/users", json={"name": "x", "roles": ["superuser"]}, headers=as_admin
    )
    assert bad_role.status_code == 422

    second = client.post("/api/v1/admin/users/PC 77 Reid/tokens", headers=as_admin)
    assert second.status_code == 201, second.text
    second_token = second.json()["token"]
    assert client.get("/api/v1/ping", headers=bearer(second_token)).status_code == 200

    listed = client.get("/api/v1/admin/users", headers=as_admin).json()["users"]
    assert [u["name"] for u in listed] == ["officer", "PC 77 Reid", "records admin"]
    assert all("token" not in u and "secret_hash" not in u for u in listed)

    assert client.post("/api/v1/admin/users/nobody/revoke", headers=as_admin).status_code == 404
    revoked = client.post("/api/v1/admin/users/PC 77 Reid/revoke", headers=as_admin)
    assert revoked.status_code == 200
    for token in (new_token, second_token):
        assert client.get("/api/v1/ping", headers=bearer(token)).status_code == 401

    with services.database.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        admin_id = session.scalar(select(User.id).where(User.name == "records admin"))
        report = audit.verify(session)
    assert [(e.operation, e.action, e.actor_id, e.detail["user"]) for e in entries] == [
        ("user.add", "collection", admin_id, "PC 77 Reid"),
        ("user.token", "alteration", admin_id, "PC 77 Reid"),
        ("user.revoke", "alteration", admin_id, "PC 77 Reid"),
    ]
    assert entries[1].detail["token_id"] == second_token[3:19]
    assert report.ok, report
