"""Range requests on the recordings: parsing by the RFC, and the responses a real app sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.ranges import RangeNotSatisfiable, audio_response, parse_range, safe_filename
from tests.conftest import AUDIO_FIXTURES
from workflow.audio_store import (
    AudioNotFound,
    AudioStore,
    DatabaseAudioStore,
    LocalAudioStore,
    StoredAudio,
)
from workflow.database import Database

RECORDING = AUDIO_FIXTURES / "mg11_assault.ogg"

# (header, size) -> the inclusive range served; None: the whole body with 200.
SATISFIABLE = [
    (None, 1000, None),
    ("bytes=0-99", 1000, (0, 99)),
    ("bytes=0-0", 1000, (0, 0)),
    ("bytes=999-999", 1000, (999, 999)),
    ("bytes=500-", 1000, (500, 999)),
    ("bytes=0-5000", 1000, (0, 999)),  # the end is clamped
    ("bytes=-10", 1000, (990, 999)),  # the last ten bytes
    ("bytes=-5000", 1000, (0, 999)),  # a suffix longer than the body is all of it
    ("bytes=0-", 1, (0, 0)),
    ("Bytes=10-19", 1000, (10, 19)),  # the unit is case-insensitive
    ("bytes=0-1,5-6", 1000, (0, 6)),  # several ranges: one part covering them all
    ("bytes=0-1, 2000-3000", 1000, (0, 1)),  # the unsatisfiable one is dropped
    ("bytes=900-, -50", 1000, (900, 999)),
    ("bytes= 1-2 ,", 1000, (1, 2)),  # empty list elements are ignored
    ("bytes=0-" + "9" * 5000, 1000, (0, 999)),  # a vast end is just clamped
    ("items=0-5", 1000, None),  # a unit we do not know: ignored, per RFC 9110
]

UNSATISFIABLE = [
    ("bytes=1000-", 1000),  # starts at the end
    ("bytes=5000-6000", 1000),
    ("bytes=" + "9" * 5000 + "-", 1000),
    ("bytes=-0", 1000),  # an empty suffix selects nothing
    ("bytes=0-", 0),  # nothing in an empty body can be selected
    ("bytes=-5", 0),
    ("bytes=5-1", 1000),  # ends before it starts
    ("bytes=abc", 1000),
    ("bytes=", 1000),
    ("bytes=-", 1000),
    ("bytes=1-2-3", 1000),
    ("bytes=+1-2", 1000),
    ("bytes=0x10-20", 1000),
    ("0-99", 1000),  # no unit at all
    ("bytes=1000-,2000-", 1000),
]


@pytest.mark.parametrize(("header", "size", "expected"), SATISFIABLE)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), UNSATISFIABLE)
def test_parse_range_refuses_with_416(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range(header, size)
    assert refused.value.status == 416
    assert refused.value.code == "range_not_satisfiable"
    assert refused.value.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mg11_assault.ogg", "mg11_assault.ogg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\pc123\\statement.ogg", "statement.ogg"),
        ('witness "A".ogg', "witness _A_.ogg"),
        ("déclaration.ogg", "declaration.ogg"),
        (".htaccess", "htaccess"),
        ("a\r\nSet-Cookie: x=1.ogg", "a_Set-Cookie_ x_1.ogg"),
        ("", "audio"),
        ("声明", "audio"),
    ],
)
def test_safe_filename(given: str, expected: str) -> None:
    assert safe_filename(given) == expected


def test_a_long_filename_is_cut_but_keeps_its_extension() -> None:
    name = safe_filename("x" * 400 + ".ogg")
    assert len(name) <= 150 and name.endswith("xxx.ogg")
    assert re.fullmatch(r"[A-Za-z0-9._ -]+", name)


# --- over HTTP: a real app whose one route streams from a real store -------------------------

each_store = pytest.mark.parametrize(
    ("kind", "database_url"),
    [("local", "sqlite"), ("database", "sqlite"), ("database", "postgresql")],
    indirect=["database_url"],
    ids=["local", "database-sqlite", "database-postgresql"],
)


@pytest.fixture
def store(
    kind: str, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AudioStore:
    # database_url is parametrized indirectly so the local store never costs a PostgreSQL
    # database; the database store asks for the migrated one.
    if kind == "local":
        return LocalAudioStore(tmp_path / "audio")
    database: Database = request.getfixturevalue("database")
    return DatabaseAudioStore(database, temp_dir=tmp_path)


@pytest.fixture
def stored(store: AudioStore) -> StoredAudio:
    with RECORDING.open("rb") as upload:
        return store.save(upload, max_bytes=10 * 1024 * 1024)


@pytest.fixture
def client(store: AudioStore, stored: StoredAudio) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/audio/{key}")
    def get_audio(
        key: str, request: Request, media_type: str = "audio/ogg", filename: str | None = None
    ) -> StreamingResponse:
        return audio_response(
            store,
            key,
            range_header=request.headers.get("range"),
            media_type=media_type,
            filename=filename,
            sha256=stored.sha256 if key == stored.key else None,
        )

    with TestClient(app) as test_client:
        yield test_client


@each_store
def test_the_whole_recording(client: TestClient, stored: StoredAudio) -> None:
    response = client.get(f"/audio/{stored.key}", params={"filename": "../mg11 assault.ogg"})
    assert response.status_code == 200
    assert response.content == RECORDING.read_bytes()
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(stored.size)
    assert response.headers["content-type"] == "audio/ogg"
    assert response.headers["etag"] == f'"{stored.sha256}"'
    assert response.headers["content-disposition"] == 'inline; filename="mg11 assault.ogg"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-range" not in response.headers


@each_store
def test_the_first_hundred_bytes(client: TestClient, stored: StoredAudio) -> None:
    response = client.get(f"/audio/{stored.key}", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == RECORDING.read_bytes()[:100]
    assert response.headers["content-range"] == f"bytes 0-99/{stored.size}"
    assert response.headers["content-length"] == "100"
    assert response.headers["accept-ranges"] == "bytes"


@each_store
def test_the_last_ten_bytes(client: TestClient, stored: StoredAudio) -> None:
    response = client.get(f"/audio/{stored.key}", headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert response.content == RECORDING.read_bytes()[-10:]
    last = stored.size - 1
    assert response.headers["content-range"] == f"bytes {last - 9}-{last}/{stored.size}"


@each_store
def test_seeking_to_the_middle_reads_to_the_end(client: TestClient, stored: StoredAudio) -> None:
    response = client.get(f"/audio/{stored.key}", headers={"Range": "bytes=40000-"})
    assert response.status_code == 206
    assert response.content == RECORDING.read_bytes()[40000:]
    assert response.headers["content-length"] == str(stored.size - 40000)


@each_store
def test_a_range_past_the_end_is_416(client: TestClient, stored: StoredAudio) -> None:
    response = client.get(f"/audio/{stored.key}", headers={"Range": "bytes=999999999-"})
    assert response.status_code == 416
    assert response.json()["error"]["code"] == "range_not_satisfiable"
    assert str(stored.size) in response.json()["error"]["message"]
    assert response.headers["content-range"] == f"bytes */{stored.size}"


@each_store
def test_a_recording_not_in_the_store_is_refused_before_any_response(store: AudioStore) -> None:
    # The caller decides what that means (the route answers 500: the statement lost its audio).
    with pytest.raises(AudioNotFound):
        audio_response(store, "0" * 32, range_header="bytes=0-9", media_type="audio/ogg")


# The content type is the response's business, not the store's: one store is enough.
@pytest.mark.parametrize(
    ("kind", "database_url"), [("local", "sqlite")], indirect=["database_url"], ids=["local"]
)
def test_a_content_type_that_is_not_audio_is_sent_as_bytes(
    client: TestClient, stored: StoredAudio
) -> None:
    page = client.get(f"/audio/{stored.key}", params={"media_type": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/octet-stream"
    webm = client.get(f"/audio/{stored.key}", params={"media_type": "audio/webm;codecs=opus"})
    assert webm.headers["content-type"] == "audio/webm;codecs=opus"
