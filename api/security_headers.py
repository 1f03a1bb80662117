"""Security headers on every response: what a browser may load, frame, sniff, send and cache.

A pure ASGI middleware, not Starlette's ``BaseHTTPMiddleware``: that one buffers through an
in-memory channel that breaks streaming responses (the progress event stream, audio ranges) and
their disconnect handling. This one only edits the ``http.response.start`` message.

A header the route set itself is left as it is (a page that needs its own policy sets it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

# Only this origin's scripts, styles, images and connections; no plugins; no framing by anyone
# (clickjacking); no <base> rewriting; forms post only here. Media may also play from blob:
# URLs (a recording replayed from the phone's storage; audio fetched with a header the case
# builder's page must send); workers only from this origin (the officer's service worker).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; media-src 'self' blob:; worker-src 'self'; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# FastAPI's interactive API documentation loads Swagger UI / ReDoc from a CDN and starts them
# with an inline script; only those pages get this wider policy (they hold no statement data).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# The recording page uses the microphone; nothing here needs a camera or a location.
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=(self)"
# A year, the value browsers' preload lists ask for; sent only over https (RFC 6797 s.7.2).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response of ``app``.

    docs_paths: paths served the wider ``DOCS_CONTENT_SECURITY_POLICY`` (the API docs pages).
    API responses (paths under ``/api/``) that set no Cache-Control get ``no-store``: they hold
    witness data, which must not linger in a browser's or a proxy's cache.
    """

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"
        policy = (
            DOCS_CONTENT_SECURITY_POLICY if path in self.docs_paths else CONTENT_SECURITY_POLICY
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if path.startswith("/api/"):
                    headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI) -> None:
    """Add the security headers to every response of ``app`` (call once, in create_app)."""
    docs = [app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url]
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=[p for p in docs if p])
