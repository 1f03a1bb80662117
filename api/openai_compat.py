"""OpenAI-compatible speech to text: ``POST /v1/audio/transcriptions``.

Existing Whisper clients (the ``openai`` Python and JavaScript clients, speaches /
faster-whisper-server users, subtitle tools) can point their base URL at this service and
transcribe with the model it has loaded. The request and response shapes follow OpenAI's
``createTranscription``:

* form fields ``file``, ``model``, ``language``, ``prompt``, ``response_format``
  (``json`` | ``text`` | ``srt`` | ``vtt`` | ``verbose_json``), ``temperature`` and
  ``timestamp_granularities[]`` (repeated: ``segment``, ``word``);
* ``json`` answers ``{"text": ...}``; ``text``, ``srt`` and ``vtt`` answer the text itself;
  ``verbose_json`` adds the language, duration, segments and (when asked) words.

What differs from OpenAI, on purpose:

* One model serves every request: ``model`` must name the loaded one (or be ``whisper-1``,
  OpenAI's name for "the Whisper model"); another name is refused, never loaded on demand.
* ``temperature`` is accepted and ignored: decoding always starts at temperature 0 and falls
  back through Whisper's schedule with a fixed seed, so the same recording always gives the
  same transcript (evidence must be reproducible).
* Errors are this service's ``{"error": {"code", "message"}}``; OpenAI's body also has
  ``type`` and ``param``, which its clients read as optional.
* In ``verbose_json`` segments, ``tokens`` is empty and ``temperature`` is 0.0 (the pipeline
  keeps neither the token ids nor which fallback temperature a window needed), and ``seek`` is
  the segment's start in 10 ms frames rather than the start of Whisper's 30 s window.
"""

from __future__ import annotations

import tempfile
import zlib
from functools import cache
from pathlib import Path, PurePath
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.auth import require_roles
from api.deps import ServicesDep
from api.errors import ApiError
from api.schemas import error_responses
from models import Principal, Role, Transcript
from security import audit
from security.audit import AuditAction
from transcription.audio import AudioError
from transcription.errors import TranscriptionError
from workflow.pipeline import TranscribeRequest
from workflow.render import render_srt, render_txt, render_vtt
from workflow.services import Services

router = APIRouter(tags=["openai-compatible"])

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")
OPENAI_MODEL_NAME = "whisper-1"

# The temporary copy keeps the upload's extension only when it is one of these, so that the
# transcript's ``audio.format`` reads "m4a" rather than FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2".
# The client's file name is never used as a path.
AUDIO_SUFFIXES = frozenset(
    {".3gp", ".aac", ".amr", ".flac", ".m4a", ".mkv", ".mp3", ".mp4", ".mpeg", ".mpga", ".oga",
     ".ogg", ".opus", ".wav", ".weba", ".webm"}
)  # fmt: skip
_COPY_CHUNK = 1 << 20


@router.post(
    "/v1/audio/transcriptions",
    response_model=None,
    summary="Transcribe a recording (OpenAI-compatible)",
    responses=error_responses(400, 401, 403, 413, 415, 503),
)
def create_transcription(
    services: ServicesDep,
    user: Annotated[Principal, Depends(require_roles(Role.OFFICER))],
    file: Annotated[UploadFile, File(description="the recording: any format FFmpeg reads")],
    model: Annotated[str, Form(description="whisper-1, or the name of the loaded model")],
    language: Annotated[str, Form(description="ISO-639-1 code; empty: en or detect")] = "",
    prompt: Annotated[
        str, Form(description="text to bias spelling; replaces the service vocabulary")
    ] = "",
    response_format: Annotated[str, Form()] = "json",
    temperature: Annotated[float, Form(description="accepted and ignored")] = 0.0,
    timestamp_granularities: Annotated[
        list[str] | None, Form(alias="timestamp_granularities[]")
    ] = None,
) -> Response:
    """Transcribe one upload with the service's model and answer in OpenAI's shapes.

    A ``def`` handler: FastAPI runs it in its threadpool, so Whisper never blocks the event
    loop, and ``services.pipeline_lock`` queues it behind any other transcription in the
    process.
    """
    del temperature  # deterministic decoding; see the module docstring
    if response_format not in RESPONSE_FORMATS:
        raise ApiError(
            400,
            "invalid_response_format",
            f"response_format {response_format!r} is not one of {', '.join(RESPONSE_FORMATS)}",
        )
    granularities = set(timestamp_granularities or ())
    if unknown := granularities - set(GRANULARITIES):
        raise ApiError(
            400,
            "invalid_timestamp_granularities",
            f"timestamp_granularities[] {', '.join(sorted(unknown))} not understood; "
            f"use {' and/or '.join(GRANULARITIES)}",
        )
    loaded = services.settings.model
    check_model(model, loaded)
    # A client's prompt replaces the service vocabulary for this request, as at OpenAI.
    request = TranscribeRequest(
        language=request_language(language, loaded), initial_prompt=prompt.strip() or None
    )

    transcript = _transcribe_upload(services, file, request)
    # Collection (s.62): the recording is transcribed and not kept; the text goes to the caller.
    with services.database.session() as session:
        audit.record(
            session,
            user,
            AuditAction.COLLECTION,
            "transcription.direct",
            detail={"model": loaded, "duration_s": round(transcript.duration_s, 3)},
        )

    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "text":
        return PlainTextResponse(render_txt(transcript))
    if response_format == "srt":
        return PlainTextResponse(render_srt(transcript))
    if response_format == "vtt":
        return PlainTextResponse(render_vtt(transcript), media_type="text/vtt")
    return JSONResponse(verbose_json(transcript, granularities or {"segment"}))


# --- model and language ----------------------------------------------------------------------


def model_key(name: str) -> str:
    """The Whisper size a model name means, so different spellings of one model compare equal.

    ``Systran/faster-whisper-tiny.en``, ``openai/whisper-tiny.en``, ``faster-whisper-tiny.en``,
    ``/models/faster-whisper-tiny.en`` and ``tiny.en`` all give ``tiny.en``. Anything else
    (``distil-large-v3``, a local directory's own name) is kept as it is, lower-cased.
    """
    key = PurePath(name.strip().rstrip("/\\")).name.lower()
    for prefix in ("faster-whisper-", "whisper-"):
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return key


def check_model(requested: str, loaded: str) -> None:
    """Refuse a ``model`` other than the loaded one: a second model is never loaded per request.

    ``whisper-1`` (what OpenAI's clients send by default) means the loaded model, as does the
    configured ``model`` setting verbatim and any name with the same :func:`model_key`.
    """
    if requested.strip() in (OPENAI_MODEL_NAME, loaded) or model_key(requested) == model_key(
        loaded
    ):
        return
    raise ApiError(
        400,
        "model_not_available",
        f"model {requested!r} is not loaded on this server; it serves {model_key(loaded)!r} "
        f"(send model={OPENAI_MODEL_NAME!r} or {model_key(loaded)!r})",
    )


def english_only(model: str) -> bool:
    """Whisper's English-only models are the ``.en`` ones (tiny.en, base.en, ...)."""
    return model_key(model).endswith(".en")


@cache
def whisper_languages() -> dict[str, str]:
    """ISO-639-1 code -> the lower-case English name Whisper (and OpenAI's API) use for it.

    Imported on first use: ``whisper`` brings torch, which the pipeline has loaded by then.
    """
    from whisper.tokenizer import LANGUAGES

    return dict(LANGUAGES)


def request_language(language: str, model: str) -> str | None:
    """The language to decode in: the code given, or for none given ``en`` on an English-only
    model and ``None`` (detect) on a multilingual one."""
    code = language.strip().lower()
    if english_only(model):
        if code not in ("", "en"):
            raise ApiError(
                400,
                "language_not_supported",
                f"language {language!r} is not supported: the model {model_key(model)!r} is "
                "English-only (send language=en or leave it out)",
            )
        return "en"
    if not code:
        return None
    if code not in whisper_languages():
        raise ApiError(
            400,
            "language_not_supported",
            f"language {language!r} is not an ISO-639-1 code Whisper knows",
        )
    return code


# --- the upload ------------------------------------------------------------------------------


def _transcribe_upload(
    services: Services, upload: UploadFile, request: TranscribeRequest
) -> Transcript:
    """Copy the upload to a temporary file, transcribe it under the pipeline lock, delete it."""
    suffix = PurePath(upload.filename or "").suffix.lower()
    shown = PurePath(upload.filename or "").name[:200] or "upload"
    with tempfile.NamedTemporaryFile(
        prefix="openai-upload-",
        suffix=suffix if suffix in AUDIO_SUFFIXES else "",
        delete=False,
    ) as temporary:
        path = Path(temporary.name)
    try:
        with path.open("wb") as out:
            copy_limited(upload.file, out, services.settings.max_upload_bytes)
        try:
            with services.pipeline_lock:
                return services.pipeline.transcribe(path, request)
        except AudioError as exc:
            # the decoder names the file it read: show the client its own file name instead
            raise ApiError(400, exc.code, exc.message.replace(path.name, shown)) from exc
        except TranscriptionError as exc:
            if exc.code == "model_english_only":
                raise ApiError(400, "language_not_supported", exc.message) from exc
            # the model cannot be found or loaded: the server's set-up, not the request
            raise ApiError(503, exc.code, exc.message) from exc
    finally:
        path.unlink(missing_ok=True)


def copy_limited(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy ``source`` to ``target``, refusing (413) as soon as more than ``limit`` bytes came."""
    copied = 0
    while chunk := source.read(_COPY_CHUNK):
        copied += len(chunk)
        if copied > limit:
            raise ApiError(
                413,
                "too_large",
                f"the upload is over the {limit} byte limit (max_upload_bytes)",
            )
        target.write(chunk)
    return copied


# --- verbose_json ----------------------------------------------------------------------------


def compression_ratio(text: str) -> float:
    """Whisper's loop detector: how much better than 1:1 the text compresses with zlib."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def verbose_json(transcript: Transcript, granularities: set[str]) -> dict[str, Any]:
    """OpenAI's ``verbose_json`` body: segments and/or words as ``granularities`` asks."""
    body: dict[str, Any] = {
        "task": transcript.task,
        "language": whisper_languages().get(transcript.language, transcript.language),
        "duration": float(transcript.duration_s),
        "text": transcript.text,
    }
    if "segment" in granularities:
        body["segments"] = [
            {
                "id": i,
                "seek": round(s.start * 100),
                "start": float(s.start),
                "end": float(s.end),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": float(s.avg_logprob),
                "compression_ratio": compression_ratio(s.text),
                "no_speech_prob": float(s.no_speech_prob),
            }
            for i, s in enumerate(transcript.segments)
        ]
    if "word" in granularities:
        # OpenAI's words carry no leading space (Whisper's tokens do)
        body["words"] = [
            {"word": w.word.strip(), "start": float(w.start), "end": float(w.end)}
            for w in transcript.words
        ]
    return body
