"""The browser tests' world: the real service on a localhost port, Debian's Chromium driven by
Playwright with a fake microphone that plays a fixture recording, signed-in accounts, and the
screenshots written to ``docs/screens/``.

Chromium is the system one (``apt-get install chromium``; ``scripts/setup.sh --dev`` installs it
when missing), launched by path: no browser is downloaded. ``VOICE_STATEMENT_CHROMIUM`` points
at another binary. Without one the browser tests are skipped with that reason.

The service is one app for the whole session (one SQLite database, one loaded tiny.en), run by
uvicorn in a thread, so the page, the API the tests check it against and the drafting worker are
the same process: a test can hold ``services.pipeline_lock`` to keep a draft from being made.
http://127.0.0.1 is a secure context, so the microphone, IndexedDB and the service worker work
without TLS.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av
import httpx
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from app import create_app
from tests.conftest import AUDIO_FIXTURES, REPO, add_account, bearer
from workflow.pipeline import StatementPipeline
from workflow.services import Services
from workflow.settings import Settings

DEFAULT_CHROMIUM = "/usr/bin/chromium"
SCREENS = REPO / "docs" / "screens"
# The two sizes the issue names: an Android phone held upright, and a case builder's desk.
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1920, "height": 1080}
SIZES = {"phone": PHONE, "desk": DESK}

MICROPHONE_FIXTURE = AUDIO_FIXTURES / "mg11_assault.ogg"
# Chromium's fake capture device wants 16-bit PCM WAV; 48 kHz mono is what a phone's
# MediaRecorder would be fed anyway.
MICROPHONE_RATE_HZ = 48_000

OFFICER_NAME = "PC 4521 Dawson"
CASE_BUILDER_NAME = "DC 310 Rigg"
UNIT = "north"

# How long a page may take: a draft is one tiny.en transcription on a small CI machine.
DRAFT_TIMEOUT_MS = 180_000
UPLOAD_TIMEOUT_MS = 60_000


# --- the browser ----------------------------------------------------------------------------


def chromium_executable() -> Path | None:
    path = Path(os.environ.get("VOICE_STATEMENT_CHROMIUM") or DEFAULT_CHROMIUM)
    return path if path.is_file() and os.access(path, os.X_OK) else None


@dataclass(frozen=True)
class Microphone:
    """The WAV the fake capture device plays (once: ``%noloop``) and how long it speaks."""

    wav: Path
    duration_s: float


def _decode_to_wav(source: Path, target: Path) -> float:
    """Decode ``source`` to 16-bit mono PCM WAV at 48 kHz; returns its duration in seconds."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=MICROPHONE_RATE_HZ)
    pcm = bytearray()
    with av.open(str(source)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    for out in resampler.resample(None):
        pcm += bytes(out.planes[0])[: out.samples * 2]
    with wave.open(str(target), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MICROPHONE_RATE_HZ)
        wav.writeframes(bytes(pcm))
    return len(pcm) / 2 / MICROPHONE_RATE_HZ


@pytest.fixture(scope="session")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Microphone:
    wav = tmp_path_factory.mktemp("microphone") / "mg11_assault.wav"
    return Microphone(wav=wav, duration_s=_decode_to_wav(MICROPHONE_FIXTURE, wav))


@pytest.fixture(scope="session")
def driver() -> Iterator[Playwright]:
    if chromium_executable() is None:
        pytest.skip(
            f"no Chromium at {os.environ.get('VOICE_STATEMENT_CHROMIUM') or DEFAULT_CHROMIUM}: "
            "install it (apt-get install chromium, as scripts/setup.sh --dev does) or set "
            "VOICE_STATEMENT_CHROMIUM"
        )
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(driver: Playwright, microphone: Microphone) -> Iterator[Browser]:
    executable = chromium_executable()
    assert executable is not None
    launched = driver.chromium.launch(
        executable_path=str(executable),
        headless=True,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--use-fake-ui-for-media-stream",  # grant the microphone without asking
            "--use-fake-device-for-media-stream",
            # %noloop: the fixture plays once, then silence, as a witness who has finished.
            f"--use-file-for-fake-audio-capture={microphone.wav}%noloop",
        ],
    )
    yield launched
    launched.close()


# --- the service ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    name: str
    token: str  # the API token; the login page takes it as the secret


@dataclass(frozen=True)
class LiveService:
    url: str
    services: Services
    officer: Account
    case_builder: Account

    def api(self, account: Account) -> httpx.Client:
        """An API client acting as ``account``, to check what the pages did."""
        return httpx.Client(base_url=self.url, headers=bearer(account.token), timeout=30)


@pytest.fixture(scope="session")
def browser_pipeline(data_dir: Path) -> StatementPipeline:
    """The live service's model: its own, not the session's ``faster_pipeline`` (CTranslate2
    seeds each thread's random generator once; see tests/api/test_statements.py)."""
    return StatementPipeline(Settings(data_dir=data_dir))


@pytest.fixture(scope="session")
def live(
    tmp_path_factory: pytest.TempPathFactory, browser_pipeline: StatementPipeline
) -> Iterator[LiveService]:
    """The whole service (pages, API, embedded worker) under uvicorn on a free localhost port."""
    home = tmp_path_factory.mktemp("browser-service")
    settings = Settings(
        data_dir=home,
        database_url=f"sqlite:///{home / 'voice-statement.db'}",
        poll_interval_s=0.1,
    )
    app = create_app(settings, pipeline=browser_pipeline)
    services: Services = app.state.services
    officer = Account(OFFICER_NAME, add_account(services, OFFICER_NAME, ("officer",), UNIT))
    builder = Account(
        CASE_BUILDER_NAME, add_account(services, CASE_BUILDER_NAME, ("case_builder",), UNIT)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield LiveService(f"http://127.0.0.1:{port}", services, officer, builder)
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


# --- pages ----------------------------------------------------------------------------------


def _context(browser: Browser, live: LiveService, size: dict[str, int], **options: Any) -> Any:
    context = browser.new_context(
        base_url=live.url,
        viewport=size,  # type: ignore[arg-type]
        device_scale_factor=1,  # small screenshots; layout is what they show
        locale="en-GB",
        timezone_id="Europe/London",
        permissions=["microphone"],
        **options,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def phone(browser: Browser, live: LiveService) -> Iterator[BrowserContext]:
    """An officer's phone: 390 x 844, touch screen. Fresh storage for every test."""
    context = _context(browser, live, PHONE, has_touch=True)
    yield context
    context.close()


@pytest.fixture
def desk(browser: Browser, live: LiveService) -> Iterator[BrowserContext]:
    """A case builder's desk screen: 1920 x 1080."""
    context = _context(browser, live, DESK)
    yield context
    context.close()


def sign_in(page: Page, account: Account, path: str, *, screenshot: str | None = None) -> None:
    """Open ``path`` signed out, get sent to the login page, sign in with the API token as the
    secret, and land back on ``path``."""
    page.goto(path)
    page.wait_for_url(lambda url: urlparse(url).path == "/login")
    if screenshot:
        shoot(page, screenshot)
    page.locator("#login-form input[name=name]").fill(account.name)
    page.locator("#login-form input[name=secret]").fill(account.token)
    page.locator("#login-form button[type=submit]").click()
    page.wait_for_url(lambda url: urlparse(url).path == path)


def console_errors(page: Page) -> list[str]:
    """Collect the page's console errors and uncaught exceptions from now on (a failing test
    prints them: they say whose side a failure is on)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


# --- screenshots ----------------------------------------------------------------------------


def shoot(page: Page, name: str, *, sizes: tuple[str, ...] = ("phone", "desk")) -> None:
    """Save the screen as ``docs/screens/{name}-{size}.png`` at each size (the page's own size
    first), then give the page its size back. The phone shot is the whole page (a phone
    scrolls); the desk shot is the screen. Each PNG is reduced to 256 colours to stay small."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    own = page.viewport_size
    ordered = sorted(sizes, key=lambda s: SIZES[s] != own)
    for label in ordered:
        if page.viewport_size != SIZES[label]:
            page.set_viewport_size(SIZES[label])  # type: ignore[arg-type]
            page.wait_for_timeout(150)  # let a resize handler lay the page out again
        path = SCREENS / f"{name}-{label}.png"
        page.screenshot(path=path, full_page=label == "phone", animations="disabled", caret="hide")
        _shrink(path)
    if own is not None and page.viewport_size != own:
        page.set_viewport_size(own)


def _shrink(path: Path) -> None:
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


# --- in-page probes -------------------------------------------------------------------------

# Keeps every state each recording row's `.upload-state` showed, in order, however briefly:
# a MutationObserver's records keep the replaced text nodes, so a state overwritten within one
# task is still seen.
WATCH_UPLOAD_STATES = """() => {
  const seen = (window.__uploadStates = window.__uploadStates || []);
  const note = (node) => {
    const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const row = el && el.closest ? el.closest('.recording[data-local-id]') : null;
    if (!row) return;
    const text = (node.nodeType === Node.TEXT_NODE ? node.data : node.textContent).trim();
    const id = row.dataset.localId;
    const last = seen.filter((s) => s.id === id).pop();
    if (text && (!last || last.text !== text)) seen.push({ id, text });
  };
  const list = document.getElementById('saved-list');
  for (const el of list.querySelectorAll('.upload-state')) note(el);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'characterData') { note(r.target); continue; }
      for (const n of r.addedNodes) {
        if (n.nodeType === Node.TEXT_NODE) { note(n); continue; }
        if (n.nodeType !== Node.ELEMENT_NODE) continue;
        if (n.matches('.upload-state')) note(n);
        for (const s of n.querySelectorAll('.upload-state')) note(s);
      }
    }
  }).observe(list, { subtree: true, childList: true, characterData: true });
}"""

# Every Blob kept in the page's IndexedDB store (db `voice-statement`, store `recordings`),
# wherever it sits in the stored value, with its size and SHA-256.
LOCAL_RECORDINGS = """async () => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open('voice-statement');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  if (!db.objectStoreNames.contains('recordings')) { db.close(); return []; }
  const rows = await new Promise((resolve, reject) => {
    const tx = db.transaction('recordings', 'readonly');
    const store = tx.objectStore('recordings');
    const keys = store.getAllKeys();
    const values = store.getAll();
    tx.oncomplete = () => resolve(keys.result.map((k, i) => [k, values.result[i]]));
    tx.onerror = () => reject(tx.error);
  });
  db.close();
  const blobsIn = (value, depth = 0) => {
    if (value instanceof Blob) return [value];
    if (!value || typeof value !== 'object' || depth > 3) return [];
    return Object.values(value).flatMap((v) => blobsIn(v, depth + 1));
  };
  const hex = (buf) =>
    [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const out = [];
  for (const [key, value] of rows) {
    for (const blob of blobsIn(value)) {
      const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
      out.push({ key: String(key), size: blob.size, type: blob.type, sha256: hex(digest) });
    }
  }
  return out;
}"""


@dataclass(frozen=True)
class LocalRecording:
    key: str
    size: int
    type: str
    sha256: str


def local_recordings(page: Page) -> list[LocalRecording]:
    return [LocalRecording(**row) for row in page.evaluate(LOCAL_RECORDINGS)]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def statement_json(live: LiveService, account: Account, statement_id: str) -> dict[str, Any]:
    with live.api(account) as api:
        response = api.get(f"/api/v1/statements/{statement_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)[:4000]
