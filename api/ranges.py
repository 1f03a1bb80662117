"""HTTP range requests for the recordings: how the review screen seeks in the original audio.

``GET .../audio`` answers ``200`` with the whole recording, or ``206`` with the one byte range a
``Range`` header asked for (RFC 9110 §14), streamed from the audio store in chunks.

Choices made here:

* Only the ``bytes`` unit exists. A ``Range`` in another unit is ignored (200, the whole body),
  as RFC 9110 §14.2 requires of an origin server.
* A request for several ranges (``bytes=0-99,500-599``) is answered with a single part: the
  smallest range covering every satisfiable one (RFC 9110 §14.2 lets a server coalesce). Browsers
  seeking in ``<audio>`` only ever ask for one range; multipart/byteranges is not worth its
  complexity here, and the client still receives every byte it asked for, with a
  ``Content-Range`` saying exactly which.
* A malformed range, one whose last byte precedes its first, or one that starts past the end is
  refused with ``416`` and ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from api.errors import ApiError
from workflow.audio_store import AudioStore

# A range-spec inside the set: "first-last", "first-" or "-suffix" (RFC 9110 §14.1.1).
_RANGE_SPEC = re.compile(r"(\d*)-(\d*)")
# Python refuses to parse ints of more than 4300 digits; anything past 18 is beyond any size.
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS
# The stored content type came from the client: only audio or video types, with simple
# parameters ("audio/webm;codecs=opus"), are echoed back; anything else is sent as opaque bytes
# so that an upload labelled text/html can never be rendered as a page.
_MEDIA_TYPE = re.compile(
    r"(?:audio|video)/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
    r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|\"[A-Za-z0-9 ,.+_-]*\"))*",
    re.IGNORECASE,
)
_FALLBACK_MEDIA_TYPE = "application/octet-stream"


class RangeNotSatisfiable(ApiError):
    """A 416, which must say how long the representation is: ``Content-Range: bytes */size``.

    ``headers`` is for the error handler to add to the JSON response it builds.
    """

    def __init__(self, size: int, message: str) -> None:
        super().__init__(416, "range_not_satisfiable", message)
        self.size = size
        self.headers = {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``(first, last)`` a ``Range`` header asks of ``size`` bytes.

    None when there is no header, or it is in a unit other than bytes (serve the whole body).
    ``last`` is clamped to ``size - 1``; a suffix range longer than the body means all of it.
    Raises ``RangeNotSatisfiable`` for a malformed header or a range that selects nothing.
    """
    if header is None:
        return None
    unit, equals, ranges = header.strip().partition("=")
    if not equals:
        raise RangeNotSatisfiable(size, f"the Range header {header!r} is not valid")
    if unit.strip().lower() != "bytes":
        return None
    # RFC 9110 list syntax: empty elements (", ,") are allowed and ignored.
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]
    if not specs:
        raise RangeNotSatisfiable(size, f"the Range header {header!r} names no range")

    satisfiable: list[tuple[int, int]] = []
    for spec in specs:
        match = _RANGE_SPEC.fullmatch(spec)
        if match is None or match.group(1) == match.group(2) == "":
            raise RangeNotSatisfiable(size, f"the range {spec!r} is not valid")
        first_digits, last_digits = match.groups()
        if first_digits == "":
            # A suffix: the last n bytes. "-0" selects nothing.
            suffix = _number(last_digits)
            if suffix > 0 and size > 0:
                satisfiable.append((max(size - suffix, 0), size - 1))
            continue
        first = _number(first_digits)
        if last_digits == "":
            last = size - 1  # "first-": to the end
        else:
            last = _number(last_digits)
            if last < first:
                raise RangeNotSatisfiable(size, f"the range {spec!r} ends before it starts")
        if first < size:
            satisfiable.append((first, min(last, size - 1)))

    if not satisfiable:
        raise RangeNotSatisfiable(
            size, f"the range {ranges.strip()!r} is outside the recording's {size} bytes"
        )
    return min(first for first, _ in satisfiable), max(last for _, last in satisfiable)


def safe_filename(filename: str) -> str:
    """A name safe inside ``filename="..."``: its last path part, ASCII letters, digits and
    ``._-`` and spaces only, never starting with a dot, at most 150 characters."""
    name = re.split(r"[/\\]", filename)[-1]
    # "é" becomes "e" rather than vanishing; what has no ASCII form is dropped.
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" ._")
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        keep = extension if dot and 0 < len(extension) <= 10 else ""
        name = (stem if keep else name)[: 150 - len(keep) - 1].rstrip(" ._")
        name = f"{name}.{keep}" if keep else name
    return name or "audio"


def _safe_media_type(media_type: str) -> str:
    media_type = media_type.strip()
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else _FALLBACK_MEDIA_TYPE


def audio_response(
    store: AudioStore,
    key: str,
    *,
    range_header: str | None,
    media_type: str,
    filename: str | None = None,
    sha256: str | None = None,
) -> StreamingResponse:
    """The recording under ``key``: 200 with all of it, or 206 with the range asked for.

    Raises, before anything is sent: ``AudioNotFound`` when the store does not hold the key (the
    caller knows whether that is a 404 or a lost recording) and ``RangeNotSatisfiable`` (416).
    """
    size = store.size(key)
    selected = parse_range(range_header, size)
    status, (first, last) = (200, (0, size - 1)) if selected is None else (206, selected)
    # The store checks the key and the range now; the bytes are read as they are sent.
    body: Iterator[bytes] = store.iter_range(key, first, last) if size > 0 else iter(())

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(last - first + 1),  # 0 for an empty recording: 0 to -1
        # The content type is the client's word for it: never let a browser guess another.
        "X-Content-Type-Options": "nosniff",
        # A witness's voice: not to be kept by any cache, shared or the officer's browser.
        "Cache-Control": "no-store",
    }
    if status == 206:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if sha256:
        headers["ETag"] = f'"{sha256}"'
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{safe_filename(filename)}"'
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=_safe_media_type(media_type)
    )
