"""The administrator's side: the audit log, its verification, retention and erasure.

Administrators read the audit log (which holds no statement content) and set how long things
are kept; they erase a statement with a justification. None of this lets them read a statement:
that needs a role that can.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import error_responses
from api.statements import lifecycle_errors
from models import Principal, Role
from security import audit
from security.audit import AuditAction, normalise_justification
from workflow import retention

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["administration"],
    responses=error_responses(400, 401, 403, 404, 409),
)

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class RetentionBody(BaseModel):
    submitted_days: int = Field(ge=1, le=100 * 365, description="keep submitted statements")
    unconfirmed_days: int = Field(ge=1, le=100 * 365, description="keep unconfirmed drafts")


class EraseBody(BaseModel):
    justification: str = Field(min_length=1, max_length=500)


@router.get("/audit")
def query_audit(
    services: ServicesDep,
    admin: Admin,
    statement_id: str | None = None,
    actor_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Entries in order, filtered by statement, user, action and time. Reading the log is
    itself logged."""
    with services.database.session() as session:
        entries, total = audit.query(
            session,
            statement_id=statement_id,
            actor_id=actor_id,
            action=action,
            since=since,
            until=until,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        items = [audit.entry_json(e) for e in entries]
        filters = {"statement_id": statement_id, "actor_id": actor_id, "action": action}
        audit.record(
            session,
            admin,
            AuditAction.CONSULTATION,
            "audit.query",
            detail={**{k: str(v) for k, v in filters.items() if v}, "results": len(items)},
        )
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/audit/verify")
def verify_audit(services: ServicesDep, _admin: Admin) -> dict[str, Any]:
    """Walk the whole hash chain; names the first entry that does not hold."""
    with services.database.session() as session:
        report = audit.verify(session)
    return {
        "ok": report.ok,
        "entries": report.entries,
        "first_broken": report.first_broken,
        "reason": report.reason,
    }


@router.get("/retention")
def get_retention(services: ServicesDep, _admin: Admin) -> dict[str, Any]:
    """The periods in force, whether they are the defaults, and who set them when."""
    with services.database.session() as session:
        return retention.describe_policy(session, services.settings)


@router.put("/retention")
def set_retention(services: ServicesDep, admin: Admin, body: RetentionBody) -> dict[str, int]:
    values = retention.RetentionPolicyValues(
        submitted_days=body.submitted_days, unconfirmed_days=body.unconfirmed_days
    )
    with services.database.session() as session, lifecycle_errors():
        retention.set_policy(session, values, actor=admin, settings=services.settings)
    return {"submitted_days": values.submitted_days, "unconfirmed_days": values.unconfirmed_days}


@router.post("/retention/apply")
def apply_retention_now(request: Request, _admin: Admin) -> dict[str, Any]:
    """Apply the policy now rather than at the next scheduled run."""
    services = request.app.state.services
    report = retention.apply_retention(services.database, services.audio_store, services.settings)
    return {"erased": list(report.erased)}


@router.post("/statements/{statement_id}/erase")
def erase_statement(
    services: ServicesDep, admin: Admin, statement_id: str, body: EraseBody
) -> dict[str, Any]:
    """Erase a statement's content and audio now (e.g. a court order or a data subject's
    request); only metadata and the audit log remain."""
    justification = normalise_justification(body.justification)
    if justification is None:
        raise ApiError(400, "justification_required", "say why the statement is erased")
    with lifecycle_errors():
        retention.erase_by_admin(
            services.database,
            services.audio_store,
            statement_id,
            actor=admin,
            justification=justification,
        )
    return {"id": statement_id, "status": "erased"}
