"""Who is calling: bearer tokens, web sessions, and the role checks every route depends on.

A request proves who it is in one of three ways, tried in this order:

1. ``Authorization: Bearer vs_...``: a local API token (``security.accounts``).
2. ``Authorization: Bearer <JWT>``: an OpenID Connect token from the configured issuer
   (``security.oidc``); refused when no issuer is configured.
3. The ``vs_session`` cookie set by ``POST /api/v1/auth/login``. A request that changes
   anything (any method but GET, HEAD, OPTIONS) must also carry the session's CSRF token in
   ``X-CSRF-Token``: the cookie is SameSite=Strict already, and the header is the second lock
   that keeps another site from acting with it.

Dependencies are plain ``def``: FastAPI runs them in its thread pool, so the database and
argon2 never block the event loop.
"""

from __future__ import annotations

import hmac
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api.errors import ApiError
from api.schemas import error_responses
from models.users import Principal, Role
from security import accounts
from security.oidc import InvalidToken, JwksUnavailable
from security.ratelimit import RateLimiter
from workflow.services import Services

SESSION_COOKIE = "vs_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_WINDOW_S = 15 * 60  # settings.login_attempts_per_15_min counts failures in this window

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])


class AuthError(ApiError):
    """An ApiError that carries response headers (WWW-Authenticate, Retry-After)."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, message)
        self.headers = headers


def _unauthenticated(code: str, message: str) -> AuthError:
    # RFC 6750: a request with no credentials gets the bare challenge; a bad token names why.
    challenge = 'Bearer realm="voice-statement"'
    if code != "not_authenticated":
        challenge += ', error="invalid_token"'
    return AuthError(401, code, message, headers={"WWW-Authenticate": challenge})


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _bearer(request: Request) -> str | None:
    """The bearer token of the Authorization header (None: no header)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("invalid_token", "the Authorization header must be 'Bearer <token>'")
    return token


def _token_principal(services: Services, token: str) -> Principal:
    if token.startswith(accounts.TOKEN_PREFIX):
        with services.database.session() as session:
            principal = accounts.authenticate_token(session, token)
        if principal is None:
            raise _unauthenticated(
                "invalid_token", "the API token is not valid, or it or its user was revoked"
            )
        return principal
    verifier = services.oidc
    if verifier is None:
        raise _unauthenticated(
            "invalid_token",
            "the bearer token is not a voice-statement API token (vs_...), and OpenID Connect "
            "is not configured",
        )
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        raise _unauthenticated(exc.code, exc.reason) from exc
    except JwksUnavailable as exc:
        raise ApiError(503, "oidc_unavailable", str(exc)) from exc


def get_current_user(request: Request) -> Principal:
    """The authenticated caller; 401 when there is none or the credentials are not accepted,
    403 ``csrf_failed`` for a cookie-authenticated change without the session's CSRF token."""
    services = _services(request)
    token = _bearer(request)
    if token is not None:
        principal = _token_principal(services, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise _unauthenticated(
                "not_authenticated",
                "sign in: send 'Authorization: Bearer <token>' or the session cookie",
            )
        with services.database.session() as session:
            found = accounts.session_principal(session, cookie)
        if found is None:
            raise _unauthenticated(
                "session_expired", "the sign-in session has expired or ended: sign in again"
            )
        principal, csrf = found
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise ApiError(
                    403,
                    "csrf_failed",
                    f"a signed-in browser must send the session's CSRF token in {CSRF_HEADER}",
                )
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]
"""Any authenticated caller, whatever their roles."""


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through only callers holding at least one of ``roles``
    (403 ``forbidden`` otherwise): ``Annotated[Principal, Depends(require_roles(Role.ADMIN))]``.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")
    needed = " or ".join(role.value for role in roles)

    def dependency(user: CurrentUser) -> Principal:
        if not user.has(*roles):
            raise ApiError(403, "forbidden", f"this needs the {needed} role")
        return user

    dependency.__name__ = f"require_{'_or_'.join(role.value for role in roles)}"
    return dependency


def principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "name": principal.name,
        "roles": sorted(role.value for role in principal.roles),
        "unit": principal.unit,
        "via": principal.via,
    }


# --- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimits:
    """Failed sign-ins allowed per account name and per client address in LOGIN_WINDOW_S."""

    by_name: RateLimiter
    by_client: RateLimiter


_limits_lock = threading.Lock()


def login_limits(request: Request) -> LoginLimits:
    """The application's sign-in limiters (made on first use, kept on ``app.state``)."""
    state = request.app.state
    with _limits_lock:
        limits: LoginLimits | None = getattr(state, "login_limits", None)
        if limits is None:
            allowed = _services(request).settings.login_attempts_per_15_min
            limits = LoginLimits(
                by_name=RateLimiter(allowed, LOGIN_WINDOW_S),
                by_client=RateLimiter(allowed, LOGIN_WINDOW_S),
            )
            state.login_limits = limits
    return limits


class LoginBody(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="the account name")
    secret: str = Field(
        min_length=1,
        max_length=accounts.PASSWORD_MAX_LENGTH,
        description="the account's password, or one of its API tokens",
    )


def _cookie_secure(request: Request, services: Services) -> bool:
    configured = services.settings.cookie_secure
    return request.url.scheme == "https" if configured is None else configured


@router.post("/login", responses=error_responses(401, 429))
def sign_in(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    """Sign a browser in: sets the session cookie and returns the CSRF token to send with every
    change. Too many failures for one name or from one address answer 429 for a while."""
    services = _services(request)
    limits = login_limits(request)
    name_key = accounts.normalise_name(body.name).casefold()
    client_key = request.client.host if request.client else "unknown"
    waits = [w for w in (limits.by_name.peek(name_key), limits.by_client.peek(client_key)) if w]
    if waits:
        retry = math.ceil(max(waits))
        raise AuthError(
            429,
            "too_many_attempts",
            f"too many failed sign-ins: try again in {retry} seconds",
            headers={"Retry-After": str(retry)},
        )
    ttl_s = services.settings.session_ttl_s
    with services.database.session() as session:
        signed_in = accounts.login(session, body.name, body.secret, ttl_s=ttl_s)
        found = accounts.session_principal(session, signed_in[0]) if signed_in else None
    if signed_in is None or found is None:
        limits.by_name.hit(name_key)
        limits.by_client.hit(client_key)
        raise _unauthenticated(
            "invalid_credentials", "the name, or its password or token, is wrong"
        )
    cookie, csrf = signed_in
    principal, _ = found
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=ttl_s,
        path="/",
        secure=_cookie_secure(request, services),
        httponly=True,
        samesite="strict",
    )
    return {"user": principal_json(principal), "csrf_token": csrf}


@router.post("/logout", status_code=204, responses=error_responses(403))
def sign_out(request: Request, response: Response) -> None:
    """End the browser's session and clear its cookie (nothing to do without one)."""
    services = _services(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with services.database.session() as session:
            found = accounts.session_principal(session, cookie)
            if found is not None:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), found[1].encode()):
                    raise ApiError(
                        403,
                        "csrf_failed",
                        f"signing out needs the session's CSRF token in {CSRF_HEADER}",
                    )
            accounts.logout(session, cookie)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=_cookie_secure(request, services),
        httponly=True,
        samesite="strict",
    )


@router.get("/me", responses=error_responses(401))
def whoami(user: CurrentUser) -> dict[str, Any]:
    """The caller as the service sees them: id, name, roles, unit, and how they signed in."""
    return {"user": principal_json(user)}
