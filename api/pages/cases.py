"""The case builder's desk: the statement list (``/cases``) and one statement (``/cases/{id}``).

Both pages are for case builders and supervisors (``page_roles``): signed out, 303 to the login
page; signed in with neither role (an officer, an administrator), a 403 page that names the
roles. The list is rendered here, from ``StatementService.search``, the very call behind
``GET /api/v1/statements``: the same reach (``workflow.access``) and the same audit entry, and
a page that works with scripts off. Its filters are a plain GET form, so a search is a link
that can be bookmarked or sent on.

The statement page is only a frame with the statement's id in it. A case builder consults a
statement that is not their own, which the law asks a reason for (DPA 2018 s.62), so nothing of
the statement is read here: ``static/case.js`` asks for the justification, then fetches the
statement, its audio and its exports from the JSON API with the ``X-Justification`` header, and
each of those readings is logged with that reason. An id that does not exist, or is out of the
caller's reach, gets the same frame; the API then answers 404 for both alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.pages.common import PageUser, page_roles, render
from models import Template
from models.tables import StatementRecord, StatementStatus
from models.users import Role
from workflow import access
from workflow.access import Permission
from workflow.runtime import Runtime

router = APIRouter()

DeskUser = Annotated[PageUser, Depends(page_roles(Role.CASE_BUILDER, Role.SUPERVISOR))]

PAGE_SIZE = 50  # rows per page of the list: a desk screen's worth, and the API's default
MAX_TEXT = 200  # the longest text search, as the API allows (``q``)

TEMPLATE_NAMES = {
    Template.MG11.value: "Witness statement (MG11)",
    Template.MISSING_PERSON.value: "Missing person",
}
# Every status a statement may be in, in lifecycle order; a case builder reaches only the
# confirmed and submitted ones, a supervisor all of them.
STATUSES = [status.value for status in StatementStatus]


@dataclass(frozen=True)
class Filters:
    """The list's filters as the form sent them ('' when not set), and what was wrong."""

    status: str = ""
    template: str = ""
    officer: str = ""
    date: str = ""
    q: str = ""
    page: int = 1
    errors: tuple[str, ...] = ()

    def query(self, **change: Any) -> str:
        """This search as a query string (with ``change`` applied), for the paging links."""
        values = {
            "status": self.status,
            "template": self.template,
            "officer": self.officer,
            "date": self.date,
            "q": self.q,
            "page": self.page,
            **change,
        }
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})


def read_filters(status: str, template: str, officer: str, day: str, q: str, page: str) -> Filters:
    """Check what the form sent; a value that is not valid is dropped and named in ``errors``
    (the page says so, rather than answering a bare 422 as the API would)."""
    errors: list[str] = []
    status, template = status.strip(), template.strip()
    officer, day, q = " ".join(officer.split()), day.strip(), " ".join(q.split())
    if status and status not in STATUSES:
        errors.append(f"There is no status {status!r}: choose one from the list.")
        status = ""
    if template and template not in TEMPLATE_NAMES:
        errors.append(f"There is no template {template!r}: choose one from the list.")
        template = ""
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            errors.append(f"The date {day!r} is not a date written as YYYY-MM-DD.")
            day = ""
    if len(q) > MAX_TEXT:
        errors.append(f"The text to search for is longer than {MAX_TEXT} characters.")
        q = ""
    number = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    return Filters(status, template, officer, day, q, number, tuple(errors))


def day_text(day: date) -> str:
    """A day as people here write it: 20 Nov 2026."""
    return f"{day.day} {day.strftime('%b %Y')}"


def _row(record: StatementRecord) -> dict[str, Any]:
    updated = record.updated_at
    if updated.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        updated = updated.replace(tzinfo=UTC)
    return {
        "id": record.id,
        "status": record.status,
        "template": TEMPLATE_NAMES.get(record.template, record.template),
        "officer": record.officer,
        "date": record.statement_date.isoformat(),
        "date_text": day_text(record.statement_date),
        # UTC here; the page's script shows it in the reader's own time zone.
        "updated_iso": updated.isoformat(),
        "updated_text": f"{day_text(updated.date())} {updated.strftime('%H:%M')} UTC",
        "version": record.current_version,
    }


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    user: DeskUser,
    status: str = "",
    template: str = "",
    officer: str = "",
    day: Annotated[str, Query(alias="date")] = "",
    q: str = "",
    page: str = "1",
) -> HTMLResponse:
    """The statements the user may read, newest first, filtered by status, template, officer,
    the day each was taken, and text in the statement."""
    filters = read_filters(status, template, officer, day, q, page)
    runtime: Runtime = request.app.state.runtime
    with runtime.services.database.session() as session:
        records, total = runtime.statements.search(
            session,
            actor=user.principal,
            status=filters.status or None,
            template=filters.template or None,
            officer=filters.officer or None,
            statement_date=date.fromisoformat(filters.date) if filters.date else None,
            text=filters.q or None,
            offset=(filters.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        rows = [_row(r) for r in records]
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "cases_list.html",
        filters=filters,
        rows=rows,
        total=total,
        pages=pages,
        statuses=STATUSES,
        templates_named=TEMPLATE_NAMES,
        previous_query=filters.query(page=filters.page - 1) if filters.page > 1 else None,
        next_query=filters.query(page=filters.page + 1) if filters.page < pages else None,
        filtered=any((filters.status, filters.template, filters.officer, filters.date, filters.q)),
    )


@router.get("/cases/{statement_id}", response_class=HTMLResponse)
def case_statement(request: Request, statement_id: str, user: DeskUser) -> HTMLResponse:
    """The frame of one statement: its script asks why it is being consulted, then reads it."""
    principal = user.principal
    return render(
        request,
        "cases_statement.html",
        statement_id=statement_id,
        # What the user's roles allow on some statement: the buttons shown. The API decides
        # again, for this statement, when they are used.
        can_listen=bool(access.reaches_for(principal, Permission.PLAY_AUDIO)),
        can_export=bool(access.reaches_for(principal, Permission.EXPORT)),
        can_submit=bool(access.reaches_for(principal, Permission.SUBMIT)),
    )
