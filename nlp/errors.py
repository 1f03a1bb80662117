"""Errors the extractor raises."""

from __future__ import annotations


class ExtractionError(ValueError):
    """The extractor cannot run or was called wrongly; the user can fix it. ``code`` is a
    stable machine-readable reason (``spacy_model_missing``, ``text_mismatch``, ...) for the API
    and CLI to map to a response; the same ``(code, message)`` shape as the transcription
    layer's errors."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
