"""Who acts on a statement: the roles the service knows and the principal behind a request.

A principal is the same whether it came from a local API token, a web session or an OpenID
Connect bearer token; everything that decides who may see what, and everything the audit log
records, works on this one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a user may do. A user may hold several roles; each adds what it allows."""

    OFFICER = "officer"  # creates statements; sees and edits only their own
    CASE_BUILDER = "case_builder"  # reads, exports, submits confirmed statements of their unit
    SUPERVISOR = "supervisor"  # reads the statements of their unit, reassigns them
    ADMIN = "admin"  # users, audit log, retention; no statement content by this role alone


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    user_id: stable identifier: a local account's id, or ``oidc:<issuer-sub>`` for a bearer JWT.
    name: how the caller is shown and recorded (the account name, or the JWT's name claim).
    roles: the roles this caller holds now.
    unit: the team whose statements a case builder or supervisor may see (None: no unit).
    via: how the caller proved who they are: ``token``, ``session``, ``oidc`` or ``system``.
    """

    user_id: str
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    unit: str | None = None
    via: str = "token"

    def has(self, *roles: Role) -> bool:
        """True when the caller holds at least one of ``roles``."""
        return any(role in self.roles for role in roles)


SYSTEM = Principal(user_id="system", name="voice-statement", via="system")
"""The service itself, for what no person asked for at that moment: the machine draft, a
scheduled retention erasure, a delivery to a configured sink."""
