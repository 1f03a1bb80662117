"""Encryption at rest: what is stored is ciphertext, it decrypts to exactly what was given, it
fails loudly when altered, and the keys behave (wrong key, rotation, key file, shredding).

Everything is real: AES-GCM from ``cryptography``, the local and database audio stores, SQLite
and PostgreSQL, the stored bytes read back with plain SQL and from the files themselves.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import stat
import threading
import time
import wave
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import column, event, insert, select, table, text, update
from sqlalchemy.orm import Session

from models.tables import (
    SEALED_PREFIX,
    AudioBlob,
    Confirmation,
    DataKey,
    OutboxMessage,
    StatementRecord,
    StatementVersion,
)
from security.crypto import (
    AUDIO_CHUNK_BYTES,
    AUDIO_HEADER_BYTES,
    AUDIO_MAGIC,
    TAG_BYTES,
    ContentCipher,
    DataKeys,
    DecryptionError,
    KeyConfigError,
    KeyEncryptionKey,
    KeyRing,
    NotEncrypted,
    load_or_create_key_file,
)
from tests.conftest import AUDIO_FIXTURES
from workflow.audio_store import (
    AudioNotFound,
    AudioStoreUnavailable,
    EncryptedAudioStore,
    LocalAudioStore,
    StoredAudio,
    UploadTooLarge,
)
from workflow.database import Database
from workflow.keys import generate_kek, rotate_keys
from workflow.services import Services
from workflow.settings import Settings

WITNESS = "Philomena Zanzibar-Quickthorpe"  # distinctive: found in raw bytes only if leaked
NARRATIVE = f"I, {WITNESS}, saw the man strike the shopkeeper with a bottle."
C = AUDIO_CHUNK_BYTES

# Each audio test runs on the local and the database store, each over SQLite and PostgreSQL
# (the data keys are in the database whichever store holds the recordings).
each_store = pytest.mark.parametrize(
    ("kind", "database_url"),
    [
        ("local", "sqlite"),
        ("local", "postgresql"),
        ("database", "sqlite"),
        ("database", "postgresql"),
    ],
    indirect=["database_url"],
    ids=["local-sqlite", "local-postgresql", "database-sqlite", "database-postgresql"],
)

# The first bytes of the audio formats officers' devices record in: none may be at rest.
AUDIO_SIGNATURES = [
    (0, b"RIFF"),  # wav
    (0, b"ID3"),  # mp3 with tags
    (0, b"\xff\xfb"),  # mp3 frame
    (0, b"\xff\xf3"),
    (0, b"\xff\xf1"),  # aac adts
    (0, b"OggS"),  # ogg / opus
    (0, b"fLaC"),  # flac
    (4, b"ftyp"),  # m4a / mp4 / 3gp
    (0, b"\x1aE\xdf\xa3"),  # webm / matroska
    (0, b"#!AMR"),
]


# --- helpers ---------------------------------------------------------------------------------


def wav_bytes(seconds: float = 3.0, rate: int = 16000) -> bytes:
    """A real WAV file (a 440 Hz tone), several encryption chunks long."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(12000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return out.getvalue()


UPLOADS = {
    "ogg": (AUDIO_FIXTURES / "mg11_assault.ogg").read_bytes(),
    "flac": (AUDIO_FIXTURES / "jfk.flac").read_bytes(),  # > 1 MiB: several upload reads
    "wav": wav_bytes(),
}


def new_ring(*previous: KeyEncryptionKey) -> KeyRing:
    return KeyRing(KeyEncryptionKey.generate(), previous)


def kek_id(kek_b64: str) -> str:
    return KeyEncryptionKey.from_base64(kek_b64, source="test").id


@pytest.fixture
def make_services(tmp_path: Path) -> Iterator[Callable[..., Services]]:
    """Services over one database and one audio directory, with the keys each call names
    (several calls: several processes, or one process restarted with other keys)."""
    made: list[Services] = []

    def make(
        database_url: str,
        *,
        kek: str | None = None,
        previous: tuple[str, ...] = (),
        audio_store: str = "local",
    ) -> Services:
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            audio_store=audio_store,  # type: ignore[arg-type]
            audio_dir=tmp_path / "audio",
            kek=None if kek is None else SecretStr(kek),
            previous_keks=[SecretStr(p) for p in previous],
        )
        services = Services(settings)
        services.database.migrate()
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


@pytest.fixture
def keyed(database_url: str) -> Iterator[Callable[[KeyRing], Database]]:
    """Migrated databases on one URL, each opened with the key ring given."""
    opened: list[Database] = []

    def open_with(ring: KeyRing) -> Database:
        database = Database(database_url, keys=ring)
        database.migrate()
        opened.append(database)
        return database

    yield open_with
    for database in opened:
        database.dispose()


def encrypted(services: Services) -> EncryptedAudioStore:
    store = services.audio_store
    assert isinstance(store, EncryptedAudioStore)
    return store


def stored_bytes(services: Services, key: str) -> bytes:
    """The bytes at rest: the file itself, or the audio_blobs row read with plain SQL."""
    inner = encrypted(services).inner
    if isinstance(inner, LocalAudioStore):
        return (inner.directory / key[:2] / key).read_bytes()
    with services.database.engine.connect() as connection:
        return bytes(
            connection.execute(
                text("SELECT data FROM audio_blobs WHERE key = :key"), {"key": key}
            ).scalar_one()
        )


def overwrite_stored(services: Services, key: str, data: bytes) -> None:
    """Replace the bytes at rest behind the service's back (an attacker, or a bad disk)."""
    inner = encrypted(services).inner
    if isinstance(inner, LocalAudioStore):
        path = inner.directory / key[:2] / key
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_bytes(data)
        return
    with services.database.engine.begin() as connection:
        updated = connection.execute(
            update(AudioBlob).where(AudioBlob.key == key).values(data=data, size=len(data))
        ).rowcount
        if not updated:
            connection.execute(
                insert(AudioBlob).values(key=key, data=data, size=len(data), sha256="0" * 64)
            )


def read_all(services: Services, key: str) -> bytes:
    store = services.audio_store
    return b"".join(store.iter_range(key, 0, store.size(key) - 1))


def assert_not_plaintext(at_rest: bytes, original: bytes, window: int = 16) -> None:
    """No audio signature at the start, and no run of ``window`` bytes of the upload anywhere."""
    for offset, magic in AUDIO_SIGNATURES:
        assert at_rest[offset : offset + len(magic)] != magic
    assert at_rest[:4] != original[:4]
    runs = {at_rest[i : i + window] for i in range(len(at_rest) - window + 1)}
    leaked = [
        i for i in range(0, len(original) - window + 1, 3) if original[i : i + window] in runs
    ]
    assert leaked == [], f"{len(leaked)} plaintext runs of {window} bytes are stored in the clear"


def add_record(session: Any, statement_id: str, *, audio: StoredAudio | None = None) -> None:
    session.add(
        StatementRecord(
            id=statement_id,
            status="draft",
            template="mg11",
            statement_date=date(2026, 11, 20),
            officer="PC 4471 Morgan",
            audio_key=audio.key if audio else f"none-{statement_id}",
            audio_sha256=audio.sha256 if audio else "0" * 64,
            audio_bytes=audio.size if audio else 0,
        )
    )


def record(session: Session, statement_id: str) -> StatementRecord:
    found = session.get(StatementRecord, statement_id)
    assert found is not None
    return found


def content(name: str = WITNESS) -> dict[str, Any]:
    return {
        "template": "mg11",
        "fields": {"witness.name": {"value": name, "text": name}},
        "narrative": NARRATIVE,
    }


# --- audio at rest ---------------------------------------------------------------------------


@each_store
@pytest.mark.parametrize("upload", sorted(UPLOADS))
def test_audio_at_rest_is_not_audio_and_decrypts_to_the_exact_upload(
    kind: str, database_url: str, upload: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    original = UPLOADS[upload]
    stored = services.audio_store.save(io.BytesIO(original), max_bytes=len(original))

    # The hash and size are the plaintext's: the evidence hash of what the officer sent.
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert stored.size == len(original) == services.audio_store.size(stored.key)

    at_rest = stored_bytes(services, stored.key)
    assert at_rest.startswith(AUDIO_MAGIC)
    chunks = max(1, math.ceil(len(original) / C))
    assert len(at_rest) == AUDIO_HEADER_BYTES + len(original) + TAG_BYTES * chunks
    assert_not_plaintext(at_rest, original)

    decrypted = read_all(services, stored.key)
    assert decrypted == original
    assert hashlib.sha256(decrypted).hexdigest() == stored.sha256
    with services.audio_store.local_copy(stored.key) as path:
        assert path.read_bytes() == original
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()  # the decrypted copy lives only inside the with


@each_store
def test_ranges_across_chunk_boundaries_equal_the_plaintext(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = services.audio_store
    original = os.urandom(3 * C + 12345)
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    size = len(original)
    ranges = [
        (0, 0),
        (C - 1, C - 1),
        (C - 1, C),  # the last byte of one chunk and the first of the next
        (C, C),
        (C - 10, 2 * C + 10),  # three chunks, partly
        (2 * C, 3 * C - 1),  # exactly one chunk
        (3 * C, size - 1),  # the short last chunk
        (size - 1, size - 1),
        (12345, size - 1),
        (0, size - 1),
    ]
    for start, end in ranges:
        for chunk_size in (65536, 1000, 7):
            pieces = list(store.iter_range(stored.key, start, end, chunk_size=chunk_size))
            assert b"".join(pieces) == original[start : end + 1], (start, end, chunk_size)
            assert all(len(p) == chunk_size for p in pieces[:-1])
    for start, end in [(0, size), (-1, 5), (10, 9)]:
        with pytest.raises(ValueError):
            store.iter_range(stored.key, start, end)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_range_decrypts_only_the_chunks_covering_it(
    database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store="database")
    original = os.urandom(6 * C)
    stored = services.audio_store.save(io.BytesIO(original), max_bytes=len(original))
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "substr(audio_blobs.data" in statement.lower():
            reads.append(statement)

    event.listen(services.database.engine, "before_cursor_execute", record)
    try:
        inside = b"".join(services.audio_store.iter_range(stored.key, 4 * C + 5, 4 * C + 50))
        assert inside == original[4 * C + 5 : 4 * C + 51]
        assert len(reads) == 2  # the header, and chunk 4 alone
        reads.clear()
        across = b"".join(services.audio_store.iter_range(stored.key, 2 * C - 1, 2 * C))
        assert across == original[2 * C - 1 : 2 * C + 1]
        assert len(reads) == 3  # the header, chunks 1 and 2 (of six)
    finally:
        event.remove(services.database.engine, "before_cursor_execute", record)


@each_store
def test_an_altered_byte_fails_loudly(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = services.audio_store
    original = os.urandom(3 * C + 100)
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    at_rest = bytearray(stored_bytes(services, stored.key))
    # One bit of chunk 1's ciphertext.
    at_rest[AUDIO_HEADER_BYTES + (C + TAG_BYTES) + 500] ^= 0x01
    overwrite_stored(services, stored.key, bytes(at_rest))

    assert b"".join(store.iter_range(stored.key, 0, 99)) == original[:100]  # chunk 0 is intact
    with pytest.raises(DecryptionError, match="chunk 1"):
        b"".join(store.iter_range(stored.key, C + 10, C + 20))
    with pytest.raises(DecryptionError), store.local_copy(stored.key):
        pass

    # Two chunks swapped: each is intact, but not where it was written.
    at_rest = bytearray(stored_bytes(services, stored.key))
    at_rest[AUDIO_HEADER_BYTES + (C + TAG_BYTES) + 500] ^= 0x01  # repaired
    stride = C + TAG_BYTES
    first = at_rest[AUDIO_HEADER_BYTES : AUDIO_HEADER_BYTES + stride]
    second = at_rest[AUDIO_HEADER_BYTES + stride : AUDIO_HEADER_BYTES + 2 * stride]
    overwrite_stored(services, stored.key, bytes(at_rest))
    assert read_all(services, stored.key) == original  # repaired: reads again
    swapped = (
        at_rest[:AUDIO_HEADER_BYTES] + second + first + at_rest[AUDIO_HEADER_BYTES + 2 * stride :]
    )
    overwrite_stored(services, stored.key, bytes(swapped))
    with pytest.raises(DecryptionError):
        b"".join(store.iter_range(stored.key, 0, 10))

    # The header's chunk size altered: every chunk's AAD differs.
    header = bytearray(at_rest[:AUDIO_HEADER_BYTES])
    header[-1] ^= 0x01
    overwrite_stored(services, stored.key, bytes(header) + bytes(at_rest[AUDIO_HEADER_BYTES:]))
    with pytest.raises(DecryptionError):
        read_all(services, stored.key)


@each_store
def test_a_truncated_recording_fails_loudly_not_shorter(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = services.audio_store
    original = os.urandom(3 * C + 100)
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    at_rest = stored_bytes(services, stored.key)
    stride = C + TAG_BYTES
    assert read_all(services, stored.key) == original  # whole, it reads

    # Cut exactly at a chunk boundary: the file looks like a shorter, well-formed recording,
    # but its new last chunk was not written as the last.
    overwrite_stored(services, stored.key, at_rest[: AUDIO_HEADER_BYTES + 3 * stride])
    with pytest.raises(DecryptionError):
        read_all(services, stored.key)
    with pytest.raises(DecryptionError), store.local_copy(stored.key):
        pass

    # Cut inside the last chunk: its tag no longer matches.
    overwrite_stored(services, stored.key, at_rest[:-40])
    with pytest.raises(DecryptionError):
        read_all(services, stored.key)

    # Cut so that what remains cannot even be a chunk (fewer bytes than a tag).
    overwrite_stored(services, stored.key, at_rest[: AUDIO_HEADER_BYTES + 3 * stride + 5])
    with pytest.raises(DecryptionError):
        store.size(stored.key)

    # Cut inside the header.
    overwrite_stored(services, stored.key, at_rest[:10])
    with pytest.raises(DecryptionError):
        store.size(stored.key)


@each_store
def test_the_upload_limit_is_on_the_plaintext_and_a_refused_upload_leaves_no_key(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = services.audio_store
    original = UPLOADS["ogg"]

    def audio_keys() -> int:
        with services.database.engine.connect() as connection:
            return len(
                connection.execute(select(DataKey.id).where(DataKey.purpose == "audio")).all()
            )

    with pytest.raises(UploadTooLarge) as refused:
        store.save(io.BytesIO(original), max_bytes=len(original) - 1)
    assert refused.value.limit == len(original) - 1
    assert audio_keys() == 0
    stored = store.save(io.BytesIO(original), max_bytes=len(original))  # exactly the limit
    assert stored.size == len(original) and audio_keys() == 1

    empty = store.save(io.BytesIO(b""), max_bytes=10)
    assert empty.size == store.size(empty.key) == 0
    assert empty.sha256 == hashlib.sha256(b"").hexdigest()
    assert len(stored_bytes(services, empty.key)) == AUDIO_HEADER_BYTES + TAG_BYTES
    with store.local_copy(empty.key) as path:
        assert path.read_bytes() == b""


@each_store
def test_deleting_a_recording_shreds_its_key_so_a_backup_is_useless(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = services.audio_store
    original = UPLOADS["ogg"]
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    backup = stored_bytes(services, stored.key)
    header_key_id = backup[len(AUDIO_MAGIC) + 1 : len(AUDIO_MAGIC) + 17].hex()
    assert services.data_keys.key(header_key_id)

    store.delete(stored.key)
    with services.database.engine.connect() as connection:
        assert (
            connection.execute(select(DataKey).where(DataKey.id == header_key_id)).first() is None
        )
    with pytest.raises(AudioNotFound):
        store.size(stored.key)

    # The backup put back: the ciphertext is there, its key is not.
    overwrite_stored(services, stored.key, backup)
    with pytest.raises(AudioNotFound):
        read_all(services, stored.key)
    with pytest.raises(AudioNotFound), store.local_copy(stored.key):
        pass


def test_decrypted_copies_stay_in_a_private_directory_and_stale_ones_are_swept(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    services = make_services(url)
    stored = services.audio_store.save(io.BytesIO(b"the witness said"), max_bytes=100)
    private = tmp_path / "data" / "tmp"
    with services.audio_store.local_copy(stored.key) as path:
        assert path.parent == private
    if os.name == "posix":
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    # One left by a process killed two days ago, one by a drafting job running now.
    stale, fresh = private / "voice-statement-audio-old", private / "voice-statement-audio-new"
    stale.write_bytes(b"plaintext")
    fresh.write_bytes(b"plaintext")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    make_services(url)  # the next process to start
    assert not stale.exists() and fresh.exists()


# --- statement content -----------------------------------------------------------------------


def test_content_columns_hold_no_plaintext(
    database_url: str, keyed: Callable[[KeyRing], Database]
) -> None:
    ring = new_ring()
    database = keyed(ring)
    signature = b"\x89PNG fake signature of " + WITNESS.encode()
    with database.session() as session:
        add_record(session, "st-1")
        session.flush()
        record(session, "st-1").transcript = {"text": NARRATIVE}
        session.add(
            StatementVersion(
                statement_id="st-1",
                number=1,
                kind="machine",
                author="system",
                content=content(),
                changes=[{"field": "witness.name", "old": None, "new": WITNESS}],
            )
        )
        session.add(
            Confirmation(
                statement_id="st-1",
                officer="PC 4471 Morgan",
                place=f"the home of {WITNESS}",
                version_number=1,
                witness_declaration_accepted=True,
                declaration="This statement is true.",
                page_count=1,
                signature_png=signature,
                content=content(),
                content_sha256="0" * 64,
            )
        )
        session.add(
            OutboxMessage(
                statement_id="st-1",
                kind="submission",
                destination=None,
                idempotency_key="k-1",
                payload={"statement": content()},
                state="pending",
                max_attempts=3,
            )
        )

    sealed_columns = {
        "statements": ["transcript"],
        "statement_versions": ["content", "changes"],
        "confirmations": ["content", "place", "signature_png"],
        "outbox": ["payload"],
    }
    with database.engine.connect() as connection:
        for table_name, columns in sealed_columns.items():
            row = connection.execute(text(f"SELECT {', '.join(columns)} FROM {table_name}")).one()
            for name, value in zip(columns, row, strict=True):
                raw = bytes(value)
                assert raw.startswith(SEALED_PREFIX), f"{table_name}.{name} is not sealed"
                for leak in (WITNESS.encode(), b"Zanzibar", b"shopkeeper", b"witness.name"):
                    assert leak not in raw, f"{table_name}.{name} holds {leak!r} in the clear"

    # Read through the ORM, everything is as written.
    with database.session() as session:
        version = session.scalars(select(StatementVersion)).one()
        assert version.content == content()
        assert version.changes[0]["new"] == WITNESS
        confirmation = session.get(Confirmation, "st-1")
        assert confirmation is not None
        assert confirmation.place == f"the home of {WITNESS}"
        assert confirmation.signature_png == signature
        assert record(session, "st-1").transcript == {"text": NARRATIVE}

    # A sealed value moved to another column does not open there (the label is in the AAD).
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE statement_versions SET changes = content"))
    with (
        pytest.raises(DecryptionError, match=r"statement_versions\.changes"),
        database.session() as session,
    ):
        session.scalars(select(StatementVersion)).one()


def test_a_wrong_kek_fails_with_a_clear_error(
    database_url: str, keyed: Callable[[KeyRing], Database], tmp_path: Path
) -> None:
    right = new_ring()
    writer = keyed(right)
    with writer.session() as session:
        add_record(session, "st-1")
        session.add(
            StatementVersion(
                statement_id="st-1", number=1, kind="machine", author="system", content=content()
            )
        )
    assert writer.data_keys is not None
    store = EncryptedAudioStore(LocalAudioStore(tmp_path / "audio"), writer.data_keys)
    stored = store.save(io.BytesIO(UPLOADS["ogg"]), max_bytes=10**7)

    wrong = keyed(new_ring())
    assert wrong.data_keys is not None
    with pytest.raises(KeyConfigError, match=right.current.id) as error, wrong.session() as session:
        session.scalars(select(StatementVersion)).one()
    assert "VOICE_STATEMENT_KEK" in str(error.value)
    wrong_store = EncryptedAudioStore(LocalAudioStore(tmp_path / "audio"), wrong.data_keys)
    with pytest.raises(KeyConfigError, match=right.current.id):
        wrong_store.iter_range(stored.key, 0, 10)
    with pytest.raises(AudioStoreUnavailable, match=right.current.id):
        wrong_store.check()  # /readyz says so before anyone asks for a recording
    store.check()

    # A wrapped key copied onto another key's row does not unwrap there (the id is in the AAD).
    with writer.engine.begin() as connection:
        rows = connection.execute(select(DataKey.id, DataKey.wrapped_key)).all()
        assert len(rows) == 2
        connection.execute(
            update(DataKey).where(DataKey.id == rows[0].id).values(wrapped_key=rows[1].wrapped_key)
        )
    fresh = keyed(right)
    assert fresh.data_keys is not None
    with pytest.raises(DecryptionError, match=rows[0].id):
        fresh.data_keys.key(rows[0].id)


def test_concurrent_first_use_leaves_every_process_with_a_valid_content_key(
    database_url: str,
) -> None:
    ring = new_ring()
    plain = Database(database_url)  # migrated without keys: no content key exists yet
    plain.migrate()
    databases = [Database(database_url) for _ in range(4)]
    try:
        ciphers = [ContentCipher(DataKeys(d.engine, ring)) for d in databases]
        barrier = threading.Barrier(len(ciphers))
        sealed: dict[int, bytes] = {}
        errors: list[BaseException] = []

        def first_use(index: int) -> None:
            try:
                barrier.wait()
                sealed[index] = ciphers[index].seal(f"value {index}".encode(), label="t.c")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_use, args=(i,)) for i in range(len(ciphers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        # Every process opens what every other sealed.
        for cipher in ciphers:
            for index, value in sealed.items():
                assert cipher.open(value, label="t.c") == f"value {index}".encode()
    finally:
        for database in [plain, *databases]:
            database.dispose()


# --- rotation --------------------------------------------------------------------------------


@each_store
def test_rotation_rewraps_keys_and_leaves_audio_untouched(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    old, new = generate_kek(), generate_kek()
    original = UPLOADS["ogg"]

    before = make_services(database_url, kek=old, audio_store=kind)
    stored = before.audio_store.save(io.BytesIO(original), max_bytes=len(original))
    with before.database.session() as session:
        add_record(session, "st-1", audio=stored)
        session.add(
            StatementVersion(
                statement_id="st-1", number=1, kind="machine", author="system", content=content()
            )
        )
    ciphertext_sha = hashlib.sha256(stored_bytes(before, stored.key)).hexdigest()
    before.close()

    # The new KEK configured, the old one still accepted: everything reads; then rotate.
    during = make_services(database_url, kek=new, previous=(old,), audio_store=kind)
    assert read_all(during, stored.key) == original
    report = rotate_keys(during)
    assert report.kek_id == kek_id(new)
    assert report.rewrapped_keys == 2  # the content key and the recording's key
    assert report.keys_already_current == 0
    assert report.sealed_rows == {} and report.encrypted_recordings == 0
    with during.database.engine.connect() as connection:
        assert set(connection.execute(select(DataKey.kek_id)).scalars()) == {kek_id(new)}
    # The recording itself was not rewritten.
    assert hashlib.sha256(stored_bytes(during, stored.key)).hexdigest() == ciphertext_sha

    # The new KEK alone now reads everything...
    after = make_services(database_url, kek=new, audio_store=kind)
    assert read_all(after, stored.key) == original
    assert hashlib.sha256(read_all(after, stored.key)).hexdigest() == stored.sha256
    with after.database.session() as session:
        assert session.scalars(select(StatementVersion)).one().content == content()

    # ...and the old one alone reads nothing, saying which KEK is needed.
    stale = make_services(database_url, kek=old, audio_store=kind)
    with pytest.raises(KeyConfigError, match=kek_id(new)):
        read_all(stale, stored.key)
    with pytest.raises(KeyConfigError, match=kek_id(new)), stale.database.session() as session:
        session.scalars(select(StatementVersion)).one()

    # A second rotation has nothing to do.
    again = rotate_keys(after)
    assert again.rewrapped_keys == 0 and again.keys_already_current == 2


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_rotation_without_the_old_kek_changes_nothing_and_names_it(
    database_url: str, make_services: Callable[..., Services]
) -> None:
    old = generate_kek()
    first = make_services(database_url, kek=old)
    first.audio_store.save(io.BytesIO(b"words"), max_bytes=100)
    lost = make_services(database_url, kek=generate_kek())  # the old KEK was not given
    with pytest.raises(KeyConfigError, match=kek_id(old)):
        rotate_keys(lost)
    with first.database.engine.connect() as connection:
        assert set(connection.execute(select(DataKey.kek_id)).scalars()) == {kek_id(old)}


# --- data from before encryption at rest -----------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_legacy_plaintext_row_still_reads_and_rotate_seals_it(
    database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url)
    database = services.database
    with database.session() as session:
        add_record(session, "st-1")
    legacy_content = json.dumps(content())
    legacy_changes = json.dumps([{"field": "witness.name", "old": None, "new": WITNESS}])
    legacy_transcript = json.dumps({"text": NARRATIVE})

    def as_stored(value: str) -> str | bytes:
        # What migration 0002 left: TEXT on SQLite, bytea (the UTF-8 of the JSON) on PostgreSQL.
        return value if database.dialect == "sqlite" else value.encode()

    # Written with plain SQL, as the service before encryption at rest had written them.
    versions = table(
        "statement_versions",
        column("statement_id"),
        column("number"),
        column("kind"),
        column("author"),
        column("created_at"),
        column("content"),
        column("changes"),
    )
    with database.engine.begin() as connection:
        connection.execute(
            versions.insert().values(
                statement_id="st-1",
                number=1,
                kind="machine",
                author="system",
                created_at=text("CURRENT_TIMESTAMP"),
                content=as_stored(legacy_content),
                changes=as_stored(legacy_changes),
            )
        )
        connection.execute(
            table("statements", column("id"), column("transcript"))
            .update()
            .values(transcript=as_stored(legacy_transcript))
        )

    def raw(sql: str) -> bytes:
        with database.engine.connect() as connection:
            value = connection.execute(text(sql)).scalar_one()
        return value.encode() if isinstance(value, str) else bytes(value)

    assert WITNESS.encode() in raw("SELECT content FROM statement_versions")
    with database.session() as session:  # plaintext rows read as they are
        version = session.scalars(select(StatementVersion)).one()
        assert version.content == content()
        assert version.changes[0]["new"] == WITNESS

    report = rotate_keys(services)
    assert report.sealed_rows == {
        "statement_versions.content": 1,
        "statement_versions.changes": 1,
        "statements.transcript": 1,
    }
    for sql in (
        "SELECT content FROM statement_versions",
        "SELECT changes FROM statement_versions",
        "SELECT transcript FROM statements",
    ):
        stored = raw(sql)
        assert stored.startswith(SEALED_PREFIX) and WITNESS.encode() not in stored
        assert b"shopkeeper" not in stored
    with database.session() as session:
        version = session.scalars(select(StatementVersion)).one()
        assert version.content == content()
        assert version.changes[0]["new"] == WITNESS
        assert record(session, "st-1").transcript == {"text": NARRATIVE}
    assert rotate_keys(services).sealed_rows == {}  # nothing left to seal


@each_store
def test_a_legacy_plaintext_recording_is_refused_until_rotate_encrypts_it(
    kind: str, database_url: str, make_services: Callable[..., Services]
) -> None:
    services = make_services(database_url, audio_store=kind)
    store = encrypted(services)
    original = UPLOADS["ogg"]
    # Stored as the service before encryption at rest stored it: straight into the inner store.
    legacy = store.inner.save(io.BytesIO(original), max_bytes=len(original))
    altered = store.inner.save(io.BytesIO(original[:-1] + b"\x00"), max_bytes=len(original))
    with services.database.session() as session:
        add_record(session, "st-1", audio=legacy)
        add_record(session, "st-2", audio=StoredAudio(altered.key, legacy.sha256, legacy.size))

    with pytest.raises(NotEncrypted, match="keys rotate"):
        store.size(legacy.key)

    report = rotate_keys(services)
    assert report.encrypted_recordings == 1
    assert report.mismatched_recordings == ["st-2"]  # not blessed by encryption: left alone
    with services.database.session() as session:
        new_key = record(session, "st-1").audio_key
        assert new_key != legacy.key
        assert record(session, "st-2").audio_key == altered.key
    assert read_all(services, new_key) == original
    assert_not_plaintext(stored_bytes(services, new_key), original)
    with pytest.raises(AudioNotFound):
        store.inner.size(legacy.key)  # the plaintext copy is gone
    assert rotate_keys(services).encrypted_recordings == 0


# --- the key file and the configured KEK -----------------------------------------------------


def test_the_key_file_is_made_private_on_first_run_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.key"
    first = load_or_create_key_file(path)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(path.read_text())) == 32
    assert load_or_create_key_file(path).id == first.id
    assert [p.name for p in path.parent.iterdir()] == ["kek.key"]  # no temporary file left


def test_services_generate_the_key_file_in_the_data_dir(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    services = make_services(f"sqlite:///{tmp_path / 'db.sqlite'}")
    key_file = tmp_path / "data" / "keys" / "kek.key"
    assert services.settings.resolved_key_file == key_file
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert services.keys.current.id == load_or_create_key_file(key_file).id


def test_processes_starting_together_make_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.key"
    barrier = threading.Barrier(12)
    ids: list[str] = []

    def start() -> None:
        barrier.wait()
        ids.append(load_or_create_key_file(path).id)

    threads = [threading.Thread(target=start) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(ids) == 12 and len(set(ids)) == 1
    assert [p.name for p in path.parent.iterdir()] == ["kek.key"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.key"
    load_or_create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyConfigError, match="0644") as refused:
        load_or_create_key_file(path)
    assert f"chmod 600 {path}" in str(refused.value)
    with pytest.raises(KeyConfigError, match="0640"):
        path.chmod(0o640)
        load_or_create_key_file(path)


def test_a_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kek.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a key at all\n")
    os.close(fd)
    with pytest.raises(KeyConfigError, match=str(path)):
        load_or_create_key_file(path)


def test_a_malformed_kek_setting_names_the_setting(tmp_path: Path) -> None:
    key_file = tmp_path / "never-made.key"
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(KeyConfigError, match="VOICE_STATEMENT_KEK is not valid base64"):
        KeyRing.from_settings(kek="not*base64", previous=[], key_file=key_file)
    with pytest.raises(KeyConfigError, match="VOICE_STATEMENT_KEK decodes to 16 bytes"):
        KeyRing.from_settings(kek=short, previous=[], key_file=key_file)
    with pytest.raises(KeyConfigError, match=r"VOICE_STATEMENT_PREVIOUS_KEKS\[1\]"):
        KeyRing.from_settings(
            kek=generate_kek(), previous=[generate_kek(), short], key_file=key_file
        )
    assert not key_file.exists()  # a configured KEK never makes a key file
    with pytest.raises(KeyConfigError, match="VOICE_STATEMENT_KEK"):
        Services(
            Settings(
                data_dir=tmp_path,
                database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                kek=SecretStr("x"),
            )
        )
    # URL-safe base64 (what some vaults hand out) is accepted, and names the same key.
    raw = os.urandom(32)
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert kek_id(standard) == kek_id(urlsafe) == KeyEncryptionKey(raw).id
