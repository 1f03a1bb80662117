"""The page framework and the officer's pages over HTTP, without a browser, on SQLite and
PostgreSQL.

A browser signs in as the login page does (``POST /api/v1/auth/login``, with a password or an
API token as the secret), which sets the session cookie; the pages are read with that cookie.
The checks: who gets which page (signed out: 303 to the login page and back; the wrong role: a
403 page), the DOM ids the scripts and the browser tests rely on, the CSRF token in the page,
the static files and the service worker (root scope, versioned cache, every file the officer's
pages load kept for offline use), the content security policy (no inline script or style
anywhere, blob: media, same-origin workers), the login page's refusal to send anyone off-site,
and the declaration's page count on the witness page without leaking another's statement.

The browser behaviour itself (recording, IndexedDB, resumable upload, offline) is tested in a
real browser elsewhere; here ``node --check`` at least parses every script.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from api.pages.common import ASSET_VERSION, STATIC_DIR, TEMPLATES_DIR, safe_next
from api.pages.officer import PAGES_UNKNOWN
from app import create_app
from models.users import Role
from security import accounts
from tests.factories import Account, account, drafted
from tests.pages.html import Page
from workflow.access import Permission
from workflow.exports import MG11_DECLARATION_TEMPLATE, page_count
from workflow.services import Services
from workflow.settings import Settings

PASSWORD = "a long enough pass phrase"


@dataclass
class Site:
    app: Any
    services: Services
    officer: Account
    other_officer: Account
    builder: Account
    admin: Account
    statement: str  # the officer's draft
    others: str  # another officer's draft

    def browser(self, who: Account | None = None, *, password: str | None = None) -> TestClient:
        """A client with no cookies, signed in as ``who`` the way the login page does it
        (with ``password`` when given, else with the account's API token)."""
        client = TestClient(self.app, follow_redirects=False)
        if who is not None:
            response = client.post(
                "/api/v1/auth/login",
                json={"name": who.principal.name, "secret": password or who.token},
            )
            assert response.status_code == 200, response.text
            client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url))
    services: Services = app.state.services
    services.database.migrate()
    officer = account(services, "PC 101 Ellis")
    other = account(services, "PC 202 Grant")
    statement = drafted(
        services,
        officer.principal,
        narrative="I saw the van reverse into the bollard outside the chemist.",
        fields={"witness.name": "Ruth Ayodele"},
        transcript="My name is Ruth Ayodele. I saw the van reverse into the bollard.",
    )
    others = drafted(services, other.principal, narrative="A secret about Rosebank Farm.")
    try:
        yield Site(
            app=app,
            services=services,
            officer=officer,
            other_officer=other,
            builder=account(services, "Casey Builder", Role.CASE_BUILDER),
            admin=account(services, "Ada Admin", Role.ADMIN, unit=None),
            statement=statement,
            others=others,
        )
    finally:
        services.close()


def officer_paths(site: Site) -> list[str]:
    return [
        "/officer",
        "/officer/record",
        f"/officer/statements/{site.statement}",
        f"/officer/statements/{site.statement}/witness",
    ]


# --- who gets which page ---------------------------------------------------------------------


def test_signed_out_every_page_goes_to_the_login_page_and_back(site: Site) -> None:
    client = site.browser()
    for path in ["/", *officer_paths(site), "/officer/record?template=mg11"]:
        response = client.get(path)
        assert response.status_code == 303, path
        location = response.headers["location"]
        assert location.startswith("/login?next="), location
        assert unquote(location.removeprefix("/login?next=")) == path
    # A session that has ended is the same as none.
    client.cookies.set("vs_session", "not-a-session")
    assert client.get("/officer").status_code == 303


def test_the_login_page_has_its_form_and_never_sends_anyone_off_site(site: Site) -> None:
    client = site.browser()
    response = client.get("/login", params={"next": "/officer/record"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    form = page.one("form", id="login-form")
    assert form["data-next"] == "/officer/record"
    page.one("input", name="name")
    assert page.one("input", name="secret")["type"] == "password"
    page.one("button", type="submit")
    page.one(id="login-error")
    for control in page.find("input"):
        page.one("label", for_=control["id"])
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        shown = Page(client.get("/login", params={"next": evil}).text)
        assert shown.one("form", id="login-form")["data-next"] == "/", evil
    assert safe_next("/cases?q=a") == "/cases?q=a"
    assert safe_next(None) == "/"


def test_signing_in_with_a_password_and_the_start_page_by_role(site: Site) -> None:
    with site.services.database.session() as session:
        accounts.set_password(session, site.officer.principal.name, PASSWORD)
    officer = site.browser(site.officer, password=PASSWORD)
    response = officer.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/officer"
    builder = site.browser(site.builder).get("/")
    assert builder.status_code == 303 and builder.headers["location"] == "/cases"
    admin = site.browser(site.admin).get("/")
    assert admin.status_code == 200
    page = Page(admin.text)
    page.one(id="nothing-to-review")
    page.one("button", id="sign-out")


def test_the_officer_pages_are_for_officers_only(site: Site) -> None:
    for who in (site.builder, site.admin):
        client = site.browser(who)
        for path in officer_paths(site):
            response = client.get(path)
            assert response.status_code == 403, (who.principal.name, path)
            assert response.headers["content-type"].startswith("text/html")
            assert "officer role" in response.text
            assert site.statement not in response.text.replace(path, "")


# --- the pages and their ids -----------------------------------------------------------------


def signed_in_page(client: TestClient, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    # base.html: the user's name, sign-out, the session's CSRF token, one stylesheet.
    assert page.one("meta", name="csrf-token")["content"] == client.headers["X-CSRF-Token"]
    page.one("button", id="sign-out")
    assert page.one(id="user-name") is not None
    assert [link["href"] for link in page.find("link", rel="stylesheet")] == [
        f"/static/app.css?v={ASSET_VERSION}"
    ]
    return page


def test_the_list_and_the_record_page(site: Site) -> None:
    client = site.browser(site.officer)
    listing = signed_in_page(client, "/officer")
    assert listing.one("a", id="new-statement")["href"] == "/officer/record"
    listing.one(id="statement-list")
    assert "PC 101 Ellis" in "".join(listing.text)

    record = signed_in_page(client, "/officer/record")
    record.one("select", id="template")
    assert [o["value"] for o in record.find("option")] == ["mg11", "missing_person"]
    record.one("label", for_="template")
    for button in ("record", "pause", "stop"):
        assert record.one("button", id=button)["type"] == "button"
    record.one(id="elapsed")
    meter = record.one("meter", id="level")
    assert (meter["min"], meter["max"]) == ("0", "1")
    record.one("label", for_="level")
    record.one(id="saved-list")
    record.one(id="safe-to-close")
    scripts = {s["src"].split("?")[0] for s in record.find("script")}
    assert {"/static/record.js", "/static/sw-register.js"} <= scripts


def test_the_review_page(site: Site) -> None:
    page = signed_in_page(site.browser(site.officer), f"/officer/statements/{site.statement}")
    root = page.one(id="review")
    assert root["data-statement-id"] == site.statement
    assert root["data-required"].startswith("{") and "witness.name" in root["data-required"]
    for element_id in ("progress", "fields", "flags", "version", "save-narrative"):
        page.one(id=element_id)
    page.one("textarea", id="narrative")
    page.one("label", for_="narrative")
    player = page.one("audio", id="player")
    assert player["src"] == f"/api/v1/statements/{site.statement}/audio"
    assert player["preload"] == "none"  # each fetch of the audio is an audited consultation
    to_witness = page.one("a", id="to-witness")
    assert to_witness["href"] == f"/officer/statements/{site.statement}/witness"
    # The page itself holds no statement content: the script reads it through the API.
    assert "bollard" not in "".join(page.text) and "Ruth Ayodele" not in "".join(page.text)


def test_the_witness_page_states_the_page_count_the_statement_prints_on(site: Site) -> None:
    client = site.browser(site.officer)
    page = signed_in_page(client, f"/officer/statements/{site.statement}/witness")
    root = page.one(id="witness")
    assert root["data-statement-id"] == site.statement
    for element_id in ("readback", "declaration", "clear-signature", "confirm", "submit", "status"):
        page.one(id=element_id)
    page.one("canvas", id="signature")
    page.one("input", id="place")
    page.one("label", for_="place")
    assert page.one("input", id="accept")["type"] == "checkbox"
    page.one("label", for_="accept")
    with site.services.database.session() as session:
        record = site.services.statements.lookup(
            session, site.statement, site.officer.principal, Permission.READ
        )
        content = site.services.statements.current_content(record)
        assert content is not None
        count = page_count(content, statement_id=record.id, officer=record.officer)
    pages = "1 page" if count == 1 else f"{count} pages"
    declaration = MG11_DECLARATION_TEMPLATE.format(pages=pages)
    assert declaration in "".join(page.text)
    # Another officer's statement, or none: the generic wording, and nothing of its content.
    for other in (site.others, "no-such-statement"):
        response = client.get(f"/officer/statements/{other}/witness")
        assert response.status_code == 200
        assert MG11_DECLARATION_TEMPLATE.format(pages=PAGES_UNKNOWN) in response.text
        assert "Rosebank" not in response.text
    # Ids that cannot name a statement never reach a template.
    assert client.get("/officer/statements/<script>/witness").status_code in (404, 422)


# --- static files, the service worker, the security policy -----------------------------------


def test_static_files_and_the_service_worker(site: Site) -> None:
    client = site.browser()
    css = client.get(f"/static/app.css?v={ASSET_VERSION}")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "no-cache"
    again = client.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    script = client.get("/static/record.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/static/nothing-here.js").status_code == 404
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert "javascript" in worker.headers["content-type"]
    assert worker.headers["service-worker-allowed"] == "/"
    assert worker.headers["cache-control"] == "no-cache"
    assert f'const VERSION = "{ASSET_VERSION}"' in worker.text
    assert "__ASSET_VERSION__" not in worker.text


def service_worker_assets() -> set[str]:
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    listed = re.search(r"const NAMES = \[(.*?)\]", source, re.S)
    assert listed is not None
    return set(re.findall(r'"([\w.-]+)"', listed.group(1)))


def module_imports(name: str) -> set[str]:
    source = (STATIC_DIR / name).read_text(encoding="utf-8")
    return set(re.findall(r'from\s+"\./([\w.-]+)"', source))


def test_the_service_worker_keeps_everything_the_offline_pages_load(site: Site) -> None:
    client = site.browser(site.officer)
    kept = service_worker_assets()
    for name in kept:
        assert (STATIC_DIR / name).is_file(), name
    for path in ("/officer", "/officer/record"):
        page = signed_in_page(client, path)
        loaded = {s["src"] for s in page.find("script")} | {
            link["href"] for link in page.find("link") if link.get("rel") in ("stylesheet", "icon")
        }
        wanted = {src.removeprefix("/static/").split("?")[0] for src in loaded}
        # ... and what those scripts import, and what those import.
        while True:
            more = set().union(*(module_imports(n) for n in wanted if n.endswith(".js")))
            if more <= wanted:
                break
            wanted |= more
        assert wanted <= kept, (path, wanted - kept)
        for src in loaded:
            assert src.endswith(f"?v={ASSET_VERSION}"), src  # the exact URLs the worker keeps


def test_every_script_import_resolves() -> None:
    for script in STATIC_DIR.glob("*.js"):
        for name in module_imports(script.name):
            assert (STATIC_DIR / name).is_file(), (script.name, name)


def test_the_security_policy_allows_no_inline_code(site: Site) -> None:
    client = site.browser(site.officer)
    for path in ["/login", *officer_paths(site), "/sw.js", "/static/app.css"]:
        policy = client.get(path).headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
        assert directives["default-src"] == ["'self'"]
        assert directives["media-src"] == ["'self'", "blob:"]
        assert directives["worker-src"] == ["'self'"]


def test_no_template_holds_an_inline_script_style_or_handler() -> None:
    templates = sorted(TEMPLATES_DIR.glob("*.html"))
    assert {"base.html", "login.html", "officer_record.html"} <= {t.name for t in templates}
    for template in templates:
        source = template.read_text(encoding="utf-8")
        page = Page(source)
        for attrs, content in page.scripts:
            assert attrs.get("src"), (template.name, attrs)
            assert not content.strip(), (template.name, content[:80])
        assert not page.find("style"), template.name
        for tag, attrs in page.tags:
            bad = [a for a in attrs if a == "style" or a.startswith("on")]
            assert not bad, (template.name, tag, bad)
            assert not attrs.get("href", "").lower().startswith("javascript:"), template.name


def test_every_script_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # Parsed as modules from stdin: ``node --check FILE.js`` takes a .js file for CommonJS, and
    # Node 20 then passes a file with an import statement in it without parsing the rest.
    for script in sorted(STATIC_DIR.glob("*.js")):
        done = subprocess.run(
            [node, "--input-type=module", "--check"],
            input=script.read_text(encoding="utf-8"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (script.name, done.stderr)
    broken = subprocess.run(
        [node, "--input-type=module", "--check"],
        input='import { a } from "./api.js";\nconst x = ;\n',
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode != 0  # the check can fail


def test_the_package_ships_the_pages() -> None:
    """pyproject's package-data globs (``pages/templates/*``, ``pages/static/*``) do not look
    into sub-folders: every file the pages need lies directly in those two folders."""
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"pages/templates/*"' in pyproject and '"pages/static/*"' in pyproject
    for folder in (TEMPLATES_DIR, STATIC_DIR):
        assert not [p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"]
