"""The OpenAI-compatible transcription route, with the real tiny.en model on real recordings.

Most tests go through FastAPI's TestClient; the last ones run the app under uvicorn on a
localhost port and talk to it with httpx the way OpenAI's client does (a multipart body with
``timestamp_granularities[]`` repeated).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import ApiError, install_error_handlers
from api.openai_compat import (
    check_model,
    compression_ratio,
    model_key,
    request_language,
    router,
)
from tests.conftest import add_account, bearer
from tests.metrics import word_error_rate
from workflow.services import Services
from workflow.settings import Settings

ROUTE = "/v1/audio/transcriptions"
pytestmark = pytest.mark.slow


def make_app(services: Services) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.services = services
    return app


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Services]:
    """One Services (so one loaded tiny.en) for the whole module."""
    tmp = tmp_path_factory.mktemp("openai-compat")
    built = Services(Settings(data_dir=data_dir, database_url=f"sqlite:///{tmp}/db.sqlite"))
    yield built
    built.close()


@pytest.fixture(scope="module")
def officer_token(services: Services) -> str:
    """An OpenAI client sends its API key as a bearer token: here, an officer's token."""
    return add_account(services, "PC 4521 Dawson")


@pytest.fixture(scope="module")
def client(services: Services, officer_token: str) -> Iterator[TestClient]:
    with TestClient(make_app(services), headers=bearer(officer_token)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def jfk_bytes(jfk_path: Path) -> bytes:
    return jfk_path.read_bytes()


class Reply(Protocol):
    """What the tests read of a response (TestClient answers with httpx2's, httpx with its own)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def transcribe(
    client: TestClient | httpx.Client,
    audio: bytes,
    *,
    filename: str = "jfk.flac",
    granularities: list[str] | None = None,
    **fields: str,
) -> Reply:
    data: dict[str, str | list[str]] = {"model": "whisper-1", **fields}
    if granularities is not None:
        data["timestamp_granularities[]"] = granularities  # repeated, as OpenAI's client sends
    return client.post(ROUTE, files={"file": (filename, audio, "audio/flac")}, data=data)


def error_of(response: Reply, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    return body["error"]


# --- the five response formats -------------------------------------------------------------


def test_json_is_just_the_text(client: TestClient, jfk_bytes: bytes, jfk_reference: str) -> None:
    response = transcribe(client, jfk_bytes)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"text"}
    assert word_error_rate(jfk_reference, body["text"]) < 0.1


def test_text_is_plain_text(client: TestClient, jfk_bytes: bytes, jfk_reference: str) -> None:
    response = transcribe(client, jfk_bytes, response_format="text")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.endswith("\n") and not response.text.startswith("{")
    assert word_error_rate(jfk_reference, response.text) < 0.1


def test_srt_is_numbered_subtitles(client: TestClient, jfk_bytes: bytes) -> None:
    response = transcribe(client, jfk_bytes, response_format="srt")
    assert response.status_code == 200, response.text
    assert response.text.startswith("1\n00:00:0")
    first_block = response.text.split("\n")
    assert " --> " in first_block[1] and "," in first_block[1]
    assert "country" in response.text


def test_vtt_is_webvtt(client: TestClient, jfk_bytes: bytes) -> None:
    response = transcribe(client, jfk_bytes, response_format="vtt")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/vtt")
    assert response.text.startswith("WEBVTT\n\n00:00:0")
    assert "country" in response.text


def test_verbose_json_has_segments_by_default_and_no_words(
    client: TestClient, jfk_bytes: bytes, jfk_reference: str
) -> None:
    response = transcribe(client, jfk_bytes, response_format="verbose_json")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task", "language", "duration", "text", "segments"}
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == pytest.approx(11.0, abs=0.1)
    assert word_error_rate(jfk_reference, body["text"]) < 0.1
    segments = body["segments"]
    assert segments
    for i, segment in enumerate(segments):
        assert set(segment) == {
            "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
            "compression_ratio", "no_speech_prob",
        }  # fmt: skip
        assert segment["id"] == i
        assert 0.0 <= segment["start"] < segment["end"] <= body["duration"] + 0.01
        assert segment["avg_logprob"] > -1.0  # JFK is clearly heard
        assert 0.0 <= segment["no_speech_prob"] < 0.5
        assert segment["compression_ratio"] > 0.5
    assert " ".join(s["text"] for s in segments) == body["text"]


def test_verbose_json_with_word_granularity_has_timed_words(
    client: TestClient, jfk_bytes: bytes
) -> None:
    response = transcribe(
        client,
        jfk_bytes,
        response_format="verbose_json",
        granularities=["word", "segment"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segments"]
    words = body["words"]
    assert [w["word"] for w in words][:4] == ["And", "so", "my", "fellow"]
    assert all(set(w) == {"word", "start", "end"} for w in words)
    assert all(w["word"] == w["word"].strip() for w in words)
    assert all(w["start"] <= w["end"] for w in words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and starts[-1] > starts[0] + 5  # spread over the speech
    assert words[-1]["word"].startswith("country")


def test_word_granularity_alone_leaves_segments_out(client: TestClient, jfk_bytes: bytes) -> None:
    response = transcribe(client, jfk_bytes, response_format="verbose_json", granularities=["word"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert "segments" not in body
    assert len(body["words"]) > 15


# --- model, language, prompt, temperature ---------------------------------------------------


def test_a_hugging_face_name_of_the_loaded_model_is_accepted(
    client: TestClient, jfk_bytes: bytes
) -> None:
    # "whisper-1" is what every other test sends; the other spellings are in
    # test_model_names_reduce_to_the_whisper_size
    response = transcribe(client, jfk_bytes, model="Systran/faster-whisper-tiny.en", language="en")
    assert response.status_code == 200, response.text
    assert "country" in response.json()["text"]


def test_another_model_is_refused_naming_the_loaded_one(
    client: TestClient, jfk_bytes: bytes
) -> None:
    error = error_of(transcribe(client, jfk_bytes, model="large-v3"), 400)
    assert error["code"] == "model_not_available"
    assert "large-v3" in error["message"] and "tiny.en" in error["message"]


def test_an_english_only_model_refuses_french(client: TestClient, jfk_bytes: bytes) -> None:
    error = error_of(transcribe(client, jfk_bytes, language="fr"), 400)
    assert error["code"] == "language_not_supported"
    assert "English-only" in error["message"]


def test_prompt_and_temperature_are_accepted(
    client: TestClient, jfk_bytes: bytes, jfk_reference: str
) -> None:
    # Neither changes the transcript yet (see api/openai_compat.py): clients that send them
    # must still get one. Granularities only shape verbose_json: plain json stays {"text"}.
    response = transcribe(
        client,
        jfk_bytes,
        prompt="Kennedy, inaugural.",
        temperature="0.4",
        granularities=["word"],
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"text"}
    assert word_error_rate(jfk_reference, response.json()["text"]) < 0.1


def test_the_model_field_is_required(client: TestClient, jfk_bytes: bytes) -> None:
    response = client.post(ROUTE, files={"file": ("jfk.flac", jfk_bytes, "audio/flac")})
    error = error_of(response, 422)
    assert error["code"] == "invalid_request"
    assert "model" in error["message"]


# --- refusals ------------------------------------------------------------------------------


def test_a_text_file_is_refused_as_not_audio(client: TestClient) -> None:
    response = transcribe(client, b"Dear officer,\nthis is not a recording.\n", filename="x.txt")
    error = error_of(response, 400)
    assert error["code"] == "not_audio"
    # the client's own file name, not the server's temporary path
    assert error["message"].startswith("x.txt: ")
    assert "openai-upload-" not in error["message"] and "/" not in error["message"]


def test_an_empty_upload_is_refused(client: TestClient) -> None:
    error = error_of(transcribe(client, b"", filename="empty.m4a"), 400)
    assert error["code"] == "empty_file"


def test_a_truncated_recording_is_refused(client: TestClient, jfk_bytes: bytes) -> None:
    error = error_of(transcribe(client, jfk_bytes[: len(jfk_bytes) // 2]), 400)
    assert error["code"] == "truncated"
    assert "jfk.flac" in error["message"]


def test_an_unknown_response_format_is_refused(client: TestClient, jfk_bytes: bytes) -> None:
    error = error_of(transcribe(client, jfk_bytes, response_format="docx"), 400)
    assert error["code"] == "invalid_response_format"
    assert "verbose_json" in error["message"]


def test_an_unknown_granularity_is_refused(client: TestClient, jfk_bytes: bytes) -> None:
    response = transcribe(client, jfk_bytes, granularities=["word", "char"])
    assert error_of(response, 400)["code"] == "invalid_timestamp_granularities"


def test_an_upload_over_the_limit_is_refused_and_nothing_is_left_behind(
    tmp_path: Path, data_dir: Path, jfk_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    small = Services(
        Settings(
            data_dir=data_dir,
            database_url=f"sqlite:///{tmp_path}/db.sqlite",
            max_upload_bytes=len(jfk_bytes) - 1,
        )
    )
    try:
        token = add_account(small, "PC 4521 Dawson")
        with TestClient(make_app(small), headers=bearer(token)) as client:
            error = error_of(transcribe(client, jfk_bytes), 413)
        assert error["code"] == "too_large"
        assert str(len(jfk_bytes) - 1) in error["message"]
        assert "pipeline" not in small.__dict__  # refused before any model was loaded
    finally:
        small.close()
    assert list(tmp_path.glob("openai-upload-*")) == []


def test_temporary_copies_are_deleted_after_success_and_failure(
    client: TestClient, jfk_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[Path] = []
    original = Path.unlink

    def watching_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name.startswith("openai-upload-"):
            seen.append(self)
        original(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", watching_unlink)
    assert transcribe(client, jfk_bytes).status_code == 200
    assert transcribe(client, b"not audio", filename="../../etc/passwd").status_code == 400
    assert [p.parent for p in seen] == [tmp_path, tmp_path]
    assert seen[0].suffix == ".flac" and seen[1].suffix == ""  # never the client's path
    assert list(tmp_path.iterdir()) == []


# --- the rules as functions ----------------------------------------------------------------


def test_model_names_reduce_to_the_whisper_size() -> None:
    for name in ("tiny.en", "Systran/faster-whisper-tiny.en", "openai/whisper-tiny.en",
                 "/srv/models/faster-whisper-tiny.en/", "TINY.EN"):  # fmt: skip
        assert model_key(name) == "tiny.en", name
    assert model_key("distil-whisper/distil-large-v3") == "distil-large-v3"
    check_model("whisper-1", "/srv/models/my-finetune")
    check_model("/srv/models/my-finetune", "/srv/models/my-finetune")
    check_model("Systran/faster-whisper-base", "base")
    for wrong in ("tiny", "base.en", "large-v3", "distil-large-v3"):
        with pytest.raises(ApiError) as caught:
            check_model(wrong, "tiny.en")
        assert caught.value.code == "model_not_available"


def test_languages_for_english_only_and_multilingual_models() -> None:
    assert request_language("", "tiny.en") == "en"
    assert request_language("EN", "Systran/faster-whisper-tiny.en") == "en"
    assert request_language("", "base") is None  # detect
    assert request_language("pl", "base") == "pl"
    for language, model in (("fr", "tiny.en"), ("xx", "base"), ("english", "base")):
        with pytest.raises(ApiError) as caught:
            request_language(language, model)
        assert caught.value.code == "language_not_supported"


def test_compression_ratio_sees_a_loop() -> None:
    plain = compression_ratio("And so my fellow Americans, ask not what your country can do.")
    looping = compression_ratio("the the the the the the the the the the the the the the the")
    assert plain < 2.4 < looping  # Whisper's own threshold for a looping window


# --- over a real socket, as OpenAI's client sends it ---------------------------------------


@pytest.fixture(scope="module")
def server_url(services: Services, officer_token: str) -> Iterator[str]:
    """The app under uvicorn on a free localhost port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_an_openai_style_multipart_request_over_http(
    server_url: str, jfk_path: Path, jfk_reference: str, officer_token: str
) -> None:
    # What openai.audio.transcriptions.create(file=open(...), model="whisper-1",
    # response_format="verbose_json", timestamp_granularities=["word", "segment"]) puts on the
    # wire: the array as repeated "timestamp_granularities[]" fields.
    with (
        httpx.Client(base_url=server_url, timeout=60, headers=bearer(officer_token)) as http,
        jfk_path.open("rb") as audio,
    ):
        response = http.post(
            ROUTE,
            files=[("file", ("jfk.flac", audio, "application/octet-stream"))],
            data={
                "model": "whisper-1",
                "response_format": "verbose_json",
                "timestamp_granularities[]": ["word", "segment"],
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert word_error_rate(jfk_reference, body["text"]) < 0.1
    assert body["words"] and body["segments"]


def test_transcription_waits_for_the_pipeline_lock_without_blocking_the_server(
    server_url: str, services: Services, jfk_bytes: bytes, officer_token: str
) -> None:
    with (
        httpx.Client(base_url=server_url, timeout=60, headers=bearer(officer_token)) as http,
        ThreadPoolExecutor(1) as pool,
    ):
        services.pipeline_lock.acquire()
        try:
            waiting = pool.submit(transcribe, http, jfk_bytes)
            time.sleep(0.5)
            assert not waiting.done()  # queued behind whoever holds the pipeline
            # ...while the event loop still answers other requests at once
            started = time.monotonic()
            refused = transcribe(http, jfk_bytes, response_format="docx")
            assert refused.status_code == 400
            assert time.monotonic() - started < 2
            assert not waiting.done()
        finally:
            services.pipeline_lock.release()
        response = waiting.result(timeout=60)
    assert response.status_code == 200, response.text
    assert "country" in response.json()["text"]
