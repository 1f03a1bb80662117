"""User management for administrators: list, add, revoke, issue tokens.

Every change is written to the audit log in the same transaction as the change itself. A new
API token is in the response once and nowhere else: only its argon2 hash is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import error_responses
from models.tables import User
from models.users import Principal, Role
from security import accounts, audit
from security.audit import AuditAction

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["administration"],
    responses=error_responses(401, 403, 404, 409),
)

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
UserName = Annotated[str, Path(min_length=1, max_length=200)]

# AccountError codes -> HTTP status.
_STATUS = {"no_such_user": 404, "user_exists": 409, "user_revoked": 409}


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["pc.smith"])
    roles: list[Role] = Field(min_length=1, examples=[["officer"]])
    unit: str | None = Field(default=None, max_length=100, examples=["Westmarch CID"])


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "roles": sorted(accounts.user_roles(user)),
        "unit": user.unit,
        "created_at": user.created_at.isoformat(),
        "revoked_at": user.revoked_at.isoformat() if user.revoked_at else None,
        "has_password": user.password_hash is not None,
    }


@contextmanager
def account_errors() -> Iterator[None]:
    try:
        yield
    except accounts.AccountError as exc:
        raise ApiError(_STATUS.get(exc.code, 422), exc.code, exc.message) from exc


@router.get("/users")
def list_users(services: ServicesDep, _admin: Admin) -> dict[str, Any]:
    """Every account, revoked ones included."""
    with services.database.session() as session:
        return {"users": [user_json(user) for user in accounts.list_users(session)]}


@router.post("/users", status_code=201)
def add_user(body: NewUser, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Create an account; the response holds its first API token, shown this once."""
    with account_errors(), services.database.session() as session:
        user, token = accounts.add_user(session, body.name, body.roles, body.unit)
        audit.record(
            session,
            admin,
            AuditAction.COLLECTION,
            "user.add",
            detail={"user": user.name, "roles": sorted(accounts.user_roles(user))},
        )
        return {"user": user_json(user), "token": token}


@router.post("/users/{name}/revoke")
def revoke_user(name: UserName, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Revoke an account with every token and session it holds, from the next request on."""
    with account_errors(), services.database.session() as session:
        user = accounts.revoke_user(session, name)
        audit.record(
            session, admin, AuditAction.ALTERATION, "user.revoke", detail={"user": user.name}
        )
        return {"user": user_json(user)}


@router.post("/users/{name}/tokens", status_code=201)
def issue_token(name: UserName, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """A further API token for an account (e.g. a second device), shown this once."""
    with account_errors(), services.database.session() as session:
        token = accounts.issue_token(session, name)
        parsed = accounts.parse_token(token)
        token_id = parsed[0] if parsed else None
        audit.record(
            session,
            admin,
            AuditAction.ALTERATION,
            "user.token",
            detail={"user": accounts.normalise_name(name), "token_id": token_id},
        )
        return {"user": accounts.normalise_name(name), "token_id": token_id, "token": token}
