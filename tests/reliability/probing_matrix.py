"""Who may call what: the expected status of every route of the service, for every role, on
every kind of statement, as one table (issue 8, "probing").

``tests/reliability/test_probing.py`` walks the application's routes, looks each one up here
(a route missing from the table fails the test, so a new route must be classified) and sends
the request as each caller, on each target.

Callers: ``officer`` (officer A, unit north), ``case_builder`` and ``supervisor`` (north),
``administrator`` (no unit), ``anonymous`` (no credentials). API routes are called with the
caller's bearer token, page routes with the caller's session cookie.

Targets of a statement route (the statement in the path), in this order:
``own_draft`` and ``own_confirmed`` (officer A's), ``colleague_draft`` and
``colleague_confirmed`` (officer B's, same unit), ``other_unit`` (officer C's, unit south,
confirmed). Targets of an upload route: officer A's upload, officer B's.

A cell is one status for every target, or one per target separated by spaces. The rules
(workflow/access.py): a role without the permission is 403 before any statement is looked up;
a statement out of the caller's reach is 404, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

CALLERS = ("officer", "case_builder", "supervisor", "administrator", "anonymous")
STATEMENT_TARGETS = ("own_draft", "own_confirmed", "colleague_draft", "colleague_confirmed",
                     "other_unit")  # fmt: skip
UPLOAD_TARGETS = ("own_upload", "colleague_upload")


@dataclass(frozen=True)
class Row:
    """One route's expectations. kind: ``api`` (bearer), ``page`` (session cookie), or
    ``static`` (no credentials needed, sent with the cookie)."""

    kind: str
    officer: str
    case_builder: str
    supervisor: str
    administrator: str
    anonymous: str

    def cell(self, caller: str) -> str:
        value: str = getattr(self, caller)
        return value


# Reading a statement (READ, PLAY_AUDIO): the officer their own; a case builder the confirmed
# ones of the unit; a supervisor every one of the unit; an administrator none (403).
READ = Row("api", "200 200 404 404 404", "404 200 404 200 404", "200 200 200 200 404", "403", "401")
# EXPORT: officers and case builders; a supervisor reads but does not export.
EXPORT = Row("api", "200 200 404 404 404", "404 200 404 200 404", "403", "403", "401")

MATRIX: dict[str, Row] = {
    # --- open to all -------------------------------------------------------------------------
    "GET /healthz": Row("api", "200", "200", "200", "200", "200"),
    "GET /readyz": Row("api", "200", "200", "200", "200", "401"),
    # signing in with the account's own token; anonymous has none (a made-up account)
    "POST /api/v1/auth/login": Row("api", "200", "200", "200", "200", "401"),
    "POST /api/v1/auth/logout": Row("api", "204", "204", "204", "204", "204"),
    "GET /api/v1/auth/me": Row("api", "200", "200", "200", "200", "401"),
    # --- statements ------------------------------------------------------------------------
    "POST /api/v1/statements": Row("api", "202", "403", "403", "403", "401"),
    "GET /api/v1/statements": Row("api", "200", "200", "200", "403", "401"),
    "GET /api/v1/statements/{statement_id}": READ,
    "GET /api/v1/statements/{statement_id}/audio": READ,
    "GET /api/v1/statements/{statement_id}/progress": READ,
    "GET /api/v1/statements/{statement_id}/events": READ,
    "GET /api/v1/statements/{statement_id}/integrity": READ,
    "GET /api/v1/statements/{statement_id}/export.json": EXPORT,
    "GET /api/v1/statements/{statement_id}/export.pdf": EXPORT,
    # EDIT and CONFIRM: the officer's own, while a draft (a confirmed one is 409)
    "PATCH /api/v1/statements/{statement_id}": Row(
        "api", "200 409 404 404 404", "403", "403", "403", "401"
    ),
    "POST /api/v1/statements/{statement_id}/confirm": Row(
        "api", "200 409 404 404 404", "403", "403", "403", "401"
    ),
    # SUBMIT: the officer's own and a case builder's unit's, once confirmed (a draft is 409)
    "POST /api/v1/statements/{statement_id}/submit": Row(
        "api", "409 202 404 404 404", "404 202 404 202 404", "403", "403", "401"
    ),
    # REASSIGN (to officer B): a supervisor, within the unit
    "POST /api/v1/statements/{statement_id}/reassign": Row(
        "api", "403", "403", "200 200 200 200 404", "403", "401"
    ),
    # --- resumable uploads (the officer's own; another's is 404) -------------------------------
    "POST /api/v1/uploads": Row("api", "201", "403", "403", "403", "401"),
    "GET /api/v1/uploads/{upload_id}": Row("api", "200 404", "403", "403", "403", "401"),
    "PUT /api/v1/uploads/{upload_id}": Row("api", "200 404", "403", "403", "403", "401"),
    # --- the caller's own enrolled voice ---------------------------------------------------------
    # enrolling: officers only; the probe sends no multipart form, refused past the role check
    "PUT /api/v1/me/voice": Row("api", "415", "403", "403", "403", "401"),
    # seeing and removing one's own: anyone signed in (none enrolled: nothing to remove)
    "GET /api/v1/me/voice": Row("api", "200", "200", "200", "200", "401"),
    "DELETE /api/v1/me/voice": Row("api", "204", "204", "204", "204", "401"),
    # officers only; the probe sends a file that is not audio: refused past the role check
    "POST /v1/audio/transcriptions": Row("api", "400", "403", "403", "403", "401"),
    # --- administration (administrators only) -------------------------------------------------
    "GET /api/v1/admin/users": Row("api", "403", "403", "403", "200", "401"),
    "POST /api/v1/admin/users": Row("api", "403", "403", "403", "201", "401"),
    "POST /api/v1/admin/users/{name}/revoke": Row("api", "403", "403", "403", "200", "401"),
    "POST /api/v1/admin/users/{name}/tokens": Row("api", "403", "403", "403", "201", "401"),
    "GET /api/v1/admin/audit": Row("api", "403", "403", "403", "200", "401"),
    "GET /api/v1/admin/audit/verify": Row("api", "403", "403", "403", "200", "401"),
    "GET /api/v1/admin/retention": Row("api", "403", "403", "403", "200", "401"),
    "PUT /api/v1/admin/retention": Row("api", "403", "403", "403", "200", "401"),
    "POST /api/v1/admin/retention/apply": Row("api", "403", "403", "403", "200", "401"),
    # ERASE: an administrator, any statement (with a justification)
    "POST /api/v1/admin/statements/{statement_id}/erase": Row(
        "api", "403", "403", "403", "200", "401"
    ),
    # --- pages (session cookie; signed out is 303 to /login, the wrong role a 403 page) -------
    # "/" sends each to their start page; an administrator gets "nothing to review" (200)
    "GET /": Row("page", "303", "303", "303", "200", "303"),
    "GET /login": Row("page", "200", "200", "200", "200", "200"),
    "GET /officer": Row("page", "200", "403", "403", "403", "303"),
    "GET /officer/record": Row("page", "200", "403", "403", "403", "303"),
    # A statement page is a frame: its script reads the statement through the API, which
    # decides (the 404s above); the frame itself holds no statement content.
    "GET /officer/statements/{statement_id}": Row("page", "200", "403", "403", "403", "303"),
    "GET /officer/statements/{statement_id}/witness": Row(
        "page", "200", "403", "403", "403", "303"
    ),
    "GET /cases": Row("page", "403", "200", "200", "403", "303"),
    "GET /cases/{statement_id}": Row("page", "403", "200", "200", "403", "303"),
    # --- the pages' own files: public, they hold no data ---------------------------------------
    "GET /sw.js": Row("static", "200", "200", "200", "200", "200"),
    "MOUNT /static": Row("static", "200", "200", "200", "200", "200"),
}
