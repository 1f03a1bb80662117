"""Limits: the sliding-window rate limiter, sign-in attempts (429 with Retry-After), and the
security headers on every response, a streamed event stream over real HTTP included."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.testclient import TestClient

from api.security_headers import CONTENT_SECURITY_POLICY, install_security
from models.users import Role
from security import accounts
from security.ratelimit import RateLimiter
from tests.security.test_auth import PASSWORD, error_code, make_app, make_services
from workflow.services import Services

# --- the rate limiter -------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand (the limiter takes any monotonic clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    for _ in range(3):
        assert limiter.hit("alice") is None
        clock.now += 10  # events at 1000, 1010, 1020
    assert limiter.hit("alice") == pytest.approx(30)  # the first leaves the window at 1060
    assert limiter.hit("bob") is None  # keys are independent
    clock.now = 1060
    assert limiter.hit("alice") is None  # the first event has left the window
    assert limiter.hit("alice") == pytest.approx(10)
    clock.now = 1200
    assert limiter.peek("alice") is None


def test_a_refused_hit_is_not_recorded_and_peek_records_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    for _ in range(5):
        assert limiter.peek("alice") is None
    limiter.hit("alice")
    limiter.hit("alice")
    for _ in range(10):  # hammering while refused does not push the wait further out
        assert limiter.hit("alice") == pytest.approx(60)
    clock.now += 60
    assert limiter.hit("alice") is None
    limiter.reset("alice")
    assert limiter.hit("alice") is None and limiter.hit("alice") is None


def test_forgetting_keys_beyond_the_bound() -> None:
    limiter = RateLimiter(1, 60, max_keys=3)
    for key in "abcd":
        assert limiter.hit(key) is None
    assert limiter.hit("a") is None  # "a" was idle longest and was forgotten
    assert limiter.hit("d") is not None


def test_the_limit_holds_across_threads() -> None:
    limiter = RateLimiter(50, 60)
    allowed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(1 for _ in range(100) if limiter.hit("shared") is None)
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 50


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RateLimiter(0, 60)
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(1, 0)


# --- sign-in attempts -------------------------------------------------------------------------


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = make_services(tmp_path, database_url)
    with services.database.session() as session:
        accounts.add_user(session, "officer", [Role.OFFICER], "north")
        accounts.set_password(session, "officer", PASSWORD)
    yield services
    services.close()


def sign_in(client: TestClient, name: str, secret: str) -> Any:
    return client.post("/api/v1/auth/login", json={"name": name, "secret": secret})


def test_the_eleventh_failed_sign_in_is_429(services: Services) -> None:
    assert services.settings.login_attempts_per_15_min == 10
    with TestClient(make_app(services)) as client:
        for attempt in range(10):
            response = sign_in(client, "officer", f"wrong password {attempt}")
            assert response.status_code == 401, (attempt, response.text)
        refused = sign_in(client, "officer", "wrong password 11")
        assert refused.status_code == 429
        assert error_code(refused) == "too_many_attempts"
        retry = int(refused.headers["Retry-After"])
        assert 0 < retry <= 15 * 60
        # Locked out for now even with the right password.
        assert sign_in(client, "officer", PASSWORD).status_code == 429


def test_failures_for_one_name_are_limited_across_addresses(services: Services) -> None:
    app = make_app(services)
    with TestClient(app, client=("192.0.2.1", 50000)) as first:
        for attempt in range(10):
            assert sign_in(first, "officer", f"wrong password {attempt}").status_code == 401
    with TestClient(app, client=("192.0.2.2", 50000)) as second:
        # The same account, spelt otherwise, from another address: still limited.
        refused = sign_in(second, "  OFFICER ", PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        # Another account from that address is not.
        assert sign_in(second, "someone else", PASSWORD).status_code == 401


def test_failures_from_one_address_are_limited_across_names(services: Services) -> None:
    app = make_app(services)
    with TestClient(app, client=("192.0.2.1", 50000)) as client:
        for attempt in range(10):
            assert sign_in(client, f"guess{attempt}", "anything at all").status_code == 401
        response = sign_in(client, "officer", PASSWORD)
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
    with TestClient(app, client=("192.0.2.2", 50000)) as other:
        assert sign_in(other, "officer", PASSWORD).status_code == 200


def test_successful_sign_ins_are_not_counted(services: Services) -> None:
    services.settings.login_attempts_per_15_min = 2
    with TestClient(make_app(services)) as client:
        for _ in range(4):
            assert sign_in(client, "officer", PASSWORD).status_code == 200


# --- security headers -------------------------------------------------------------------------


def headers_app() -> FastAPI:
    app = FastAPI()
    install_security(app)

    @app.get("/api/v1/thing")
    def thing() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/api/v1/cached")
    def cached() -> JSONResponse:
        return JSONResponse({"ok": "yes"}, headers={"Cache-Control": "private, max-age=60"})

    @app.get("/page")
    def page() -> dict[str, str]:
        return {"page": "yes"}

    return app


EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), geolocation=(), microphone=(self)",
}


def assert_security_headers(headers: Mapping[str, str]) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, name
    csp = headers["content-security-policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in csp


def test_every_response_has_the_security_headers() -> None:
    with TestClient(headers_app()) as client:
        api = client.get("/api/v1/thing")
        assert_security_headers(api.headers)
        assert api.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in api.headers  # plain http

        assert client.get("/api/v1/cached").headers["cache-control"] == "private, max-age=60"
        page = client.get("/page")
        assert_security_headers(page.headers)
        assert "cache-control" not in page.headers

        missing = client.get("/api/v1/nothing-here")
        assert missing.status_code == 404
        assert_security_headers(missing.headers)

        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
        assert docs.headers["x-frame-options"] == "DENY"

    with TestClient(headers_app(), base_url="https://testserver") as client:
        hsts = client.get("/api/v1/thing").headers["strict-transport-security"]
        assert hsts.startswith("max-age=31536000")


def test_errors_of_the_auth_layer_have_them_too(services: Services) -> None:
    with TestClient(make_app(services)) as client:
        response = client.get("/api/v1/ping")
        assert response.status_code == 401
        assert_security_headers(response.headers)
        assert response.headers["cache-control"] == "no-store"


def test_a_streamed_event_stream_keeps_streaming_with_the_headers() -> None:
    """Over real HTTP (uvicorn): the first event reaches the client while the generator is
    still waiting to send the second, so the middleware buffers nothing."""
    first_received = threading.Event()
    app = headers_app()

    @app.get("/api/v1/events")
    def events() -> StreamingResponse:
        async def stream() -> AsyncIterator[bytes]:
            yield b"event: progress\ndata: 1\n\n"
            # The second event is sent only once the client has read the first.
            while not first_received.is_set():
                await asyncio.sleep(0.01)
            yield b"event: progress\ndata: 2\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with (
            httpx.Client(timeout=5) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/api/v1/events") as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert_security_headers(response.headers)
            assert response.headers["cache-control"] == "no-store"
            lines = response.iter_lines()
            received = []
            for line in lines:
                received.append(line)
                if line == "data: 1":
                    first_received.set()
                if line == "data: 2":
                    break
        assert received[:2] == ["event: progress", "data: 1"]
        assert received[-1] == "data: 2"
    finally:
        first_received.set()
        server.should_exit = True
        thread.join(timeout=10)
