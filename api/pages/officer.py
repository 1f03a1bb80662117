"""The officer's pages (mobile first): my statements, record, review the draft, with the witness.

Each route only renders its template; the page's script reads and changes the statement through
the JSON API (``/api/v1/statements``, ``/api/v1/uploads``), so access rules and the audit log
apply to the page exactly as to any client. The one thing computed here is the page count the
MG11 declaration states on the witness page, which only laying the statement out can tell.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from api.pages.common import PageUser, page_roles, render
from models import Template
from models.statement import REQUIRED_FIELDS, SATISFIED_BY
from models.users import Role
from workflow.access import AccessDenied, Permission
from workflow.exports import MG11_DECLARATION_TEMPLATE, page_count
from workflow.runtime import Runtime
from workflow.statements import LifecycleError, StatementNotFound

router = APIRouter(prefix="/officer", include_in_schema=False)

Officer = Annotated[PageUser, Depends(page_roles(Role.OFFICER))]
# Statement ids are uuid4 hex; anything else cannot name one, and never reaches a template.
StatementId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

TEMPLATE_CHOICES: tuple[tuple[str, str], ...] = (
    (Template.MG11.value, "Witness statement (MG11)"),
    (Template.MISSING_PERSON.value, "Missing person"),
)
# The words the declaration uses until the page count is known (the draft is not ready, or the
# statement is not this officer's): the confirmed declaration, with its count, replaces them.
PAGES_UNKNOWN = "the pages shown here,"


@router.get("", response_class=HTMLResponse)
def statements_page(request: Request, user: Officer) -> HTMLResponse:
    """My statements, newest first, each with its status; a button to record a new one."""
    return render(request, "officer_list.html", page="officer-list")


@router.get("/record", response_class=HTMLResponse)
def record_page(request: Request, user: Officer) -> HTMLResponse:
    """Record a statement: kept on the phone first, then uploaded in resumable chunks."""
    return render(request, "officer_record.html", page="officer-record", templates=TEMPLATE_CHOICES)


@router.get("/statements/{statement_id}", response_class=HTMLResponse)
def review_page(request: Request, statement_id: StatementId, user: Officer) -> HTMLResponse:
    """The draft: progress while it is drafted, then its fields, flags and narrative."""
    return render(
        request,
        "officer_review.html",
        page="officer-review",
        statement_id=statement_id,
        required_fields={t.value: list(names) for t, names in REQUIRED_FIELDS.items()},
        satisfied_by={name: list(alternatives) for name, alternatives in SATISFIED_BY.items()},
    )


def _declaration(request: Request, statement_id: str, user: PageUser) -> str:
    """The MG11 declaration with the page count the current version prints on. Only the count
    is disclosed (no statement content), so this look-up is not logged as a consultation; the
    page's own reading of the statement through the API is."""
    runtime: Runtime = request.app.state.runtime
    pages = PAGES_UNKNOWN
    try:
        with runtime.services.database.session() as session:
            record = runtime.statements.lookup(
                session, statement_id, user.principal, Permission.READ
            )
            content = runtime.statements.current_content(record)
            if content is not None:
                count = page_count(content, statement_id=record.id, officer=record.officer)
                pages = "1 page" if count == 1 else f"{count} pages"
    except (StatementNotFound, AccessDenied, LifecycleError):
        pass  # the page's script reports what the API says about this statement
    return MG11_DECLARATION_TEMPLATE.format(pages=pages)


@router.get("/statements/{statement_id}/witness", response_class=HTMLResponse)
def witness_page(request: Request, statement_id: StatementId, user: Officer) -> HTMLResponse:
    """With the witness: the statement in large type, the declaration, signature, confirm,
    submit."""
    return render(
        request,
        "officer_witness.html",
        page="officer-witness",
        statement_id=statement_id,
        declaration=_declaration(request, statement_id, user),
    )
