"""Liveness and readiness, for the orchestrator in front of the service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import CurrentUser
from api.schemas import error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about what it depends on)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        **error_responses(401),
        503: {"description": "Not ready: the body's checks name what failed"},
    },
)
def readyz(request: Request, _user: CurrentUser) -> JSONResponse:
    """Ready to take recordings: the database answers, the audio store is writable, and the
    model is loaded (embedded mode; in distributed mode the workers load it). Like every
    endpoint but ``/healthz`` it needs a token: its checks name the service's internals."""
    runtime = request.app.state.runtime
    services = runtime.services
    checks: dict[str, Any] = {}
    ready = True
    for name, check in (
        ("database", services.database.ping),
        ("audio_store", services.audio_store.check),
    ):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            ready = False
    checks["model"] = runtime.model_state
    if checks["model"] == "loading":
        ready = False
    checks["mode"] = "distributed" if runtime.distributed else "embedded"
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if not ready:
        body["error"] = {"code": "not_ready", "message": "the service is not ready: see checks"}
    return JSONResponse(body, status_code=200 if ready else 503)
