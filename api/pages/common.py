"""What every page shares: the Jinja2 templates, the signed-in user, and ``render``.

Pages are thin. A page route checks who is signed in (the ``vs_session`` cookie that
``POST /api/v1/auth/login`` sets), then renders a template with the user's name and the
session's CSRF token; the page's own script fetches the data from the JSON API, so the API's
access rules and its audit log apply to what a page shows exactly as they do to any client.

Signed out (no cookie, or a session that has ended): 303 to ``/login?next=<this page>``.
Signed in without the role a page is for: a 403 page that says which role it needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import SESSION_COOKIE
from models.users import Principal, Role
from security import accounts
from workflow.services import Services

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
LOGIN_PATH = "/login"
# Pages carry the session's CSRF token: no browser or proxy cache keeps them. (The officer's
# service worker keeps its own copy of the recording pages, on purpose, in the Cache API.)
PAGE_CACHE_CONTROL = "no-store"


def _asset_version() -> str:
    """A short hash of every static file: part of each asset URL, and of the service worker's
    cache name, so a new release is fetched afresh rather than served from an old cache."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def static_url(name: str) -> str:
    """The URL of a file under ``static/``, versioned so that caches never serve a stale one."""
    return f"/static/{name}?v={ASSET_VERSION}"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["static"] = static_url
templates.env.globals["Role"] = Role


@dataclass(frozen=True)
class PageUser:
    """The signed-in browser user: who they are and the CSRF token their scripts send."""

    principal: Principal
    csrf_token: str

    @property
    def name(self) -> str:
        return self.principal.name

    def has(self, *roles: Role) -> bool:
        return self.principal.has(*roles)


class SignInRequired(Exception):
    """Raised by ``page_user`` when no one is signed in: answered with 303 to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


class PageForbidden(Exception):
    """Raised when the signed-in user lacks the role a page is for: answered with a 403 page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: the login page must not send a
    signed-in user to another site (an open redirect is a phishing aid)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def login_url(request: Request) -> str:
    """The login page, with this request's path (and query) as where to come back to."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(here, safe='/')}"


def session_user(request: Request) -> PageUser | None:
    """The user of the request's session cookie; None when there is none or it has ended."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    services: Services = request.app.state.services
    with services.database.session() as session:
        found = accounts.session_principal(session, cookie)
    if found is None:
        return None
    principal, csrf = found
    return PageUser(principal=principal, csrf_token=csrf)


def page_user(request: Request) -> PageUser:
    """Dependency: the signed-in user (303 to the login page when there is none). Plain ``def``:
    FastAPI runs it in the thread pool, so the database never blocks the event loop."""
    user = session_user(request)
    if user is None:
        raise SignInRequired(login_url(request))
    request.state.page_user = user
    request.state.principal = user.principal
    return user


def page_roles(*roles: Role) -> Callable[[Request], PageUser]:
    """Dependency factory: the signed-in user holding at least one of ``roles``; a 403 page
    naming the role otherwise. ``Annotated[PageUser, Depends(page_roles(Role.OFFICER))]``."""
    if not roles:
        raise ValueError("page_roles needs at least one role")
    needed = " or ".join(role.value.replace("_", " ") for role in roles)

    def dependency(request: Request) -> PageUser:
        user = page_user(request)
        if not user.has(*roles):
            raise PageForbidden(f"This page is for the {needed} role, which your account lacks.")
        return user

    dependency.__name__ = f"page_{'_or_'.join(role.value for role in roles)}"
    return dependency


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name``; ``user`` (a PageUser or None) and ``csrf_token`` always come
    from the request's session, whatever ``context`` holds."""
    user: PageUser | None = getattr(request.state, "page_user", None)
    context["user"] = user
    context["csrf_token"] = user.csrf_token if user else ""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return response


def home_for(user: PageUser) -> str | None:
    """Where ``/`` sends ``user``: their own statements (officer), the case list (case builder
    or supervisor), or None when no page here is for them (an admin-only account)."""
    if user.has(Role.OFFICER):
        return "/officer"
    if user.has(Role.CASE_BUILDER, Role.SUPERVISOR):
        return "/cases"
    return None


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(exc.next_url, status_code=303, headers={"Cache-Control": "no-store"})


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return render(request, "forbidden.html", status_code=403, message=exc.message)


def install_page_errors(app: Any) -> None:
    """Answer a signed-out page request with the login redirect, a wrong role with a 403 page."""
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(PageForbidden, _forbidden)
