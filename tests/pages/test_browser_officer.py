"""The officer's pages in a real Chromium, with a fake microphone playing a recorded witness.

The officer signs in, records the witness (the fixture, spoken into the fake microphone), sees
the recording saved on the phone and uploaded, watches the draft being made, plays a field's
span, fills the placeholders, edits, and goes through the statement with the witness: signs,
confirms, submits. Two more recordings lose the signal: one before its upload starts, one in
the middle of it; each survives a reload with no signal and arrives whole when the signal
returns, with the SHA-256 of what the phone recorded.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import BrowserContext, Page, Request, Route, expect

from tests.pages.conftest import (
    DRAFT_TIMEOUT_MS,
    UPLOAD_TIMEOUT_MS,
    WATCH_UPLOAD_STATES,
    LiveService,
    LocalRecording,
    Microphone,
    console_errors,
    dump,
    local_recordings,
    shoot,
    sign_in,
    statement_json,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The upload's chunk size in the contract: a recording longer than this crosses two PUTs.
CHUNK_BYTES = 256 * 1024
# What the officer types when a placeholder asks for a value the witness then gave.
ANSWERS = {
    "incident.location": "Market Street, Penrith",
    "missing.last_seen_location": "Market Street, Penrith",
    "missing.clothing": "a red coat and blue jeans",
    "missing.name": "Emma Lowe",
    "witness.name": "Sarah Jane Holloway",
}
# The recording screen is shot this far into the recording: the clock and the meter moving.
SHOT_AFTER_S = 5.0
# Keeps what #progress said when the page was parsed, before any server-sent event arrived.
PROGRESS_AS_SERVED = """document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('progress');
  window.__progressAsServed = box ? box.innerText : null;
}, { capture: true, once: true });"""
UPLOADED = "uploaded"
SAVED = "saved on this phone"
STATE_PATTERN = re.compile(r"^(saved on this phone|uploading \d{1,3}%|uploaded|upload failed: .+)$")


# --- steps ----------------------------------------------------------------------------------


def open_recorder(page: Page, template: str) -> None:
    page.locator("#new-statement").click()
    page.wait_for_url(re.compile(r"/officer/record$"))
    page.locator("select#template").select_option(template)
    # The service worker keeps the recording page for when there is no signal.
    assert page.evaluate("async () => Boolean(await navigator.serviceWorker.ready)")
    page.evaluate(WATCH_UPLOAD_STATES)


def record(page: Page, seconds: float, *, screenshot: str | None = None) -> None:
    """Record for ``seconds`` of elapsed time, checking the clock and the level meter move."""
    page.locator("#record").click()
    started = time.monotonic()
    expect(page.locator("#stop")).to_be_enabled()
    expect(page.locator("#elapsed")).not_to_have_text("0:00", timeout=5_000)
    expect(page.locator("#elapsed")).to_have_text(re.compile(r"^\d+:\d\d$"))
    # The fake microphone is speaking: the live input level must show it.
    page.wait_for_function("() => document.getElementById('level').value > 0.05", timeout=5_000)
    if screenshot:
        page.wait_for_timeout(max(0.0, SHOT_AFTER_S - (time.monotonic() - started)) * 1000)
        shoot(page, screenshot)
    left_ms = seconds * 1000 - (time.monotonic() - started) * 1000
    if left_ms > 0:
        page.wait_for_timeout(left_ms)  # not time.sleep: Playwright's events keep flowing
    page.locator("#stop").click()


def the_recording(page: Page) -> Any:
    rows = page.locator("#saved-list .recording[data-local-id]")
    expect(rows).to_have_count(1)
    return rows.first


def states_seen(page: Page, local_id: str) -> list[str]:
    return [s["text"] for s in page.evaluate("window.__uploadStates || []") if s["id"] == local_id]


def statement_id_of(row: Any) -> str:
    link = row.locator("a.open-statement")
    expect(link).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    href = link.get_attribute("href") or ""
    found = re.fullmatch(r"/officer/statements/([^/?#]+)", href)
    assert found, f"the uploaded recording links to {href!r}, not to /officer/statements/{{id}}"
    return found.group(1)


def wait_for_draft(page: Page) -> None:
    expect(page.locator("#progress")).to_be_hidden(timeout=DRAFT_TIMEOUT_MS)
    expect(page.locator("#fields .field[data-name]").first).to_be_visible()


def answer_placeholders(page: Page) -> tuple[list[str], list[str]]:
    """Fill the first placeholder the witness can answer, mark every other one not stated.
    Returns (filled, marked not stated)."""
    filled: list[str] = []
    not_stated: list[str] = []
    to_witness = page.locator("a#to-witness")
    while (placeholders := page.locator("#fields .field.placeholder[data-name]")).count():
        expect(to_witness).to_have_attribute("aria-disabled", "true")
        field = placeholders.first
        name = field.get_attribute("data-name") or ""
        version = int(page.locator("#version").inner_text())
        if not filled and name in ANSWERS:
            field.locator("input.field-input").fill(ANSWERS[name])
            field.locator("button.save").click()
            filled.append(name)
        else:
            field.locator("button.not-stated").click()
            not_stated.append(name)
        expect(page.locator("#version")).to_have_text(str(version + 1))
        done = page.locator(f'#fields .field[data-name="{name}"]')
        expect(done).not_to_have_class(re.compile(r"\bplaceholder\b"))
    expect(to_witness).not_to_have_attribute("aria-disabled", "true")
    return filled, not_stated


def play_field(page: Page, name: str, start_s: float, end_s: float) -> None:
    """Tap a field's play button: the player must play from its start and stop at its end."""
    page.evaluate(
        """() => {
          const p = document.getElementById('player');
          window.__played = [];
          p.addEventListener('playing', () => window.__played.push(['playing', p.currentTime]));
          p.addEventListener('pause', () => window.__played.push(['pause', p.currentTime]));
        }"""
    )
    page.locator(f'#fields .field[data-name="{name}"] button.play').click()
    page.wait_for_function(
        "() => (window.__played || []).some(([kind]) => kind === 'pause')", timeout=15_000
    )
    played: list[list[Any]] = page.evaluate("window.__played")
    first_playing = next(t for kind, t in played if kind == "playing")
    paused_at = next(t for kind, t in played if kind == "pause")
    assert start_s - 0.3 <= first_playing <= start_s + 0.5, (played, start_s, end_s)
    # Stopped at the span's end: within a frame or a timeupdate (a quarter second) after it.
    assert end_s - 0.1 <= paused_at <= end_s + 0.6, (played, start_s, end_s)


def sign(page: Page) -> None:
    """The witness signs with a finger: a pointer drag across the signature pad."""
    canvas = page.locator("canvas#signature")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 40, f"signature pad is {box}"
    x0, y0 = box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.6
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 25):
        x = x0 + box["width"] * 0.7 * i / 24
        y = y0 - box["height"] * 0.3 * ((i % 6) / 5)
        page.mouse.move(x, y, steps=2)
    page.mouse.up()
    inked = page.evaluate(
        """() => {
          const c = document.getElementById('signature');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let dark = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] < 128) dark++;
          return dark;
        }"""
    )
    assert inked > 50, f"the signature pad shows {inked} inked pixels after the drag"


# --- the whole journey ----------------------------------------------------------------------


def test_the_officer_records_reviews_and_the_witness_signs(
    phone: BrowserContext, live: LiveService, microphone: Microphone
) -> None:
    page = phone.new_page()
    errors = console_errors(page)
    sign_in(page, live.officer, "/officer", screenshot="login")
    expect(page.locator("#user-name")).to_have_text(live.officer.name)

    open_recorder(page, "mg11")
    shoot(page, "record-ready")
    # Hold the model: the draft waits, so the page's drafting progress can be seen.
    lock = live.services.pipeline_lock
    lock.acquire()
    try:
        record(page, microphone.duration_s + 1.0, screenshot="record-recording")
        row = the_recording(page)
        local_id = row.get_attribute("data-local-id") or ""
        state = row.locator(".upload-state")
        expect(state).to_have_text(UPLOADED, timeout=UPLOAD_TIMEOUT_MS)
        seen = states_seen(page, local_id)
        assert seen and seen[0] == SAVED, f"states shown, in order: {seen}"
        assert all(STATE_PATTERN.match(s) for s in seen), seen
        expect(page.locator("#safe-to-close")).to_be_visible()
        sid = statement_id_of(row)
        shoot(page, "record-uploaded")
        assert local_recordings(page) == [], "the phone's copy is deleted once uploaded"

        page.add_init_script(PROGRESS_AS_SERVED)
        row.locator("a.open-statement").click()
        page.wait_for_url(re.compile(rf"/officer/statements/{sid}$"))
        progress = page.locator("#progress")
        expect(progress).to_be_visible()
        # The drafting events (queued, decoding) change what the page said as it was served.
        served = page.evaluate("() => window.__progressAsServed")
        assert served, "no #progress in the page as served"
        expect(progress).not_to_have_text(served, timeout=15_000)
        shoot(page, "review-progress")
    finally:
        lock.release()

    wait_for_draft(page)
    body = statement_json(live, live.officer, sid)
    assert body["status"] == "draft", dump(body)
    content = body["statement"]
    fields: dict[str, Any] = content["fields"]
    assert fields["witness.name"]["value"] == "Sarah Jane Holloway", dump(fields)
    for name, field in fields.items():
        shown = page.locator(f'#fields .field[data-name="{name}"]')
        expect(shown.locator(".value")).to_contain_text(str(field["value"]))
    for kind in ("missing_required", "low_confidence", "safeguarding"):
        flagged = [f for f in content["flags"] if f["kind"] == kind]
        if flagged:
            expect(page.locator(f".flag.{kind}").first).to_be_visible()
    expect(page.locator("#version")).to_have_text("1")
    shoot(page, "review")

    name_span = fields["witness.name"]
    play_field(page, "witness.name", name_span["start_s"], name_span["end_s"])

    filled, not_stated = answer_placeholders(page)

    # The officer corrects the address the witness gave (tiny.en mishears "fourteen").
    version = int(page.locator("#version").inner_text())
    address = page.locator('#fields .field[data-name="witness.address"]')
    if not address.count():
        page.locator("#add-field").select_option("witness.address")
        page.locator("#add-field-button").click()
    else:
        address.locator("button.edit").click()
    address.locator("input.field-input").fill("14 Lowther Street, Carlisle")
    address.locator("button.save").click()
    expect(page.locator("#version")).to_have_text(str(version + 1))
    expect(address.locator(".value")).to_contain_text("14 Lowther Street")

    narrative = page.locator("textarea#narrative")
    text = narrative.input_value()
    assert "Sarah Jane Holloway" in text
    edited = re.sub(r"I live at .*?Carlisle\.", "I live at 14 Lowther Street, Carlisle.", text)
    if edited == text:
        edited = text.rstrip() + "\n\nI have nothing more to add."
    narrative.fill(edited)
    page.locator("#save-narrative").click()
    expect(page.locator("#version")).to_have_text(str(version + 2))

    body = statement_json(live, live.officer, sid)
    assert body["current_version"] == version + 2
    content = body["statement"]
    assert content["fields"]["witness.address"]["value"] == "14 Lowther Street, Carlisle"
    assert content["fields"]["witness.address"]["source"] == "officer"
    assert content["narrative"].strip() == edited.strip()
    for name in filled:
        assert content["fields"][name]["value"], name
    assert set(not_stated) <= set(content.get("not_stated", []))

    # With the witness.
    page.locator("a#to-witness").click()
    page.wait_for_url(re.compile(rf"/officer/statements/{sid}/witness$"))
    readback = page.locator("#readback")
    expect(readback).to_contain_text("Sarah Jane Holloway")
    expect(readback).to_contain_text("14 Lowther Street")
    expect(page.locator("#declaration")).to_contain_text("true to the best of my knowledge")
    sign(page)
    page.locator("input#place").fill("Penrith police station")
    page.locator("input#accept").check()
    shoot(page, "witness")
    page.locator("button#confirm").click()
    expect(page.locator("#status")).to_have_text("confirmed")
    expect(page.locator("button#submit")).to_be_visible()
    page.locator("button#submit").click()
    expect(page.locator("#status")).to_have_text("submitted")
    shoot(page, "witness-submitted")

    body = statement_json(live, live.officer, sid)
    assert body["status"] == "submitted", dump(body)
    confirmation = body["confirmation"]
    assert confirmation["witness_declaration_accepted"] is True
    assert confirmation["place"] == "Penrith police station"
    assert confirmation["signature_sha256"], "the signature pad's PNG went with the confirmation"
    assert confirmation["version"] == version + 2

    page.goto("/officer")
    row = page.locator(f'#statement-list .statement-row[data-id="{sid}"]')
    expect(row.locator(".status")).to_contain_text("submitted")
    shoot(page, "officer-list")
    assert not errors, errors


# --- no signal ------------------------------------------------------------------------------


def resume_and_check(
    page: Page, phone: BrowserContext, live: LiveService, local_id: str, kept: LocalRecording
) -> str:
    """Bring the signal back: the recording uploads, and the service holds what the phone
    recorded, byte for byte."""
    phone.set_offline(False)
    row = page.locator(f'#saved-list .recording[data-local-id="{local_id}"]')
    expect(row.locator(".upload-state")).to_have_text(UPLOADED, timeout=UPLOAD_TIMEOUT_MS)
    expect(page.locator("#safe-to-close")).to_be_visible()
    sid = statement_id_of(row)
    body = statement_json(live, live.officer, sid)
    assert body["audio_sha256"] == kept.sha256, "the service holds other bytes than the phone"
    assert body["audio_bytes"] == kept.size
    assert local_recordings(page) == [], "the phone's copy is deleted once the service has it"
    return sid


def reload_offline(page: Page, phone: BrowserContext, local_id: str) -> None:
    """With no signal, reload: the service worker opens the page, and the recording is still
    listed as kept on the phone, with nothing said to be safe to close.

    The browser's HTTP cache is switched off first: a phone may have dropped it by the time the
    signal goes, and the page must then open from what the service worker keeps."""
    cdp = phone.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    phone.set_offline(True)
    page.reload()
    row = page.locator(f'#saved-list .recording[data-local-id="{local_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".upload-state")).to_have_text(
        re.compile(r"^(saved on this phone|upload failed: .+)$")
    )
    expect(page.locator("#safe-to-close")).to_be_hidden()


def test_a_recording_cut_off_before_its_upload_survives_a_reload_and_arrives_whole(
    phone: BrowserContext, live: LiveService, microphone: Microphone
) -> None:
    page = phone.new_page()
    errors = console_errors(page)
    sign_in(page, live.officer, "/officer")
    # A missing-person report: its required fields were not in what the witness said, so the
    # draft has placeholders to fill or mark not stated.
    open_recorder(page, "missing_person")
    page.locator("#record").click()
    expect(page.locator("#stop")).to_be_enabled()
    page.wait_for_timeout(microphone.duration_s * 1000 + 1000)
    phone.set_offline(True)  # the signal goes before the recording is stopped
    page.locator("#stop").click()

    row = the_recording(page)
    local_id = row.get_attribute("data-local-id") or ""
    expect(row.locator(".upload-state")).to_have_text(SAVED)
    expect(page.locator("#safe-to-close")).to_be_hidden()
    [kept] = local_recordings(page)
    assert kept.key == local_id and kept.size > 0, kept

    reload_offline(page, phone, local_id)
    shoot(page, "record-offline")
    assert local_recordings(page) == [kept], "the reload lost the phone's copy"

    sid = resume_and_check(page, phone, live, local_id, kept)
    page.locator(f'#saved-list .recording[data-local-id="{local_id}"] a.open-statement').click()
    page.wait_for_url(re.compile(rf"/officer/statements/{sid}$"))
    wait_for_draft(page)
    expect(page.locator("a#to-witness")).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#fields .flag.missing_required").first).to_be_visible()
    shoot(page, "review-placeholders")
    filled, not_stated = answer_placeholders(page)
    assert filled and not_stated, (filled, not_stated)
    content = statement_json(live, live.officer, sid)["statement"]
    assert set(not_stated) <= set(content["not_stated"])
    assert content["fields"][filled[0]]["source"] == "officer"
    assert not [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e], errors


def test_a_recording_cut_off_mid_upload_resumes_from_where_it_stopped(
    phone: BrowserContext, live: LiveService, microphone: Microphone
) -> None:
    page = phone.new_page()
    sign_in(page, live.officer, "/officer")
    open_recorder(page, "mg11")

    # The signal drops as the second chunk leaves: that PUT never arrives.
    puts: list[int] = []
    cut: dict[str, Any] = {}

    def on_put(route: Route, request: Request) -> None:
        if request.method != "PUT":
            route.continue_()
            return
        offset = int(parse_qs(urlparse(request.url).query)["offset"][0])
        puts.append(offset)
        if offset > 0 and not cut:
            cut["upload"] = urlparse(request.url).path.rsplit("/", 1)[-1]
            cut["offset"] = offset
            phone.set_offline(True)
            route.abort("internetdisconnected")
            return
        route.continue_()

    phone.route(re.compile(r"/api/v1/uploads/[^/?]+\?offset=\d+$"), on_put)
    record(page, microphone.duration_s + 1.0)
    row = the_recording(page)
    local_id = row.get_attribute("data-local-id") or ""
    [kept] = local_recordings(page)
    assert kept.size > CHUNK_BYTES, (
        f"the recording is {kept.size} bytes: too short to be cut off between two chunks"
    )
    page.wait_for_function("() => !navigator.onLine", timeout=UPLOAD_TIMEOUT_MS)
    assert cut, f"no second chunk was sent (PUT offsets: {puts})"
    assert puts[0] == 0 and cut["offset"] == CHUNK_BYTES, puts
    expect(row.locator(".upload-state")).to_have_text(
        re.compile(r"^(saved on this phone|upload failed: .+)$")
    )

    # The service holds the first chunk, and nothing is complete yet.
    with live.api(live.officer) as api:
        held = api.get(f"/api/v1/uploads/{cut['upload']}").json()
    assert held["offset"] == CHUNK_BYTES and held["complete"] is False, held

    reload_offline(page, phone, local_id)
    assert local_recordings(page) == [kept]
    before = len(puts)
    resume_and_check(page, phone, live, local_id, kept)
    resumed = puts[before:]
    assert resumed and resumed[0] == CHUNK_BYTES, (
        f"the upload did not go on from the {CHUNK_BYTES} bytes the service held: "
        f"PUT offsets after the signal came back: {resumed}"
    )
