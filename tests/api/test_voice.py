"""The officer's own voice through the API, end to end: enrol it from a real sample (the real
speaker encoder), see and remove it, and send a real two-voice recording with ``speakers=2``
that the embedded worker drafts (real Whisper tiny.en, real spaCy) with the officer's questions
told by their voice and kept out of the statement. Real accounts, real encryption at rest, on
SQLite and on PostgreSQL (where one is reachable)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app import create_app
from models.tables import SEALED_PREFIX, AuditEntry, StatementRecord, User
from tests.api.test_statements import watch
from tests.conftest import FIXTURES, add_account, bearer, write_wav
from transcription.audio import decode_audio
from transcription.diarisation import RESEMBLYZER_WEIGHTS_SHA256
from workflow.pipeline import StatementPipeline
from workflow.services import Services
from workflow.settings import Settings

pytestmark = pytest.mark.slow

OFFICER_NAME = "PC 4521 Dawson"
DIALOGUES = FIXTURES / "dialogues"
D01 = json.loads((DIALOGUES / "d01.json").read_text(encoding="utf-8"))
D01_AUDIO = DIALOGUES / "d01.ogg"
ENROLMENT = DIALOGUES / D01["officer_enrolment"]
VOICE = "/api/v1/me/voice"


@pytest.fixture(scope="module")
def voice_pipeline(data_dir: Path) -> StatementPipeline:
    """The service's model for this module (see ``api_pipeline`` in test_statements)."""
    return StatementPipeline(Settings(data_dir=data_dir))


def make_client(database_url: str, tmp_path: Path, pipeline: StatementPipeline) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, poll_interval_s=0.1)
    app = create_app(settings, pipeline=pipeline)
    token = add_account(app.state.services, OFFICER_NAME)
    return TestClient(app, headers=bearer(token))


@pytest.fixture
def client(
    database_url: str, tmp_path: Path, voice_pipeline: StatementPipeline
) -> Iterator[TestClient]:
    with make_client(database_url, tmp_path, voice_pipeline) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(tmp_path: Path, voice_pipeline: StatementPipeline) -> Iterator[TestClient]:
    """The drafting tests run on SQLite only: the drafting is the same on both backends, and
    each draft of a minute of dialogue takes a while on a small machine."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    with make_client(url, tmp_path, voice_pipeline) as test_client:
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def enrol(
    client: TestClient, sample: Path = ENROLMENT, *, headers: dict[str, str] | None = None
) -> Any:
    with sample.open("rb") as audio:
        return client.put(
            VOICE, files={"audio": (sample.name, audio, "audio/ogg")}, headers=headers
        )


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


def raw_voice_column(services: Services) -> bytes | None:
    with services.database.engine.connect() as connection:
        value = connection.execute(
            text("SELECT voice_embedding FROM users WHERE name = :name"), {"name": OFFICER_NAME}
        ).scalar_one()
    return None if value is None else bytes(value)


def enrol_samples_left(services: Services) -> list[Path]:
    temp = services.settings.data_dir / "tmp"
    return sorted(temp.glob("vs-enrol-*")) if temp.is_dir() else []


def words(text_: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text_.lower()))


def test_an_officer_enrols_sees_and_removes_their_voice(client: TestClient) -> None:
    services = services_of(client)
    before = client.get(VOICE)
    assert before.status_code == 200, before.text
    assert before.json()["enrolled"] is False and before.json()["user"] == OFFICER_NAME

    response = enrol(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enrolled"] is True and body["user"] == OFFICER_NAME
    assert body["encoder"] == "resemblyzer-0.1.4"
    assert body["encoder_sha256"] == RESEMBLYZER_WEIGHTS_SHA256
    assert body["speech_s"] >= 3 and body["enrolled_at"]
    assert "vector" not in response.text  # the voice print never leaves the service
    assert client.get(VOICE).json() == body

    sealed = raw_voice_column(services)
    assert sealed is not None and sealed.startswith(SEALED_PREFIX)
    assert ENROLMENT.read_bytes()[1000:1064] not in sealed and len(sealed) < 8_000
    assert enrol_samples_left(services) == []  # the sample's temporary copy is gone

    assert client.delete(VOICE).status_code == 204
    assert client.get(VOICE).json()["enrolled"] is False
    assert raw_voice_column(services) is None
    assert client.delete(VOICE).status_code == 204  # nothing to remove: still done

    with services.database.session() as session:
        entries = [
            (e.operation, e.action, e.actor_name)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            if e.operation.startswith("user.voice")
        ]
    assert entries == [
        ("user.voice_enrol", "collection", OFFICER_NAME),
        ("user.voice_remove", "erasure", OFFICER_NAME),
    ]


def test_a_sample_that_cannot_be_a_voice_is_refused(client: TestClient, tmp_path: Path) -> None:
    services = services_of(client)
    short = write_wav(tmp_path / "short.wav", decode_audio(ENROLMENT).samples[: 16_000 * 2])
    response = enrol(client, short)
    assert response.status_code == 422 and error_code(response) == "enrolment_too_short"
    assert "at least 3 s" in response.json()["error"]["message"]

    notes = tmp_path / "notes.ogg"
    notes.write_text("these are notes, not a recording")
    response = enrol(client, notes)
    assert response.status_code == 422 and error_code(response) == "not_audio"
    assert "notes.ogg" in response.json()["error"]["message"]
    assert "vs-enrol" not in response.text  # the temporary copy's name is not shown

    response = client.put(VOICE, content=b"RIFF", headers={"Content-Type": "audio/wav"})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"
    response = client.put(VOICE, files={"other": ("x.wav", b"RIFF", "audio/wav")})
    assert response.status_code == 422 and error_code(response) == "invalid_request"

    assert raw_voice_column(services) is None and enrol_samples_left(services) == []


def test_only_officers_enrol_and_only_their_own_voice(client: TestClient) -> None:
    services = services_of(client)
    builder = bearer(add_account(services, "DC 77 Okafor", ("case_builder",)))
    response = enrol(client, headers=builder)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    # Anyone signed in sees (and may remove) their own: a case builder has none.
    seen = client.get(VOICE, headers=builder)
    assert seen.status_code == 200 and seen.json()["enrolled"] is False
    assert client.delete(VOICE, headers=builder).status_code == 204

    assert enrol(client).status_code == 200
    colleague = bearer(add_account(services, "PC 88 Byrne"))
    assert client.get(VOICE, headers=colleague).json()["enrolled"] is False
    assert client.delete(VOICE, headers=colleague).status_code == 204
    assert client.get(VOICE).json()["enrolled"] is True  # the officer's own is untouched

    anonymous = TestClient(client.app)
    for method in ("GET", "PUT", "DELETE"):
        assert anonymous.request(method, VOICE).status_code == 401


def test_a_bad_speakers_value_is_refused_with_nothing_kept(client: TestClient) -> None:
    services = services_of(client)
    for bad in ("1", "7", "two", "AUTO "):
        with D01_AUDIO.open("rb") as audio:
            response = client.post(
                "/api/v1/statements",
                files={"audio": (D01_AUDIO.name, audio, "audio/ogg")},
                data={"template": "mg11", "speakers": bad},
            )
        assert response.status_code == 422, (bad, response.text)
        assert error_code(response) == "invalid_request"
        assert "speakers" in response.json()["error"]["message"]
        response = client.post(
            "/api/v1/uploads", json={"size": 10, "sha256": "0" * 64, "speakers": bad}
        )
        assert response.status_code == 422 and error_code(response) == "invalid_request"
    with services.database.engine.connect() as connection:
        for table in ("statements", "upload_sessions"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def assert_drafted_by_voice(client: TestClient, statement_id: str) -> dict[str, Any]:
    """The statement drafted from d01 with the officer's voice known: turns, the officer's voice
    decided by the enrolment, and none of the officer's questions in the narrative."""
    kinds = [e["kind"] for e in watch(client, statement_id)]
    assert "draft_ready" in kinds and "failed" not in kinds, kinds
    body: dict[str, Any] = client.get(f"/api/v1/statements/{statement_id}").json()
    statement = body["statement"]
    transcript = statement["transcript"]
    assert len(transcript["turns"]) >= 10, transcript["turns"]
    speakers = {s["id"]: s for s in transcript["speakers"]}
    officers = [s for s in speakers.values() if s["role"] == "officer"]
    assert len(officers) == 1, speakers
    assert officers[0]["role_basis"] == "enrolled_voice" and officers[0]["confirmed"] is True
    officer_said = " ".join(
        words(t["text"]) for t in transcript["turns"] if t["speaker"] == officers[0]["id"]
    )
    assert "what's your full name" in officer_said
    narrative = words(statement["narrative"])
    assert narrative and "?" not in statement["narrative"]
    for turn in D01["turns"]:
        if turn["role"] == "officer":
            assert words(turn["text"]) not in narrative, turn["text"]
    assert "graham" in narrative  # the witness's own words are the statement
    return body


def test_a_two_voice_recording_is_drafted_with_the_officer_known_by_voice(
    sqlite_client: TestClient,
) -> None:
    client = sqlite_client
    services = services_of(client)
    assert enrol(client).status_code == 200

    # A single upload.
    with D01_AUDIO.open("rb") as audio:
        created = client.post(
            "/api/v1/statements",
            files={"audio": (D01_AUDIO.name, audio, "audio/ogg")},
            data={"template": "mg11", "statement_date": D01["statement_date"], "speakers": "2"},
        )
    assert created.status_code == 202, created.text
    assert_drafted_by_voice(client, created.json()["id"])

    # A resumable upload carries its speakers from the declaration to the statement.
    recording = D01_AUDIO.read_bytes()
    declared = client.post(
        "/api/v1/uploads",
        json={
            "statement_date": D01["statement_date"],
            "size": len(recording),
            "sha256": hashlib.sha256(recording).hexdigest(),
            "filename": D01_AUDIO.name,
            "content_type": "audio/ogg",
            "speakers": "2",
        },
    )
    assert declared.status_code == 201, declared.text
    done = client.put(
        f"/api/v1/uploads/{declared.json()['id']}",
        params={"offset": 0},
        content=recording,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 200 and done.json()["complete"], done.text
    statement_id = done.json()["statement"]["id"]
    assert_drafted_by_voice(client, statement_id)
    with services.database.session() as session:
        record = session.get(StatementRecord, statement_id)
        assert record is not None and record.speakers == "2"
        user = session.scalars(select(User).where(User.name == OFFICER_NAME)).one()
        assert user.voice_embedding is not None  # still enrolled, and only a voice print
        assert set(user.voice_embedding) == {"vector", "encoder", "encoder_sha256", "speech_s"}
