"""The audio store keeps every upload byte for byte, or nothing at all, on both implementations,
and with every recording encrypted (``EncryptedAudioStore`` over either) as the service runs it.
Encryption itself (what the stored bytes look like, tampering, keys) is tested in
tests/security/test_encryption.py."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from models.tables import AudioBlob, DataKey
from tests.conftest import AUDIO_FIXTURES
from workflow.audio_store import (
    AudioNotFound,
    AudioStore,
    AudioStoreUnavailable,
    DatabaseAudioStore,
    EncryptedAudioStore,
    LocalAudioStore,
    UploadTooLarge,
    make_audio_store,
)
from workflow.database import Database
from workflow.settings import Settings

RECORDING = AUDIO_FIXTURES / "mg11_assault.ogg"

# Each store test runs on the local store and on the database store over SQLite and PostgreSQL.
# database_url is parametrized here (indirectly) so that the local store never gets a PostgreSQL
# database made for nothing; for SQLite the URL costs nothing until the store asks for it.
# "encrypted-*": the same stores inside an EncryptedAudioStore, as make_audio_store builds them.
each_store = pytest.mark.parametrize(
    ("kind", "database_url"),
    [
        ("local", "sqlite"),
        ("database", "sqlite"),
        ("database", "postgresql"),
        ("encrypted-local", "sqlite"),
        ("encrypted-database", "sqlite"),
        ("encrypted-database", "postgresql"),
    ],
    indirect=["database_url"],
    ids=[
        "local",
        "database-sqlite",
        "database-postgresql",
        "encrypted-local",
        "encrypted-database-sqlite",
        "encrypted-database-postgresql",
    ],
)


@pytest.fixture
def store(
    kind: str, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AudioStore:
    spool = tmp_path / "spool"
    spool.mkdir()
    inner: AudioStore
    if kind.endswith("local"):
        inner = LocalAudioStore(tmp_path / "audio")
    else:
        inner = DatabaseAudioStore(request.getfixturevalue("database"), temp_dir=spool)
    if not kind.startswith("encrypted-"):
        return inner
    database: Database = request.getfixturevalue("database")
    assert database.data_keys is not None
    return EncryptedAudioStore(inner, database.data_keys, temp_dir=spool)


def leftovers(store: AudioStore, tmp_path: Path) -> list[str]:
    """Everything the store holds: files in its directory (or spool), rows in its table, and
    for the encrypted store the audio data keys too."""
    if isinstance(store, EncryptedAudioStore):
        with store.data_keys.engine.connect() as connection:
            audio_keys = (
                connection.execute(select(DataKey.id).where(DataKey.purpose == "audio"))
                .scalars()
                .all()
            )
        return leftovers(store.inner, tmp_path) + [f"data key {k}" for k in audio_keys]
    if isinstance(store, LocalAudioStore):
        return sorted(str(p.relative_to(store.directory)) for p in store.directory.rglob("*"))
    assert isinstance(store, DatabaseAudioStore)
    with store.database.engine.connect() as connection:
        keys = connection.execute(select(AudioBlob.key)).scalars().all()
    return sorted(keys) + sorted(str(p) for p in (tmp_path / "spool").rglob("*"))


def read_all(store: AudioStore, key: str) -> bytes:
    size = store.size(key)
    return b"".join(store.iter_range(key, 0, size - 1))


class DroppedConnection(io.BytesIO):
    """An upload whose client goes away after the first chunk."""

    def __init__(self, first: bytes) -> None:
        super().__init__(first)
        self.reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionResetError("the client went away")
        return super().read(size)


@each_store
def test_save_keeps_the_upload_byte_for_byte(store: AudioStore) -> None:
    original = RECORDING.read_bytes()
    with RECORDING.open("rb") as upload:
        stored = store.save(upload, max_bytes=len(original))

    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert stored.size == len(original) == store.size(stored.key)
    assert read_all(store, stored.key) == original
    # The key is the store's own, never the user's filename.
    assert re.fullmatch(r"[0-9a-f]{32}", stored.key)
    with RECORDING.open("rb") as upload:
        again = store.save(upload, max_bytes=len(original))
    assert again.key != stored.key
    assert again.sha256 == stored.sha256


@each_store
def test_a_large_upload_is_read_in_chunks_and_hashed_whole(store: AudioStore) -> None:
    payload = os.urandom(2 * 1024 * 1024 + 12345)  # more than two read chunks
    stored = store.save(io.BytesIO(payload), max_bytes=len(payload))
    assert stored.size == len(payload)
    assert stored.sha256 == hashlib.sha256(payload).hexdigest()
    assert read_all(store, stored.key) == payload


@each_store
def test_an_empty_upload_is_kept_as_empty(store: AudioStore) -> None:
    stored = store.save(io.BytesIO(b""), max_bytes=10)
    assert stored.size == store.size(stored.key) == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()


@each_store
def test_too_large_leaves_nothing_behind(store: AudioStore, tmp_path: Path) -> None:
    original = RECORDING.read_bytes()
    with RECORDING.open("rb") as upload, pytest.raises(UploadTooLarge) as refused:
        store.save(upload, max_bytes=len(original) - 1)
    assert refused.value.limit == len(original) - 1
    assert leftovers(store, tmp_path) == []

    # Past the limit in a later chunk, too.
    with pytest.raises(UploadTooLarge):
        store.save(io.BytesIO(os.urandom(2_500_000)), max_bytes=2_000_000)
    assert leftovers(store, tmp_path) == []

    # Exactly the limit is accepted.
    with RECORDING.open("rb") as upload:
        stored = store.save(upload, max_bytes=len(original))
    assert read_all(store, stored.key) == original


@each_store
def test_an_upload_cut_off_part_way_leaves_nothing_behind(
    store: AudioStore, tmp_path: Path
) -> None:
    source = DroppedConnection(os.urandom(1024 * 1024))
    with pytest.raises(ConnectionResetError):
        store.save(source, max_bytes=10 * 1024 * 1024)
    assert source.reads == 2  # the first chunk was read (and written) before the failure
    assert leftovers(store, tmp_path) == []


@each_store
def test_iter_range_slices_exactly_at_the_boundaries(store: AudioStore) -> None:
    original = RECORDING.read_bytes()
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    size, key = stored.size, stored.key

    def sliced(start: int, end: int, chunk_size: int = 65536) -> bytes:
        return b"".join(store.iter_range(key, start, end, chunk_size=chunk_size))

    assert sliced(0, 0) == original[:1]
    assert sliced(size - 1, size - 1) == original[-1:]
    assert sliced(0, size - 1) == original
    assert sliced(size - 10, size - 1) == original[-10:]
    assert sliced(1000, 1999) == original[1000:2000]

    chunks = list(store.iter_range(key, 5, 5 + 99, chunk_size=7))
    assert [len(c) for c in chunks] == [7] * 14 + [2]
    assert b"".join(chunks) == original[5:105]

    for start, end in [(0, size), (-1, 5), (10, 9)]:
        with pytest.raises(ValueError):
            store.iter_range(key, start, end)


@each_store
def test_local_copy_holds_the_upload(store: AudioStore, tmp_path: Path) -> None:
    original = RECORDING.read_bytes()
    stored = store.save(io.BytesIO(original), max_bytes=len(original))
    with store.local_copy(stored.key) as path:
        assert path.read_bytes() == original
    if isinstance(store, DatabaseAudioStore | EncryptedAudioStore):
        # The database store's copy, and the encrypted store's decrypted one, was a temporary
        # file, and it is gone.
        assert not path.exists()
        assert list((tmp_path / "spool").iterdir()) == []
    else:
        assert path.exists()  # the local store lends the stored file itself


@each_store
def test_a_deleted_recording_is_not_found(store: AudioStore) -> None:
    stored = store.save(io.BytesIO(b"words the witness said"), max_bytes=1000)
    store.delete(stored.key)
    with pytest.raises(AudioNotFound):
        store.size(stored.key)
    with pytest.raises(AudioNotFound):
        store.iter_range(stored.key, 0, 1)
    with pytest.raises(AudioNotFound), store.local_copy(stored.key):
        pass
    store.delete(stored.key)  # a second delete is not an error


@each_store
def test_unknown_keys_are_not_found(store: AudioStore) -> None:
    for key in ["0" * 32, "../../etc/passwd", "", "mg11_assault.ogg"]:
        with pytest.raises(AudioNotFound):
            store.size(key)
        store.delete(key)


@each_store
def test_a_working_store_passes_its_check(store: AudioStore) -> None:
    store.check()


def test_local_files_are_private(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    store = LocalAudioStore(tmp_path / "audio")
    stored = store.save(io.BytesIO(b"private"), max_bytes=100)
    with store.local_copy(stored.key) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.parent.parent == store.directory
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_local_check_fails_when_the_directory_is_gone(tmp_path: Path) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    store.directory.rmdir()
    with pytest.raises(AudioStoreUnavailable):
        store.check()


def test_database_check_fails_before_migration(database_url: str) -> None:
    unmigrated = Database(database_url)
    try:
        with pytest.raises(AudioStoreUnavailable):
            DatabaseAudioStore(unmigrated).check()
    finally:
        unmigrated.dispose()


def test_database_reads_only_the_slice_asked_for(database: Database) -> None:
    store = DatabaseAudioStore(database)
    payload = os.urandom(5000)
    stored = store.save(io.BytesIO(payload), max_bytes=len(payload))
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lower())

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert (
            b"".join(store.iter_range(stored.key, 100, 4099, chunk_size=1000))
            == (payload[100:4100])
        )
    finally:
        event.remove(database.engine, "before_cursor_execute", record)

    reads = [s for s in statements if "audio_blobs.data" in s]
    assert len(reads) == 4  # one query per 1000-byte chunk
    assert all("substr(audio_blobs.data" in s for s in reads)
    # And the database agrees the blob is whole: the store did not truncate it while reading.
    with database.engine.connect() as connection:
        length = connection.execute(
            select(func.length(AudioBlob.data)).where(AudioBlob.key == stored.key)
        ).scalar_one()
    assert length == 5000


def test_make_audio_store_follows_the_settings(tmp_path: Path, database: Database) -> None:
    assert database.data_keys is not None
    local = make_audio_store(
        Settings(audio_store="local", audio_dir=tmp_path / "a"), database, database.data_keys
    )
    # Always encrypted, whichever store holds the bytes.
    assert isinstance(local, EncryptedAudioStore)
    assert isinstance(local.inner, LocalAudioStore)
    assert local.inner.directory == tmp_path / "a" and local.inner.directory.is_dir()

    in_database = make_audio_store(Settings(audio_store="database"), database, database.data_keys)
    assert isinstance(in_database, EncryptedAudioStore)
    assert isinstance(in_database.inner, DatabaseAudioStore)
    stored = in_database.save(io.BytesIO(b"abc"), max_bytes=3)
    assert stored.size == in_database.size(stored.key) == 3
    # What the table holds is the ciphertext: a header and a tag more than the three bytes.
    assert DatabaseAudioStore(database).size(stored.key) > 3
