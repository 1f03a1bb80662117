"""The resumable upload API end to end, on SQLite and on PostgreSQL: the whole service (real
accounts, encryption at rest, the embedded worker drafting with Whisper tiny.en), a real
recording sent in pieces, interrupted by a restart of the service and resumed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from app import create_app
from models.tables import SEALED_PREFIX, UploadSession, utcnow
from tests.api.test_statements import MG11, watch
from tests.conftest import add_account, bearer
from workflow.pipeline import StatementPipeline
from workflow.retention import apply_retention
from workflow.services import Services
from workflow.settings import Settings

pytestmark = pytest.mark.slow

PIECE = 16 * 1024  # the recording (68 KiB) goes in five pieces
RECORDING = MG11.read_bytes()
RECORDING_SHA256 = hashlib.sha256(RECORDING).hexdigest()


@pytest.fixture(scope="module")
def upload_pipeline(data_dir: Path) -> StatementPipeline:
    """The service's model for this module (see ``api_pipeline`` in test_statements)."""
    return StatementPipeline(Settings(data_dir=data_dir))


def make_app(
    database_url: str, tmp_path: Path, pipeline: StatementPipeline, **overrides: Any
) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, poll_interval_s=0.1, **overrides
    )
    return create_app(settings, pipeline=pipeline)


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


def declare(client: TestClient, sha256: str = RECORDING_SHA256, size: int = len(RECORDING)) -> Any:
    return client.post(
        "/api/v1/uploads",
        json={
            "template": "mg11",
            "statement_date": "2026-11-20",
            "size": size,
            "sha256": sha256,
            "filename": MG11.name,
            "content_type": "audio/ogg",
        },
    )


def put(client: TestClient, upload_id: str, offset: int, data: bytes) -> Any:
    return client.put(
        f"/api/v1/uploads/{upload_id}",
        params={"offset": offset},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def piece(offset: int) -> bytes:
    return RECORDING[offset : offset + PIECE]


def raw_chunks(services: Services) -> list[tuple[int, bytes]]:
    """What the database holds, read past the ORM (no decryption)."""
    with services.database.engine.connect() as connection:
        rows = connection.execute(
            text('SELECT "offset", data FROM upload_chunks ORDER BY "offset"')
        ).all()
    return [(int(offset), bytes(data)) for offset, data in rows]


def count(services: Services, table: str) -> int:
    with services.database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def officer_app(
    database_url: str, tmp_path: Path, upload_pipeline: StatementPipeline
) -> Iterator[tuple[FastAPI, str]]:
    app = make_app(database_url, tmp_path, upload_pipeline)
    yield app, add_account(services_of(app), "PC 4521 Dawson")


def test_an_interrupted_upload_resumes_and_becomes_the_statement(
    officer_app: tuple[FastAPI, str],
    database_url: str,
    tmp_path: Path,
    upload_pipeline: StatementPipeline,
) -> None:
    app, token = officer_app
    with TestClient(app, headers=bearer(token)) as client:
        declared = declare(client)
        assert declared.status_code == 201, declared.text
        body = declared.json()
        upload_id = body["id"]
        assert body == {
            "id": upload_id,
            "offset": 0,
            "size": len(RECORDING),
            "complete": False,
            "statement": None,
        }
        assert declared.headers["Location"] == f"/api/v1/uploads/{upload_id}"

        for offset in (0, PIECE):
            sent = put(client, upload_id, offset, piece(offset))
            assert sent.status_code == 200, sent.text
            assert sent.json()["offset"] == offset + PIECE and not sent.json()["complete"]
            assert sent.headers["Upload-Offset"] == str(offset + PIECE)

        # The second piece again (its reply was lost): nothing changes.
        again = put(client, upload_id, PIECE, piece(PIECE))
        assert again.status_code == 200 and again.json()["offset"] == 2 * PIECE
        # A piece from beyond the offset would leave a gap: refused, with where to resume.
        ahead = put(client, upload_id, 3 * PIECE, piece(3 * PIECE))
        assert ahead.status_code == 409, ahead.text
        assert ahead.json()["error"]["code"] == "offset_mismatch"
        assert ahead.headers["Upload-Offset"] == str(2 * PIECE)

        # Kept encrypted at rest: no piece of the recording is in the database as it was sent.
        services = services_of(app)
        stored = raw_chunks(services)
        assert [offset for offset, _ in stored] == [0, PIECE]
        for offset, raw in stored:
            assert raw.startswith(SEALED_PREFIX)
            assert piece(offset)[1000:1064] not in raw

        # Only its officer reaches it; nobody reaches it without signing in.
        other = add_account(services, "PC 1877 Pike")
        for response in (
            client.get(f"/api/v1/uploads/{upload_id}", headers=bearer(other)),
            client.put(
                f"/api/v1/uploads/{upload_id}?offset={2 * PIECE}",
                content=piece(2 * PIECE),
                headers=bearer(other),
            ),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"
        anonymous = TestClient(app).get(f"/api/v1/uploads/{upload_id}")
        assert anonymous.status_code == 401
    # The signal (and the service) went away mid-upload; a new process takes over.

    resumed_app = make_app(database_url, tmp_path, upload_pipeline)
    with TestClient(resumed_app, headers=bearer(token)) as client:
        where = client.get(f"/api/v1/uploads/{upload_id}")
        assert where.status_code == 200 and where.json()["offset"] == 2 * PIECE
        offset = where.json()["offset"]
        while offset < len(RECORDING):
            sent = put(client, upload_id, offset, piece(offset))
            assert sent.status_code == 200, sent.text
            offset = sent.json()["offset"]
        done = sent.json()
        assert done["complete"] and done["offset"] == len(RECORDING)
        statement = done["statement"]
        assert statement["audio_sha256"] == RECORDING_SHA256
        assert statement["audio_bytes"] == len(RECORDING)
        assert statement["status"] == "received"
        sid = statement["id"]

        kinds = [event["kind"] for event in watch(client, sid)]
        assert kinds[0] == "queued" and kinds[-1] == "draft_ready"
        draft = client.get(f"/api/v1/statements/{sid}").json()
        assert draft["status"] == "draft" and draft["officer"] == "PC 4521 Dawson"
        assert draft["statement"]["fields"]["witness.name"]["value"] == "Sarah Jane Holloway"
        assert client.get(f"/api/v1/statements/{sid}/audio").content == RECORDING

        services = services_of(resumed_app)
        assert count(services, "upload_chunks") == 0  # the pieces went once assembled
        # The last piece sent again (its reply was lost): the same statement, not a second.
        repeat = put(client, upload_id, len(RECORDING) - 1, RECORDING[-1:])
        assert repeat.status_code == 200 and repeat.json()["statement"]["id"] == sid
        later = client.get(f"/api/v1/uploads/{upload_id}").json()
        assert later["complete"] and later["statement"]["status"] == "draft"
        assert client.get("/api/v1/statements").json()["total"] == 1


def test_bad_uploads_are_refused_and_abandoned_ones_expire(
    database_url: str, tmp_path: Path, upload_pipeline: StatementPipeline
) -> None:
    app = make_app(
        database_url, tmp_path, upload_pipeline, max_upload_bytes=100_000, upload_rate_per_minute=3
    )
    token = add_account(services_of(app), "PC 4521 Dawson")
    services = services_of(app)
    with TestClient(app, headers=bearer(token)) as client:
        too_big = declare(client, size=100_001)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"

        # Declared with the hash of other bytes: it changed on the way.
        wrong = declare(client, sha256=hashlib.sha256(b"something else").hexdigest()).json()
        upload_id = wrong["id"]
        # The same first piece sent four times at once is kept once.
        with ThreadPoolExecutor(4) as pool:
            racing = list(pool.map(lambda _: put(client, upload_id, 0, piece(0)), range(4)))
        assert [r.status_code for r in racing] == [200] * 4
        assert [offset for offset, _ in raw_chunks(services)] == [0]
        assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == PIECE

        huge = put(client, upload_id, PIECE, b"\0" * (1024 * 1024 + 1))
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
        past_end = put(client, upload_id, PIECE, RECORDING[PIECE:] + b"extra")
        assert past_end.status_code == 413, past_end.text

        offset = PIECE
        while offset + PIECE < len(RECORDING):
            offset = put(client, upload_id, offset, piece(offset)).json()["offset"]
        mismatch = put(client, upload_id, offset, piece(offset))
        assert mismatch.status_code == 422, mismatch.text
        assert mismatch.json()["error"]["code"] == "checksum_mismatch"
        # Discarded: no statement, no pieces, no recording, and the upload is gone.
        assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404
        assert client.get("/api/v1/statements").json()["total"] == 0
        assert count(services, "upload_chunks") == 0 and count(services, "upload_sessions") == 0
        audio_dir = services.settings.resolved_audio_dir
        assert not [p for p in audio_dir.rglob("*") if p.is_file()]

        # The upload rate applies when an upload is declared (the one above was the first).
        stale = declare(client).json()["id"]
        assert put(client, stale, 0, piece(0)).status_code == 200
        fresh = declare(client).json()["id"]
        refused = declare(client)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0

        # A week and a day without a piece: the retention sweep removes the upload and its
        # pieces; the one still in use stays.
        with services.database.session() as session:
            session.execute(
                update(UploadSession)
                .where(UploadSession.id == stale)
                .values(updated_at=utcnow() - timedelta(days=8))
            )
        apply_retention(services.database, services.audio_store, services.settings)
        with services.database.engine.connect() as connection:
            left = connection.execute(text("SELECT id FROM upload_sessions")).scalars().all()
            expired = connection.execute(
                text("SELECT count(*) FROM audit_log WHERE operation = 'upload.expire'")
            ).scalar_one()
        assert left == [fresh] and expired == 1
        assert count(services, "upload_chunks") == 0
