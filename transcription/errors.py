"""Errors of the transcription layer, each with a stable machine-readable ``code``.

The command line prints ``message`` and exits 2; the service will answer 4xx with both.
"""


class TranscriptionError(Exception):
    """Something about the input or the set-up that the user can fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ModelError(TranscriptionError):
    """The requested model cannot be found, verified or loaded."""
