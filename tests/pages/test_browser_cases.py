"""The case builder's desk in a real Chromium: find a confirmed statement in ``/cases`` by its
filters and by words said in it, open it with a reason, listen to it with the transcript
following along, seek by clicking a word, read the versions' diff, export it, submit it.

The statements are made through the API by the officer, from the fixture recordings (so the
transcripts are real tiny.en drafts), edited once and confirmed with a signature: what a case
builder sees once the officer is done.
"""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from models.statement import REQUIRED_FIELDS, Template
from security import audit
from tests.conftest import AUDIO_FIXTURES
from tests.pages.conftest import (
    CASE_BUILDER_NAME,
    DRAFT_TIMEOUT_MS,
    LiveService,
    console_errors,
    dump,
    shoot,
    sign_in,
    statement_json,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MG11_DATE = "2026-11-20"
MISSING_DATE = "2026-11-19"
JUSTIFICATION = "case file 42/2026: preparing the assault file for the CPS"


def signature_png() -> str:
    image = Image.new("L", (240, 80), 255)
    for x in range(20, 220):
        image.putpixel((x, 40 + (x % 11) - 5), 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def confirmed_statement(
    live: LiveService, audio: Path, template: str, statement_date: str, *, fix: dict[str, str]
) -> dict[str, Any]:
    """What the officer does through the API: upload, wait for the draft, correct it once
    (``fix``: fields; the narrative gets the same correction), answer the placeholders, confirm
    with the witness's signature. Returns the confirmed statement."""
    with live.api(live.officer) as api:
        with audio.open("rb") as data:
            created = api.post(
                "/api/v1/statements",
                files={"audio": (audio.name, data, "audio/ogg")},
                data={"template": template, "statement_date": statement_date},
            )
        assert created.status_code == 202, created.text
        sid = created.json()["id"]
        deadline = time.monotonic() + DRAFT_TIMEOUT_MS / 1000
        while (body := api.get(f"/api/v1/statements/{sid}").json())["status"] != "draft":
            assert body["status"] in ("received", "transcribing"), dump(body)
            assert time.monotonic() < deadline, "the draft was not made in time"
            time.sleep(0.2)
        content = body["statement"]
        narrative = content["narrative"]
        for name, value in fix.items():
            heard = content["fields"].get(name, {}).get("text")
            if heard and heard in narrative:
                narrative = narrative.replace(heard, value)
        unanswered = [
            name
            for name in REQUIRED_FIELDS[Template(template)]
            if name not in content["fields"] and name not in fix
        ]
        edited = api.patch(
            f"/api/v1/statements/{sid}",
            json={
                "fields": fix,
                "not_stated": unanswered,
                "narrative": narrative,
                "base_version": body["current_version"],
            },
        )
        assert edited.status_code == 200, edited.text
        confirmed = api.post(
            f"/api/v1/statements/{sid}/confirm",
            json={
                "witness_declaration_accepted": True,
                "signature_png_base64": signature_png(),
                "place": "Penrith police station",
            },
        )
        assert confirmed.status_code == 200, confirmed.text
        result: dict[str, Any] = confirmed.json()
        return result


@pytest.fixture(scope="module")
def statements(live: LiveService) -> dict[str, dict[str, Any]]:
    assault = confirmed_statement(
        live,
        AUDIO_FIXTURES / "mg11_assault.ogg",
        "mg11",
        MG11_DATE,
        fix={"witness.address": "14 Lowther Street, Carlisle"},
    )
    missing = confirmed_statement(
        live,
        AUDIO_FIXTURES / "missing_person.ogg",
        "missing_person",
        MISSING_DATE,
        fix={"witness.phone": "07700 900123"},
    )
    return {"assault": assault, "missing": missing}


def listed(page: Page) -> list[str]:
    return [
        row.get_attribute("data-id") or ""
        for row in page.locator("#case-list .case-row[data-id]").all()
    ]


def search(page: Page, **filters: str) -> list[str]:
    """Fill the filter form (every filter not given is cleared) and search."""
    form = page.locator("form#filters")
    form.locator("select[name=status]").select_option(filters.get("status", ""))
    form.locator("select[name=template]").select_option(filters.get("template", ""))
    form.locator("input[name=officer]").fill(filters.get("officer", ""))
    form.locator("input[name=date]").fill(filters.get("date", ""))
    form.locator("input[name=q]").fill(filters.get("q", ""))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    return listed(page)


def test_the_case_builder_finds_plays_and_exports_a_statement(
    desk: BrowserContext, live: LiveService, statements: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    assault, missing = statements["assault"]["id"], statements["missing"]["id"]
    page = desk.new_page()
    errors = console_errors(page)
    sign_in(page, live.case_builder, "/cases")
    assert {assault, missing} <= set(listed(page))
    shoot(page, "cases-list")

    # Each filter finds the assault statement and leaves the missing-person report out.
    for filters in (
        {"status": "confirmed", "template": "mg11"},
        {"q": "Holloway"},
        {"q": "Market Street Penrith"},
        {"officer": live.officer.name, "date": MG11_DATE},
    ):
        found = search(page, **filters)
        assert assault in found and missing not in found, (filters, found)
    assert search(page, template="missing_person", q="Whitfield") == [missing]
    assert search(page, status="submitted") == []
    assert search(page, q="Holloway Whitfield") == []  # every word must appear
    found = search(page, q="Holloway")
    shoot(page, "cases-search")

    page.locator(f'#case-list .case-row[data-id="{assault}"] a').first.click()
    page.wait_for_url(re.compile(rf"/cases/{assault}$"))
    expect(page.locator("input#justification")).to_be_visible()
    expect(page.locator("#transcript span.word")).to_have_count(0)
    shoot(page, "case-justify")
    page.locator("input#justification").fill(JUSTIFICATION)
    page.locator("button#open").click()

    words = page.locator("#transcript span.word[data-start][data-end]")
    expect(words.first).to_be_visible()
    body = statement_json(live, live.officer, assault)
    transcript_words = [
        w for s in body["statement"]["transcript"]["segments"] for w in s.get("words", [])
    ]
    assert words.count() == len(transcript_words), (words.count(), len(transcript_words))
    expect(page.locator("#transcript")).to_contain_text("Sarah Jane Holloway")
    player = page.locator("audio#player")
    page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=15_000
    )

    # The fields with their evidence, beside the transcript.
    address = page.locator('#fields .field[data-name="witness.address"]')
    expect(address).to_contain_text("14 Lowther Street, Carlisle")
    expect(page.locator('#fields .field[data-name="witness.name"]')).to_contain_text(
        "Sarah Jane Holloway"
    )

    # Play: the word being spoken is highlighted.
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function(
        "() => document.getElementById('player').currentTime > 1.5", timeout=15_000
    )
    current = page.locator("#transcript span.word.current")
    expect(current).to_have_count(1)
    now = float(player.evaluate("p => p.currentTime"))
    start = float(current.get_attribute("data-start") or "nan")
    assert start <= now + 0.05, (start, now)
    page.evaluate("document.getElementById('player').pause()")

    # Click a word: the player seeks to it, and it becomes the current word.
    target = words.nth(len(transcript_words) // 2)
    target_start = float(target.get_attribute("data-start") or "nan")
    target.click()
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {target_start}) < 0.6"
    )
    expect(target).to_have_class(re.compile(r"\bcurrent\b"))
    page.evaluate("document.getElementById('player').pause()")

    # The versions: from the machine draft to the confirmed text, as a diff.
    versions = page.locator("#versions")
    expect(versions).to_contain_text("Version 1")
    expect(versions).to_contain_text("Version 2")
    expect(versions.locator("ins").first).to_be_visible()
    expect(versions.locator("ins").first).to_contain_text("14")
    assert versions.locator("del").count() >= 1
    confirmation = body["confirmation"]
    expect(page.locator("#confirmation")).to_contain_text(confirmation["content_sha256"])
    expect(page.locator("#confirmation")).to_contain_text(live.officer.name)
    shoot(page, "case")

    # Exports: the MG11 PDF and the JSON, fetched with the reason and downloaded.
    with page.expect_download() as pdf_download:
        page.locator("button#export-pdf").click()
    pdf_path = tmp_path / "statement.pdf"
    pdf_download.value.save_as(pdf_path)
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF"), pdf[:20]
    document = pdfium.PdfDocument(pdf)
    first = " ".join(document[0].get_textpage().get_text_range().split())
    assert "MG 11" in first and "Sarah Jane Holloway" in first, first[:500]
    with page.expect_download() as json_download:
        page.locator("button#export-json").click()
    json_path = tmp_path / "statement.json"
    json_download.value.save_as(json_path)
    assert confirmation["content_sha256"] in json_path.read_text(encoding="utf-8")

    # Submit: the submission record appears.
    submit = page.locator("button#submit")
    expect(submit).to_be_visible()
    submit.click()
    expect(page.locator("#submission")).not_to_contain_text("Not submitted", timeout=15_000)
    expect(page.locator("#status")).to_contain_text(re.compile("submitted", re.I))
    expect(submit).to_be_hidden()
    shoot(page, "case-submitted")
    assert statement_json(live, live.officer, assault)["status"] == "submitted"

    # The reason was recorded with the case builder's every reading, audio and exports.
    with live.services.database.session() as session:
        entries, _ = audit.query(session, statement_id=assault, limit=1000)
        mine = [
            (e.operation, e.justification) for e in entries if e.actor_name == CASE_BUILDER_NAME
        ]
    assert mine, "the case builder's readings are not in the audit log"
    assert all(reason == JUSTIFICATION for _, reason in mine), mine
    operations = [op for op, _ in mine]
    for operation in ("statement.view", "audio.play", "statement.submit"):
        assert operation in operations, (operation, mine)
    assert operations.count("statement.export") == 2, mine  # the PDF and the JSON
    assert not errors, errors
