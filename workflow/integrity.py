"""Recompute the evidence hashes from what is stored, for a court or a reviewer.

The audio hash is of the plaintext recording, recomputed by reading it back through the
(decrypting) audio store; the confirmed content hash is recomputed over the canonical JSON of the
content the witness accepted. Either disagreeing with the value recorded at the time means the
stored evidence changed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from models.tables import StatementRecord
from workflow.audio_store import AudioNotFound, AudioStore
from workflow.statements import canonical_json


def audio_sha256(store: AudioStore, key: str) -> str | None:
    """The SHA-256 of the stored recording's plaintext, or None when it is gone."""
    digest = hashlib.sha256()
    try:
        size = store.size(key)
        if size:
            for chunk in store.iter_range(key, 0, size - 1):
                digest.update(chunk)
    except AudioNotFound:
        return None
    return digest.hexdigest()


def check_integrity(store: AudioStore, record: StatementRecord) -> dict[str, Any]:
    recomputed_audio = audio_sha256(store, record.audio_key) if record.audio_key else None
    audio = {
        "recorded": record.audio_sha256,
        "recomputed": recomputed_audio,
        "ok": recomputed_audio == record.audio_sha256,
    }
    confirmed = None
    if record.confirmation is not None:
        recomputed = hashlib.sha256(canonical_json(record.confirmation.content)).hexdigest()
        confirmed = {
            "recorded": record.confirmation.content_sha256,
            "recomputed": recomputed,
            "ok": recomputed == record.confirmation.content_sha256,
        }
    return {
        "statement_id": record.id,
        "audio": audio,
        "confirmed_content": confirmed,
        "ok": audio["ok"] and (confirmed is None or confirmed["ok"]),
    }
