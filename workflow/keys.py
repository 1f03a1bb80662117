"""Key operations for the command line: ``voice-statement keys generate`` and ``keys rotate``.

Rotating the key-encryption key (KEK), step by step:

1. ``voice-statement keys generate`` prints a new KEK (base64 of 32 random bytes).
2. Give every process of the service the new KEK as ``VOICE_STATEMENT_KEK`` and the old one in
   ``VOICE_STATEMENT_PREVIOUS_KEKS`` (a JSON list; for the embedded default, the old one is the
   content of the key file), and restart them: they read with either, and wrap new data keys
   under the new one.
3. ``voice-statement keys rotate`` re-wraps every data key under the new KEK. The recordings and
   the statement content are not re-encrypted: only the data keys' few bytes change.
4. Remove the old KEK from ``VOICE_STATEMENT_PREVIOUS_KEKS`` (and destroy it).

``keys rotate`` also finishes the move to encryption at rest of a database from before it:
content rows still in plaintext are sealed, and recordings still in plaintext are encrypted
(checked against their recorded SHA-256 first). Run again, it finds nothing more to do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select, type_coerce, update
from sqlalchemy.types import NullType

from models.tables import SEALED_PREFIX, Base, SealedBytes, SealedJSON, StatementRecord
from security.crypto import KeyEncryptionKey
from workflow.audio_store import AudioNotFound, EncryptedAudioStore
from workflow.services import Services

log = logging.getLogger(__name__)

# Legacy content rows are read and sealed this many at a time (bounded memory).
_PAGE = 200


@dataclass
class RotationReport:
    """What ``rotate_keys`` did."""

    kek_id: str  # the KEK every data key is now wrapped by
    rewrapped_keys: int = 0
    keys_already_current: int = 0
    # "table.column" -> rows that were still plaintext and are now sealed
    sealed_rows: dict[str, int] = field(default_factory=dict)
    encrypted_recordings: int = 0
    # statement ids whose plaintext recording does not match its recorded SHA-256: left as
    # they are, for a person to look at (encrypting them would bless the altered bytes)
    mismatched_recordings: list[str] = field(default_factory=list)
    # statement ids whose recording is not in the store at all
    missing_recordings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as the command line prints it."""
        out = [
            f"data keys re-wrapped under key-encryption key {self.kek_id}: "
            f"{self.rewrapped_keys} ({self.keys_already_current} already were)"
        ]
        for column, count in sorted(self.sealed_rows.items()):
            out.append(f"sealed {count} plaintext row(s) of {column}")
        if self.encrypted_recordings:
            out.append(f"encrypted {self.encrypted_recordings} plaintext recording(s)")
        for statement_id in self.mismatched_recordings:
            out.append(
                f"warning: statement {statement_id}: its plaintext recording does not match its "
                "recorded SHA-256; left unencrypted for investigation"
            )
        for statement_id in self.missing_recordings:
            out.append(f"warning: statement {statement_id}: its recording is missing")
        return out


def generate_kek() -> str:
    """A new key-encryption key: base64 of 32 random bytes, for ``VOICE_STATEMENT_KEK``."""
    return KeyEncryptionKey.generate().to_base64()


def rotate_keys(services: Services) -> RotationReport:
    """Re-wrap every data key under the current KEK (``services.keys.current``), then seal
    the content and encrypt the recordings still in plaintext from before encryption at rest.

    Raises ``security.crypto.KeyConfigError`` naming the KEK of a data key the ring cannot
    unwrap (nothing is re-wrapped then).
    """
    services.database.migrate()
    rotated = services.data_keys.rotate(services.keys)
    report = RotationReport(
        kek_id=rotated.kek_id,
        rewrapped_keys=rotated.rewrapped,
        keys_already_current=rotated.already_current,
    )
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedJSON | SealedBytes):
                count = _seal_plaintext_rows(services, table, column.name)
                if count:
                    report.sealed_rows[f"{table.name}.{column.name}"] = count
    if isinstance(services.audio_store, EncryptedAudioStore):
        _encrypt_plaintext_recordings(services, services.audio_store, report)
    return report


def _raw_bytes(value: Any) -> bytes:
    # SQLite hands back TEXT for a value written before its column became binary.
    return value.encode() if isinstance(value, str) else bytes(value)


def _seal_plaintext_rows(services: Services, table: Table, name: str) -> int:
    """Seal the rows of ``table.name`` that hold plaintext; returns how many there were."""
    [key] = table.primary_key.columns
    column = table.c[name]
    # NullType: the stored bytes exactly as the driver returns them, not opened by the sealer.
    raw = type_coerce(column, NullType())
    is_json = isinstance(column.type, SealedJSON)
    sealed = 0
    after: Any = None
    engine = services.database.engine
    while True:
        query = select(key, raw).where(column.is_not(None)).order_by(key).limit(_PAGE)
        if after is not None:
            query = query.where(key > after)
        with engine.begin() as connection:
            rows = connection.execute(query).all()
            for row_key, value in rows:
                data = _raw_bytes(value)
                if data.startswith(SEALED_PREFIX):
                    continue
                try:
                    plain: Any = json.loads(data) if is_json else data
                except ValueError as exc:
                    raise ValueError(
                        f"{table.name}.{name} of row {row_key} is neither sealed nor JSON: {exc}"
                    ) from exc
                # Bound through the column's Sealed type: written back sealed.
                connection.execute(update(table).where(key == row_key).values({name: plain}))
                sealed += 1
        if len(rows) < _PAGE:
            return sealed
        after = rows[-1][0]


def _encrypt_plaintext_recordings(
    services: Services, store: EncryptedAudioStore, report: RotationReport
) -> None:
    with services.database.engine.connect() as connection:
        records = connection.execute(
            select(StatementRecord.id, StatementRecord.audio_key, StatementRecord.audio_sha256)
            .where(StatementRecord.erased_at.is_(None))
            .order_by(StatementRecord.created_at, StatementRecord.id)
        ).all()
    for statement_id, audio_key, audio_sha256 in records:
        if not audio_key:
            continue
        try:
            if store.is_encrypted(audio_key):
                continue
            encrypted = store.encrypt_legacy(audio_key)
        except AudioNotFound:
            report.missing_recordings.append(statement_id)
            continue
        if encrypted.sha256 != audio_sha256:
            store.delete(encrypted.key)
            report.mismatched_recordings.append(statement_id)
            continue
        # No write transaction is open while the store saves (a SQLite database allows one
        # writer); the record moves to the encrypted copy only if it still names the old one.
        with services.database.engine.begin() as connection:
            moved = connection.execute(
                update(StatementRecord)
                .where(StatementRecord.id == statement_id, StatementRecord.audio_key == audio_key)
                # updated_at set to itself: the statement did not change, only where its
                # recording is kept
                .values(audio_key=encrypted.key, updated_at=StatementRecord.updated_at)
            ).rowcount
        if moved == 1:
            store.inner.delete(audio_key)
            report.encrypted_recordings += 1
        else:  # changed meanwhile (erased, say): keep things as the record says
            store.delete(encrypted.key)
