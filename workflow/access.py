"""Who may do what to which statement: the one place the rules live.

Two questions, asked in this order by every statement operation:

1. Does any of the caller's roles allow the operation at all? If not: ``AccessDenied`` (403).
   This reveals nothing about any statement, so it is answered before one is looked up.
2. Is this statement one the caller's roles reach? If not, the statement is reported as not
   found (404), exactly like an id that does not exist, so that no caller can learn that a
   statement they may not see exists.

The same rules are written twice, once as a SQL filter (lists, and every lookup) and once in
Python (``reaches``) for a record already loaded; a test holds them to each other.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_

from models.tables import StatementRecord, StatementStatus
from models.users import Principal, Role


class Permission(StrEnum):
    CREATE = "create"
    READ = "read"  # the statement, its progress and events
    PLAY_AUDIO = "play_audio"
    EXPORT = "export"
    EDIT = "edit"
    CONFIRM = "confirm"
    SUBMIT = "submit"
    REASSIGN = "reassign"
    ERASE = "erase"


class Reach(StrEnum):
    """Which statements a role's permission extends to."""

    OWN = "own"  # those the caller owns (statements.officer_id)
    UNIT_CONFIRMED = "unit_confirmed"  # confirmed or submitted ones of the caller's unit
    UNIT = "unit"  # every statement of the caller's unit
    ALL = "all"


# role -> permission -> reach. A permission a role does not list, it does not have.
RULES: dict[Role, dict[Permission, Reach]] = {
    Role.OFFICER: {
        Permission.CREATE: Reach.OWN,
        Permission.READ: Reach.OWN,
        Permission.PLAY_AUDIO: Reach.OWN,
        Permission.EXPORT: Reach.OWN,
        Permission.EDIT: Reach.OWN,
        Permission.CONFIRM: Reach.OWN,
        Permission.SUBMIT: Reach.OWN,
    },
    Role.CASE_BUILDER: {
        Permission.READ: Reach.UNIT_CONFIRMED,
        Permission.PLAY_AUDIO: Reach.UNIT_CONFIRMED,
        Permission.EXPORT: Reach.UNIT_CONFIRMED,
        Permission.SUBMIT: Reach.UNIT_CONFIRMED,
    },
    Role.SUPERVISOR: {
        Permission.READ: Reach.UNIT,
        Permission.PLAY_AUDIO: Reach.UNIT,
        Permission.REASSIGN: Reach.UNIT,
    },
    # An administrator erases (with a justification) but reads no content by this role alone.
    Role.ADMIN: {Permission.ERASE: Reach.ALL},
}

CONFIRMED_STATES = (StatementStatus.CONFIRMED.value, StatementStatus.SUBMITTED.value)


class AccessDenied(Exception):
    """The caller's roles do not allow the operation on any statement."""

    def __init__(self, permission: Permission) -> None:
        roles = sorted(role.value for role, rules in RULES.items() if permission in rules)
        super().__init__(f"{permission.value} needs the {' or '.join(roles)} role")
        self.permission = permission


def roles_allowing(permission: Permission) -> list[Role]:
    return [role for role, rules in RULES.items() if permission in rules]


def reaches_for(principal: Principal, permission: Permission) -> set[Reach]:
    return {RULES[role][permission] for role in principal.roles if permission in RULES[role]}


def require(principal: Principal, permission: Permission) -> None:
    """Raise :class:`AccessDenied` unless one of the caller's roles has ``permission``."""
    if not reaches_for(principal, permission):
        raise AccessDenied(permission)


def visible(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """A SQL condition on ``statements`` selecting those ``permission`` reaches for the caller."""
    clauses: list[ColumnElement[bool]] = []
    for reach in reaches_for(principal, permission):
        if reach is Reach.ALL:
            return or_(StatementRecord.id.is_not(None))
        if reach is Reach.OWN:
            clauses.append(StatementRecord.officer_id == principal.user_id)
        elif principal.unit is not None:  # no unit: no unit's statements
            in_unit = StatementRecord.unit == principal.unit
            if reach is Reach.UNIT_CONFIRMED:
                clauses.append(and_(in_unit, StatementRecord.status.in_(CONFIRMED_STATES)))
            else:
                clauses.append(in_unit)
    return or_(*clauses) if clauses else false()


def reaches(principal: Principal, permission: Permission, record: StatementRecord) -> bool:
    """The Python twin of :func:`visible`, for a record already loaded."""
    for reach in reaches_for(principal, permission):
        if reach is Reach.ALL:
            return True
        if reach is Reach.OWN and record.officer_id == principal.user_id:
            return True
        if reach in (Reach.UNIT, Reach.UNIT_CONFIRMED) and principal.unit is not None:
            if record.unit != principal.unit:
                continue
            if reach is Reach.UNIT or record.status in CONFIRMED_STATES:
                return True
    return False


def is_owner(principal: Principal, record: StatementRecord) -> bool:
    return record.officer_id is not None and record.officer_id == principal.user_id
