"""The statement API end to end, on SQLite and on PostgreSQL: the real service (embedded worker,
real Whisper tiny.en, real spaCy), real recordings, a real HTTP sink for deliveries."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app import create_app
from models.tables import AudioBlob, StatementRecord, StatementVersion
from tests.conftest import AUDIO_FIXTURES, add_account, bearer
from tests.http_sink import HttpSink, start_sink
from workflow.pipeline import StatementPipeline
from workflow.settings import Settings
from workflow.statements import canonical_json

pytestmark = pytest.mark.slow

OFFICER_NAME = "PC 4521 Dawson"
MG11 = AUDIO_FIXTURES / "mg11_assault.ogg"
MISSING = AUDIO_FIXTURES / "missing_person.ogg"


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    server = start_sink()
    yield server
    server.close()


def make_client(
    database_url: str, tmp_path: Path, pipeline: StatementPipeline, **overrides: Any
) -> TestClient:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        poll_interval_s=0.1,
        delivery_backoff_s=0.1,
        **overrides,
    )
    app = create_app(settings, pipeline=pipeline)
    # Every request of these tests is the one officer's, whose statements they are.
    token = add_account(app.state.services, OFFICER_NAME)
    return TestClient(app, headers=bearer(token))


@pytest.fixture(scope="module")
def api_pipeline(data_dir: Path) -> StatementPipeline:
    """The service's own model for this module. Not the session's ``faster_pipeline``:
    CTranslate2 seeds each of its threads' random generators once, so fallback sampling in
    one test would change what a later test of the engines hears (see the closing notes)."""
    return StatementPipeline(Settings(data_dir=data_dir))


@pytest.fixture
def client(
    database_url: str, tmp_path: Path, api_pipeline: StatementPipeline, sink: HttpSink
) -> Iterator[TestClient]:
    with make_client(
        database_url,
        tmp_path,
        api_pipeline,
        submission_url=f"{sink.url}/cjs",
        referral_url=f"{sink.url}/referrals",
    ) as test_client:
        yield test_client


def upload(client: TestClient, path: Path, template: str = "mg11") -> dict[str, Any]:
    with path.open("rb") as audio:
        response = client.post(
            "/api/v1/statements",
            files={"audio": (path.name, audio, "audio/ogg")},
            data={"template": template, "statement_date": "2026-11-20"},
        )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def watch(client: TestClient, statement_id: str) -> list[dict[str, Any]]:
    """Read the SSE stream to its end; returns the events."""
    seen = []
    with client.stream("GET", f"/api/v1/statements/{statement_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: ")))
    return seen


def signature_png() -> str:
    image = Image.new("L", (120, 40), 255)
    for x in range(10, 110):
        image.putpixel((x, 20 + (x % 7)), 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_statement_goes_from_recording_to_one_delivery(
    client: TestClient, sink: HttpSink
) -> None:
    created = upload(client, MG11)
    assert created["audio_sha256"] == hashlib.sha256(MG11.read_bytes()).hexdigest()
    assert created["status"] == "received"
    sid = created["id"]

    kinds = [e["kind"] for e in watch(client, sid)]
    assert kinds[0] == "queued" and kinds[-1] == "draft_ready"
    for step in ("decoding", "transcribing", "extracting"):
        assert step in kinds
    assert kinds.index("decoding") < kinds.index("extracting") < kinds.index("draft_ready")

    draft = client.get(f"/api/v1/statements/{sid}").json()
    assert draft["status"] == "draft" and draft["current_version"] == 1
    assert draft["statement"]["fields"]["witness.name"]["value"] == "Sarah Jane Holloway"
    assert draft["statement"]["transcript"]["text"].startswith("My name is Sarah")
    assert draft["versions"][0]["kind"] == "machine"
    assert draft["versions"][0]["author"].startswith("machine: faster-whisper")

    edited = client.patch(
        f"/api/v1/statements/{sid}",
        json={"fields": {"witness.phone": "07700 900123"}, "base_version": 1},
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["current_version"] == 2
    assert body["statement"]["fields"]["witness.phone"]["value"] == "07700900123"
    assert body["statement"]["fields"]["witness.phone"]["source"] == "officer"
    assert body["versions"][1]["author"] == "PC 4521 Dawson"
    assert body["versions"][1]["changes"] == [
        {"field": "witness.phone", "old": None, "new": "07700900123"}
    ]

    confirmed = client.post(
        f"/api/v1/statements/{sid}/confirm",
        json={
            "witness_declaration_accepted": True,
            "signature_png_base64": signature_png(),
            "place": "Penrith police station",
        },
    )
    assert confirmed.status_code == 200, confirmed.text
    confirmation = confirmed.json()["confirmation"]
    assert confirmed.json()["status"] == "confirmed"
    assert confirmation["officer"] == "PC 4521 Dawson" and confirmation["version"] == 2
    assert f"consisting of {confirmation['page_count']} page" in confirmation["declaration"]

    exported = client.get(f"/api/v1/statements/{sid}/export.json").json()
    record = exported["confirmation"]
    # The hash is of exactly the content kept, so anyone can check it.
    assert hashlib.sha256(canonical_json(record["content"])).hexdigest() == record["content_sha256"]
    assert record["content_sha256"] == confirmation["content_sha256"]
    assert record["content"]["statement"]["fields"]["witness.phone"]["value"] == "07700900123"
    assert "reviewed and confirmed with the witness by PC 4521 Dawson" in exported["provenance"]
    assert exported["machine_transcript"]["text"] == draft["statement"]["transcript"]["text"]
    assert [v["number"] for v in exported["versions"]] == [1, 2]

    submitted = client.post(f"/api/v1/statements/{sid}/submit")
    assert submitted.status_code == 202 and submitted.json()["status"] == "submitted"
    [delivery] = sink.wait_for("/cjs", 1)
    assert delivery.headers["Idempotency-Key"] == f"submission-{sid}"
    assert delivery.body["confirmation"]["content_sha256"] == confirmation["content_sha256"]

    status = client.get(f"/api/v1/statements/{sid}").json()["submission"]
    submission = next(d for d in status if d["kind"] == "submission")
    for _ in range(50):
        if submission["state"] == "delivered":
            break
        status = client.get(f"/api/v1/statements/{sid}").json()["submission"]
        submission = next(d for d in status if d["kind"] == "submission")
    assert submission["state"] == "delivered" and submission["attempts"] == 1
    assert len(sink.at("/cjs")) == 1  # exactly one delivery
    assert sink.at("/referrals") == []  # nothing in this account needed a referral

    pdf = client.get(f"/api/v1/statements/{sid}/export.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    document = pdfium.PdfDocument(pdf.content)
    assert len(document) == confirmation["page_count"]
    first = document[0].get_textpage().get_text_range()
    assert "MG 11" in first and "Sarah Jane Holloway" in first
    assert f"Page 1 of {len(document)}" in first
    assert "confirmed with the witness by PC 4521 Dawson" in " ".join(first.split())


def test_the_recording_comes_back_byte_for_byte_and_can_be_seeked(client: TestClient) -> None:
    sid = upload(client, MG11)["id"]
    original = MG11.read_bytes()
    whole = client.get(f"/api/v1/statements/{sid}/audio")
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/api/v1/statements/{sid}/audio", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == original[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(original)}"
    watch(client, sid)  # let the draft finish before the app stops


def test_lifecycle_rules_are_enforced_with_409s(client: TestClient) -> None:
    # Hold the model so the draft cannot be made yet: the statement waits in transcribing.
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.pipeline_lock:
        sid = upload(client, MG11)["id"]
        early = client.post(
            f"/api/v1/statements/{sid}/confirm", json={"witness_declaration_accepted": True}
        )
        assert early.status_code == 409 and early.json()["error"]["code"] == "not_drafted"
        assert "not ready" in early.json()["error"]["message"]
        patch = client.patch(f"/api/v1/statements/{sid}", json={"narrative": "x"})
        assert patch.status_code == 409
    watch(client, sid)

    submit = client.post(f"/api/v1/statements/{sid}/submit")
    assert submit.status_code == 409 and submit.json()["error"]["code"] == "not_confirmed"
    assert "confirmed with the witness" in submit.json()["error"]["message"]

    refused = client.post(
        f"/api/v1/statements/{sid}/confirm", json={"witness_declaration_accepted": False}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "declaration_not_accepted"

    assert (
        client.post(
            f"/api/v1/statements/{sid}/confirm", json={"witness_declaration_accepted": True}
        ).status_code
        == 200
    )
    late = client.patch(f"/api/v1/statements/{sid}", json={"fields": {"witness.age": 35}})
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_confirmed"
    assert "never changes" in late.json()["error"]["message"]
    again = client.post(
        f"/api/v1/statements/{sid}/confirm", json={"witness_declaration_accepted": True}
    )
    assert again.status_code == 409
    assert client.post(f"/api/v1/statements/{sid}/submit").status_code == 202
    twice = client.post(f"/api/v1/statements/{sid}/submit")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_submitted"


def test_edits_are_validated_and_versions_conflict(client: TestClient) -> None:
    sid = upload(client, MG11)["id"]
    watch(client, sid)
    url = f"/api/v1/statements/{sid}"
    unknown = client.patch(url, json={"fields": {"witness.shoe_size": "9"}})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_field"
    wrong = client.patch(url, json={"fields": {"incident.time": "quarter past ten"}})
    assert wrong.status_code == 422 and "HH:MM" in wrong.json()["error"]["message"]
    extra = client.patch(url, json={"colour": "red"})
    assert extra.status_code == 422 and extra.json()["error"]["code"] == "invalid_request"

    first = client.patch(url, json={"fields": {"witness.age": "35"}, "base_version": 1})
    assert first.status_code == 200 and first.json()["current_version"] == 2
    stale = client.patch(url, json={"fields": {"witness.age": 36}, "base_version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "edit_conflict"

    removed = client.patch(url, json={"fields": {"incident.location": None}})
    content = removed.json()["statement"]
    assert "incident.location" not in content["fields"]
    assert {"kind": "missing_required", "field": "incident.location"} in [
        {"kind": f["kind"], "field": f["field"]} for f in content["flags"]
    ]
    blocked = client.post(f"{url}/confirm", json={"witness_declaration_accepted": True})
    assert blocked.status_code == 409 and "incident.location" in blocked.json()["error"]["message"]
    marked = client.patch(url, json={"not_stated": ["incident.location"]})
    assert marked.json()["versions"][-1]["changes"] == [
        {"field": "incident.location", "old": None, "new": "not stated"}
    ]
    assert (
        client.post(f"{url}/confirm", json={"witness_declaration_accepted": True}).status_code
        == 200
    )


def test_a_missing_child_is_referred_before_confirmation(
    client: TestClient, sink: HttpSink
) -> None:
    sid = upload(client, MISSING, template="missing_person")["id"]
    kinds = [e["kind"] for e in watch(client, sid)]
    assert "draft_ready" in kinds
    [referral] = sink.wait_for("/referrals", 1)
    assert referral.headers["Idempotency-Key"] == f"referral-{sid}"
    assert referral.body["statement_id"] == sid
    assert referral.body["fields"]["missing.age"] == 14
    assert any("missing child" in f["reason"] for f in referral.body["flags"])
    assert client.get(f"/api/v1/statements/{sid}").json()["status"] == "draft"  # not confirmed

    pdf = client.get(f"/api/v1/statements/{sid}/export.pdf")
    text = pdfium.PdfDocument(pdf.content)[0].get_textpage().get_text_range()
    assert "MISSING PERSON REPORT" in text and "DRAFT" in text


def test_bad_uploads_are_refused_and_leave_nothing_behind(
    database_url: str, tmp_path: Path, api_pipeline: StatementPipeline
) -> None:
    with make_client(database_url, tmp_path, api_pipeline, max_upload_bytes=60_000) as client:
        text = client.post(
            "/api/v1/statements",
            files={"audio": ("notes.ogg", b"this is not a recording " * 40, "audio/ogg")},
        )
        assert text.status_code == 422
        assert text.json()["error"]["code"] == "not_audio"
        assert "notes.ogg" in text.json()["error"]["message"]

        big = client.post(
            "/api/v1/statements", files={"audio": ("big.ogg", MG11.read_bytes(), "audio/ogg")}
        )
        assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"

        template = client.post(
            "/api/v1/statements",
            files={"audio": ("m.ogg", MISSING.read_bytes(), "audio/ogg")},
            data={"template": "burglary"},
        )
        assert template.status_code == 422 and template.json()["error"]["code"] == "invalid_request"

        services = client.app.state.services  # type: ignore[attr-defined]
        with services.database.session() as session:
            assert session.scalar(select(func.count()).select_from(StatementRecord)) == 0
            assert session.scalar(select(func.count()).select_from(AudioBlob)) == 0
        audio_dir = services.settings.resolved_audio_dir
        assert not [p for p in audio_dir.rglob("*") if p.is_file()]

        missing = client.get("/api/v1/statements/no-such-id")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_listing_filters_and_pages(client: TestClient) -> None:
    first = upload(client, MG11)["id"]
    second = upload(client, MISSING, template="missing_person")["id"]
    watch(client, first)
    watch(client, second)
    everything = client.get("/api/v1/statements").json()
    assert everything["total"] == 2
    only = client.get("/api/v1/statements", params={"template": "missing_person"}).json()
    assert [s["id"] for s in only["items"]] == [second]
    by_officer = client.get("/api/v1/statements", params={"officer": "PC 4521 Dawson"}).json()
    assert by_officer["total"] == 2
    assert client.get("/api/v1/statements", params={"status": "submitted"}).json()["total"] == 0
    assert client.get("/api/v1/statements", params={"date": "2026-11-20"}).json()["total"] == 2
    paged = client.get("/api/v1/statements", params={"page": 2, "page_size": 1}).json()
    assert len(paged["items"]) == 1 and paged["total"] == 2
    progress = client.get(f"/api/v1/statements/{first}/progress").json()
    assert progress["done"] and progress["events"][-1]["kind"] == "draft_ready"
    later = client.get(f"/api/v1/statements/{first}/progress", params={"after": 2}).json()
    assert all(e["id"] > 2 for e in later["events"])


def test_health_readiness_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "audio_store": "ok",
        "model": "loaded",
        "mode": "embedded",
    }
    # The API description is served only where a deployment asks (public_api_docs).
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for path in (
        "/api/v1/statements",
        "/api/v1/statements/{statement_id}",
        "/api/v1/statements/{statement_id}/confirm",
        "/api/v1/statements/{statement_id}/submit",
        "/api/v1/statements/{statement_id}/events",
        "/api/v1/statements/{statement_id}/audio",
        "/api/v1/statements/{statement_id}/export.pdf",
        "/v1/audio/transcriptions",
    ):
        assert path in paths


def test_the_machine_draft_is_never_rewritten(client: TestClient) -> None:
    sid = upload(client, MG11)["id"]
    watch(client, sid)
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.session() as session:
        machine = session.scalars(
            select(StatementVersion).where(StatementVersion.number == 1)
        ).one()
        before = canonical_json(machine.content)
    client.patch(f"/api/v1/statements/{sid}", json={"narrative": "A corrected account."})
    with services.database.session() as session:
        versions = list(session.scalars(select(StatementVersion).order_by(StatementVersion.number)))
    assert canonical_json(versions[0].content) == before
    assert versions[1].content["narrative"] == "A corrected account."
    assert versions[1].changes[0]["field"] == "narrative"
