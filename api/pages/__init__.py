"""The pages the service serves itself: the officer's phone screens and the case builder's desk.

``router`` holds every page route; ``install(app)`` adds it to the application with the static
files (``/static/...``), the service worker (``/sw.js``, root scope) and the page error answers
(303 to the login page when signed out, a 403 page for the wrong role).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.pages import cases, officer
from api.pages.common import (
    ASSET_VERSION,
    STATIC_DIR,
    PageUser,
    home_for,
    install_page_errors,
    page_user,
    render,
    safe_next,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, user: Annotated[PageUser, Depends(page_user)]) -> Response:
    """The start page: an officer's statements, the case list, or (an account with neither
    role, such as an administrator's) a page saying there is nothing here to review."""
    target = home_for(user)
    if target is None:
        return render(request, "nothing_to_review.html")
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login(
    request: Request, next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    """The sign-in form; its script posts to ``/api/v1/auth/login`` and then goes to ``next``
    (a path on this site only) or ``/``."""
    return render(request, "login.html", next_url=safe_next(next_url))


router.include_router(officer.router)
router.include_router(cases.router)

SERVICE_WORKER = STATIC_DIR / "sw.js"
# Static files are revalidated on every use (a 304 when unchanged): the pages load them under a
# versioned URL, but the scripts import each other by plain name ("./api.js"), and a browser
# must never run a new page's script with an old release's module.
STATIC_CACHE_CONTROL = "no-cache"


class StaticPages(StaticFiles):
    """``StaticFiles`` whose answers say ``Cache-Control: no-cache``."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = STATIC_CACHE_CONTROL
        return response


# The service worker names its cache after the release, so a new release drops the old shell.
_VERSION_MARK = "__ASSET_VERSION__"


def service_worker() -> Response:
    """``/sw.js``: served from the root so that its scope may cover ``/officer`` (a worker under
    ``/static/`` could only control ``/static/``); never cached by the HTTP cache, so that the
    browser's update check always sees a new release."""
    body = SERVICE_WORKER.read_text(encoding="utf-8").replace(_VERSION_MARK, ASSET_VERSION)
    return Response(
        body,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


def install(app: FastAPI) -> None:
    """Add the pages, ``/static`` and ``/sw.js`` to ``app`` (call once, in create_app)."""
    install_page_errors(app)
    app.include_router(router)
    app.add_api_route("/sw.js", service_worker, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticPages(directory=STATIC_DIR), name="static")
