"""Progress and lifecycle events of a statement, kept in the database.

Every process that works on a statement (an embedded worker thread, a Celery worker on another
machine) writes its events to the same table, so the SSE stream and the poll endpoint of any
API process see them all, in order, and a client that reconnects resumes where it left off.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import StatementEvent

# The drafting job is over once one of these has been emitted.
TERMINAL_DRAFT_EVENTS = frozenset({"draft_ready", "failed"})


def emit(session: Session, statement_id: str, kind: str, **data: Any) -> None:
    """Record an event in the caller's transaction: it is seen only if that commits."""
    session.add(StatementEvent(statement_id=statement_id, kind=kind, data=data))


def events_after(
    session: Session, statement_id: str, after_id: int = 0, *, limit: int = 200
) -> list[StatementEvent]:
    return list(
        session.scalars(
            select(StatementEvent)
            .where(StatementEvent.statement_id == statement_id, StatementEvent.id > after_id)
            .order_by(StatementEvent.id)
            .limit(limit)
        )
    )


def event_json(event: StatementEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }
