"""Bad input, through the command line and the HTTP API: each refused clearly, nothing half-stored.

For every bad recording of the issue (an empty file, text and a PNG named ``.wav``/``.m4a``, a
truncated mp3 and m4a, random bytes, a 0.1 s clip, a 3-hour recording) this proves that
``voice-statement transcribe`` exits 2 with one line naming the file and the problem, before it
loads a model, and that ``POST /api/v1/statements`` and the resumable upload API answer 4xx with
a JSON error naming it, leaving no statement, no audio file, no open upload and no temporary
file behind. Ten minutes of silence is not an error: an empty transcript and a ``no_speech``
flag, never invented words. A 3-hour recording is refused from its header, before it is
decoded. An upload over the size cap is refused while it streams, over real HTTP. Odd filenames
(``../``, NUL, 300 characters, emoji) are accepted as evidence and kept as metadata only (a
recording is never refused for its name; the store files it under its own key). Malformed JSON,
a wrong content type and a PATCH of a field that does not exist get 4xx naming the problem;
HTML in a field is inert in the pages and literal text in the PDF. The service stays healthy
and a good recording still becomes a draft at the end.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

import app as cli
from app import create_app
from tests.api.test_statements import watch
from tests.conftest import REPO, add_account, bearer
from tests.reliability.bad_inputs import (
    SHORT_RECORDING,
    BadRecording,
    make_bad_recordings,
    silence_flac,
)
from tests.reliability.conftest import Report
from workflow.pipeline import StatementPipeline
from workflow.services import Services
from workflow.settings import Settings

pytestmark = pytest.mark.slow

OFFICER = "PC 4521 Dawson"
SUPERVISOR = "Sgt 1010 Hale"
CLI = Path(sys.executable).parent / "voice-statement"
# A model that is not there: a bad recording refused with its own error (not this model's)
# proves the recording is judged before any model is loaded.
NO_MODEL = "/nonexistent/whisper-model"
SCRIPT = "<script>alert(1)</script>"
IMAGE_TAG = '"><img src=x onerror=alert(1)>'


# --- fixtures: the recordings, the model, one service for the module --------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad_input")


@pytest.fixture(scope="module")
def bad_recordings(workdir: Path) -> dict[str, BadRecording]:
    return {bad.name: bad for bad in make_bad_recordings(workdir / "inputs")}


@pytest.fixture(scope="module")
def silence(workdir: Path) -> Path:
    return silence_flac(workdir / "inputs" / "ten_minutes_of_silence.flac", 600)


@pytest.fixture(scope="module")
def pipeline(data_dir: Path) -> StatementPipeline:
    """The one model every service of this module shares (the CLI loads its own once)."""
    return StatementPipeline(Settings(data_dir=data_dir))


def make_app(
    data: Path, database_url: str, pipeline: StatementPipeline, **overrides: Any
) -> FastAPI:
    settings = Settings(data_dir=data, database_url=database_url, poll_interval_s=0.1, **overrides)
    return create_app(settings, pipeline=pipeline)


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


class Service:
    """The module's service (SQLite), its officer's client, and what it accepted."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app = app
        self.client = client
        self.services = services_of(app)
        self.accepted: set[str] = set()  # statement ids this module meant to make

    def post(self, path: Path | str, data: bytes | None = None, **form: Any) -> Any:
        name = path.name if isinstance(path, Path) else path
        body = data if data is not None else Path(path).read_bytes()
        content_type = form.pop("content_type", "application/octet-stream")
        response = self.client.post(
            "/api/v1/statements",
            files={"audio": (name, body, content_type)},
            data={"statement_date": "2026-11-20", **form},
        )
        if response.status_code == 202:
            self.accepted.add(response.json()["id"])
        return response


@pytest.fixture(scope="module")
def service(workdir: Path, pipeline: StatementPipeline) -> Iterator[Service]:
    data = workdir / "service"
    app = make_app(data, f"sqlite:///{data / 'db.sqlite'}", pipeline)
    token = add_account(services_of(app), OFFICER)
    with TestClient(app, headers=bearer(token)) as client:
        yield Service(app, client)


def leftovers(services: Services, accepted: set[str]) -> dict[str, int]:
    """What a refused input could have left behind, counted in the database and the data dir:
    statements nobody accepted, stored audio no statement holds, uploads neither finished nor
    discarded, their pieces, and temporary files of the audio store or its local copies."""
    with services.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, audio_key FROM statements")).all()
        open_uploads = connection.execute(
            text("SELECT count(*) FROM upload_sessions WHERE statement_id IS NULL")
        ).scalar_one()
        pieces = connection.execute(text("SELECT count(*) FROM upload_chunks")).scalar_one()
        blobs = connection.execute(text("SELECT key FROM audio_blobs")).scalars().all()
    keys = {key for _, key in rows}
    audio_dir = services.settings.resolved_audio_dir
    files = [p for p in audio_dir.rglob("*") if p.is_file()] if audio_dir.is_dir() else []
    temp = Path(tempfile.gettempdir())
    return {
        "statements": sum(1 for statement_id, _ in rows if statement_id not in accepted),
        "audio": sum(1 for p in files if not p.name.startswith(".") and p.name not in keys)
        + sum(1 for key in blobs if key not in keys),
        "open_uploads": int(open_uploads),
        "upload_pieces": int(pieces),
        "temp_files": sum(1 for p in files if p.name.startswith("."))
        + len(list(temp.glob("voice-statement-audio-*"))),
    }


def assert_nothing_left(services: Services, accepted: set[str]) -> None:
    left = leftovers(services, accepted)
    assert left == dict.fromkeys(left, 0), left


def error(response: Any) -> tuple[str, str]:
    body = response.json()["error"]
    return body["code"], body["message"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


BAD = [
    "empty file",
    "text named .wav",
    "text named .m4a",
    "PNG named .wav",
    "PNG named .m4a",
    "random bytes",
    "truncated mp3",
    "truncated m4a",
    "0.1 s clip",
    "3-hour recording",
]


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD)
def test_the_cli_refuses_a_bad_recording_with_exit_2_before_loading_a_model(
    case: str,
    bad_recordings: dict[str, BadRecording],
    capsys: pytest.CaptureFixture[str],
    reliability_report: Report,
) -> None:
    bad = bad_recordings[case]
    started = time.monotonic()
    code, out, err = run_cli(["transcribe", str(bad.path), "--json", "--model", NO_MODEL], capsys)
    elapsed = time.monotonic() - started
    assert code == cli.EXIT_BAD_INPUT, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert bad.path.name in err and bad.says in err.lower(), err
    assert NO_MODEL not in err  # refused for the recording, before the model was looked for
    assert elapsed < 5.0, elapsed
    reliability_report.record("bad_input", f"cli: {case}", f"exit {code} ({bad.code})")


@pytest.mark.parametrize("case", ["PNG named .m4a", "truncated m4a", "3-hour recording"])
def test_the_installed_command_exits_2_naming_the_problem(
    case: str, bad_recordings: dict[str, BadRecording]
) -> None:
    """End to end: the installed ``voice-statement`` in its own process."""
    bad = bad_recordings[case]
    result = subprocess.run(
        [str(CLI), "transcribe", str(bad.path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("voice-statement: error: ") and bad.path.name in line, line
    assert bad.says in line.lower(), line


def test_a_three_hour_recording_is_refused_from_its_header_before_decoding(
    bad_recordings: dict[str, BadRecording],
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    service: Service,
    reliability_report: Report,
) -> None:
    from transcription.audio import AudioError, decode_audio

    long = bad_recordings["3-hour recording"].path
    # Its first half still declares three hours. Decoded, it would be "truncated" (as it is
    # under a cap above three hours); refused as "too_long", it was judged from the header.
    head = workdir / "inputs" / "three_hours_first_half.flac"
    head.write_bytes(long.read_bytes()[: long.stat().st_size // 2])
    with pytest.raises(AudioError) as cut:
        decode_audio(head, max_duration_s=4 * 3600)
    assert cut.value.code == "truncated"

    for path in (long, head):
        started = time.monotonic()
        code, _, err = run_cli(["transcribe", str(path), "--json"], capsys)
        elapsed = time.monotonic() - started
        assert code == 2 and "3 h 0 min long, over the 2 h 0 min limit" in err, err
        # Decoding three hours (resampled to 16 kHz) takes seconds; the header takes ms.
        assert elapsed < 1.0, elapsed
    reliability_report.record("bad_input", "cli: 3-hour recording refusal_s", round(elapsed, 3))

    refused = service.post(long)
    assert refused.status_code == 422 and error(refused)[0] == "too_long", refused.text


def test_ten_minutes_of_silence_is_an_empty_transcript_with_a_no_speech_flag(
    silence: Path,
    capsys: pytest.CaptureFixture[str],
    service: Service,
    reliability_report: Report,
) -> None:
    code, out, err = run_cli(["transcribe", str(silence), "--json", "--quiet"], capsys)
    assert code == 0, err
    statement = json.loads(out)
    assert statement["transcript"]["duration_s"] == pytest.approx(600, abs=1)
    assert statement["transcript"]["text"] == ""
    assert statement["transcript"]["segments"] == []
    assert statement["narrative"] == "" and statement["fields"] == {}
    assert "no_speech" in [flag["kind"] for flag in statement["flags"]]

    accepted = service.post(silence)
    assert accepted.status_code == 202, accepted.text
    statement_id = accepted.json()["id"]
    kinds = [event["kind"] for event in watch(service.client, statement_id)]
    assert kinds[-1] == "draft_ready", kinds
    draft = service.client.get(f"/api/v1/statements/{statement_id}").json()
    content = draft["statement"]
    assert content["transcript"]["text"] == "" and content["transcript"]["segments"] == []
    assert content["narrative"] == "" and content["fields"] == {}
    assert "no_speech" in [flag["kind"] for flag in content["flags"]]
    reliability_report.record("bad_input", "cli: 10 minutes of silence", "exit 0 (no_speech)")
    reliability_report.record("bad_input", "api: 10 minutes of silence", "202, draft (no_speech)")


# --- the HTTP API -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD)
def test_the_api_refuses_a_bad_recording_with_a_4xx_naming_it(
    case: str,
    bad_recordings: dict[str, BadRecording],
    service: Service,
    reliability_report: Report,
) -> None:
    bad = bad_recordings[case]
    response = service.post(bad.path)
    assert response.status_code == 422, response.text
    code, message = error(response)
    assert code == bad.code, message
    assert bad.path.name in message or case == "3-hour recording", message
    assert_nothing_left(service.services, service.accepted)
    reliability_report.record("bad_input", f"api: {case}", f"{response.status_code} {code}")


@pytest.mark.parametrize("case", ["text named .m4a", "truncated m4a", "0.1 s clip"])
def test_a_bad_recording_sent_in_pieces_is_refused_and_the_upload_discarded(
    case: str,
    bad_recordings: dict[str, BadRecording],
    database_url: str,
    tmp_path: Path,
    pipeline: StatementPipeline,
    reliability_report: Report,
) -> None:
    """The resumable upload API on both databases: the piece that completes a bad recording
    is answered 422 with its code, and the upload, its pieces and its audio are gone."""
    bad = bad_recordings[case]
    data = bad.path.read_bytes()
    app = make_app(tmp_path / "data", database_url, pipeline)
    token = add_account(services_of(app), OFFICER)
    with TestClient(app, headers=bearer(token)) as client:
        declared = client.post(
            "/api/v1/uploads",
            json={
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "filename": bad.path.name,
                "content_type": "audio/mp4",
            },
        )
        assert declared.status_code == 201, declared.text
        upload_id = declared.json()["id"]
        half = len(data) // 2
        first = client.put(
            f"/api/v1/uploads/{upload_id}", params={"offset": 0}, content=data[:half]
        )
        assert first.status_code == 200 and first.json()["offset"] == half
        last = client.put(
            f"/api/v1/uploads/{upload_id}", params={"offset": half}, content=data[half:]
        )
        assert last.status_code == 422, last.text
        assert error(last)[0] == bad.code
        assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404
        assert_nothing_left(services_of(app), set())
    reliability_report.record("bad_input", f"resumable: {case}", f"422 {bad.code}")


def test_an_upload_over_the_size_cap_is_refused_while_it_streams(
    workdir: Path, pipeline: StatementPipeline, reliability_report: Report
) -> None:
    """Over real HTTP (uvicorn): a chunked body from a generator is answered 413 long before the
    generator is exhausted, and nothing of it is stored."""
    limit = 256 * 1024
    data = workdir / "capped"
    app = make_app(data, f"sqlite:///{data / 'db.sqlite'}", pipeline, max_upload_bytes=limit)
    token = add_account(services_of(app), OFFICER)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    chunk, chunks = 64 * 1024, 1024  # 64 MiB offered: 256 times the limit
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield (
            b'--cut\r\nContent-Disposition: form-data; name="audio"; filename="big.flac"\r\n'
            b"Content-Type: audio/flac\r\n\r\n"
        )
        for _ in range(chunks):
            sent += 1
            yield b"\0" * chunk
        yield b"\r\n--cut--\r\n"

    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            response = client.post(
                "/api/v1/statements",
                content=body(),
                headers={
                    **bearer(token),
                    "Content-Type": "multipart/form-data; boundary=cut",
                },
            )
            assert response.status_code == 413, response.text
            assert error(response)[0] == "too_large"
            assert str(limit) in error(response)[1]
            assert sent < chunks // 4, f"the server read {sent} of {chunks} chunks"
            # A declared Content-Length over the limit is refused before any body is sent.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(
                    b"POST /api/v1/statements HTTP/1.1\r\nHost: x\r\n"
                    + f"Authorization: Bearer {token}\r\n".encode()
                    + b"Content-Type: multipart/form-data; boundary=cut\r\n"
                    + f"Content-Length: {10 * limit}\r\n\r\n".encode()
                )
                received = b""
                while chunk_in := raw.recv(65536):  # the server closes: Connection: close
                    received += chunk_in
                answer = received.decode("latin-1")
            assert answer.startswith("HTTP/1.1 413 "), answer
            assert '"too_large"' in answer
            assert client.get("/healthz").status_code == 200
            # Ready once its model is warm (it warms in the background from start-up).
            deadline = time.monotonic() + 60
            while (ready := client.get("/readyz", headers=bearer(token))).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.2)
        assert_nothing_left(services_of(app), set())
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    reliability_report.record(
        "bad_input",
        "api: upload over the size cap",
        f"413 too_large after {sent * chunk} of {chunks * chunk} bytes offered",
    )


def test_a_wrong_content_type_is_refused_or_ignored_by_what_the_bytes_are(
    service: Service, bad_recordings: dict[str, BadRecording], reliability_report: Report
) -> None:
    as_json = service.client.post("/api/v1/statements", json={"audio": "a recording"})
    assert as_json.status_code == 415, as_json.text
    code, message = error(as_json)
    assert code == "unsupported_media_type" and "multipart/form-data" in message
    # A part labelled text/plain is judged by its bytes: text is refused...
    labelled = service.post(bad_recordings["text named .wav"].path, content_type="text/plain")
    assert labelled.status_code == 422 and error(labelled)[0] == "not_audio"
    # ...and a real recording labelled text/plain is kept, and never served back as text.
    recording = service.post(SHORT_RECORDING, content_type="text/html")
    assert recording.status_code == 202, recording.text
    statement_id = recording.json()["id"]
    audio = service.client.get(f"/api/v1/statements/{statement_id}/audio")
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "application/octet-stream"
    assert audio.content == SHORT_RECORDING.read_bytes()
    assert_nothing_left(service.services, service.accepted)
    reliability_report.record("bad_input", "api: JSON body to the upload route", "415")
    reliability_report.record("bad_input", "api: text/plain part holding text", "422 not_audio")
    reliability_report.record(
        "bad_input", "api: recording labelled text/html", "202, served as octet-stream"
    )


ODD_NAMES = {
    "dot-dot-slash": "../../../../etc/cron.d/evil.flac",
    "backslashes": "..\\..\\Windows\\evil.flac",
    "NUL": "witness\x00.flac",
    "300 characters": "w" * 300 + ".flac",
    "emoji": "🎤 statement 👮‍♀️.flac",
}


def test_odd_filenames_are_kept_as_metadata_and_never_become_paths(
    database_url: str,
    tmp_path: Path,
    pipeline: StatementPipeline,
    reliability_report: Report,
) -> None:
    """A recording is evidence: it is never refused for the name the phone gave it. It is
    stored under the store's own key; the name is kept (control characters replaced, cut to
    255 characters) as metadata only, and sent back only in a sanitised Content-Disposition."""
    data = tmp_path / "data"
    app = make_app(data, database_url, pipeline)
    token = add_account(services_of(app), OFFICER)
    # Two seconds of silence: a valid recording that drafts at once (no speech to transcribe).
    recording = silence_flac(tmp_path / "two_seconds.flac", 2).read_bytes()
    before = {p for p in tmp_path.parent.rglob("*")}
    with TestClient(app, headers=bearer(token)) as client:
        for label, name in ODD_NAMES.items():
            response = client.post(
                "/api/v1/statements",
                files={"audio": (name, recording, "audio/flac")},
                data={"statement_date": "2026-11-20"},
            )
            assert response.status_code == 202, (label, response.text)
            statement_id = response.json()["id"]
            with services_of(app).database.engine.connect() as connection:
                kept, key = connection.execute(
                    text("SELECT audio_filename, audio_key FROM statements WHERE id = :id"),
                    {"id": statement_id},
                ).one()
            assert re.fullmatch(r"[0-9a-f]{32}", key)
            assert "\x00" not in kept and len(kept) <= 255 and kept.endswith(".flac")
            if label in ("dot-dot-slash", "backslashes", "emoji"):
                assert kept == name  # metadata, as given: it never reaches the filesystem
            audio = client.get(f"/api/v1/statements/{statement_id}/audio")
            disposition = audio.headers["content-disposition"]
            assert re.fullmatch(r'inline; filename="[A-Za-z0-9._ -]+"', disposition), disposition
            reliability_report.record("bad_input", f"filename: {label}", "202, kept as metadata")

            declared = client.post(
                "/api/v1/uploads",
                json={"size": len(recording), "sha256": "0" * 64, "filename": name},
            )
            assert declared.status_code == 201, (label, declared.text)
        stored = [p for p in services_of(app).settings.resolved_audio_dir.rglob("*") if p.is_file()]
        assert len(stored) == len(ODD_NAMES)
        assert all(re.fullmatch(r"[0-9a-f]{32}", p.name) for p in stored)
    made = {p for p in tmp_path.parent.rglob("*")} - before
    assert not [p for p in made if "evil" in p.name or "witness" in p.name]


def test_malformed_json_is_a_4xx_naming_the_problem(
    service: Service, reliability_report: Report
) -> None:
    broken = b'{"fields": {"witness.name": "Ann"'
    routes = {
        "sign-in": ("POST", "/api/v1/auth/login"),
        "declare an upload": ("POST", "/api/v1/uploads"),
        "PATCH a statement": ("PATCH", "/api/v1/statements/any-id"),
        "confirm": ("POST", "/api/v1/statements/any-id/confirm"),
    }
    for label, (method, path) in routes.items():
        response = service.client.request(
            method, path, content=broken, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (label, response.text)
        code, message = error(response)
        assert code == "invalid_json" and "not valid JSON" in message, (label, message)
        assert "at character" in message
        reliability_report.record("bad_input", f"malformed JSON: {label}", f"422 {code}")
    assert_nothing_left(service.services, service.accepted)


@pytest.fixture(scope="module")
def drafted(service: Service) -> str:
    """A good recording drafted by the module's service: the statement the edits go to."""
    response = service.post(SHORT_RECORDING, content_type="audio/flac")
    assert response.status_code == 202, response.text
    statement_id: str = response.json()["id"]
    assert watch(service.client, statement_id)[-1]["kind"] == "draft_ready"
    return statement_id


def test_a_patch_to_a_field_that_does_not_exist_names_the_field(
    service: Service, drafted: str, reliability_report: Report
) -> None:
    unknown = service.client.patch(
        f"/api/v1/statements/{drafted}", json={"fields": {"witness.shoe_size": "9"}}
    )
    assert unknown.status_code == 422, unknown.text
    code, message = error(unknown)
    assert code == "unknown_field" and "witness.shoe_size" in message
    stray = service.client.patch(f"/api/v1/statements/{drafted}", json={"colour": "red"})
    assert stray.status_code == 422 and "colour" in error(stray)[1]
    versions = service.client.get(f"/api/v1/statements/{drafted}").json()["versions"]
    assert len(versions) == 1  # neither made a version
    reliability_report.record("bad_input", "PATCH of an unknown field", f"422 {code}")
    reliability_report.record("bad_input", "PATCH of an unknown key", "422 invalid_request")


def test_html_in_a_field_is_inert_in_the_pages_and_literal_in_the_pdf(
    service: Service, drafted: str, reliability_report: Report
) -> None:
    edit = service.client.patch(
        f"/api/v1/statements/{drafted}",
        json={"fields": {"witness.name": IMAGE_TAG}, "narrative": f"I saw {SCRIPT} there."},
    )
    assert edit.status_code == 200, edit.text
    assert edit.json()["statement"]["narrative"] == f"I saw {SCRIPT} there."  # kept as written

    pdf = service.client.get(f"/api/v1/statements/{drafted}/export.pdf")
    assert pdf.status_code == 200, pdf.text
    document = pdfium.PdfDocument(pdf.content)
    try:
        words = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    assert SCRIPT in words.replace("\r\n", " ").replace("\n", " ")
    assert "onerror=alert(1)" in words

    # The pages render statement content with DOM text nodes (api.js): no script of theirs
    # builds markup from strings.
    static = REPO / "api" / "pages" / "static"
    for script in static.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert re.search(rf"\.{re.escape(sink)}\s*[=(]", source) is None, (script.name, sink)

    # What the server itself writes into a page is escaped: the case list echoes the search.
    supervisor = add_account(service.services, SUPERVISOR, ("supervisor",))
    # A second client on the running app, without a second start-up (its own cookies).
    browser = TestClient(service.app)
    try:
        signed_in = browser.post(
            "/api/v1/auth/login", json={"name": SUPERVISOR, "secret": supervisor}
        )
        assert signed_in.status_code == 200, signed_in.text
        for typed in (SCRIPT, IMAGE_TAG):
            page = browser.get("/cases", params={"q": typed})
            assert page.status_code == 200
            assert typed not in page.text
            escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert (
                escaped.replace('"', "&#34;") in page.text
                or escaped.replace('"', "&quot;") in page.text
            ), typed
        review = browser.get(f"/cases/{drafted}")
        assert review.status_code == 200 and SCRIPT not in review.text
    finally:
        browser.close()
    reliability_report.record("bad_input", "HTML/script in fields", "escaped (pages), text (PDF)")


# --- afterwards ---------------------------------------------------------------------------------


def test_the_service_is_healthy_afterwards_and_nothing_was_half_stored(
    service: Service, reliability_report: Report
) -> None:
    """Last in the module: after every bad input above, the service answers, a good recording
    still becomes a draft, and nothing refused left anything behind."""
    assert service.client.get("/healthz").status_code == 200
    ready = service.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    response = service.post(SHORT_RECORDING, content_type="audio/flac")
    assert response.status_code == 202, response.text
    statement_id = response.json()["id"]
    assert watch(service.client, statement_id)[-1]["kind"] == "draft_ready"
    draft = service.client.get(f"/api/v1/statements/{statement_id}").json()
    assert draft["status"] == "draft" and draft["statement"]["narrative"]
    left = leftovers(service.services, service.accepted)
    reliability_report.record("bad_input", "half_stored", sum(left.values()))
    assert left == dict.fromkeys(left, 0), left
