"""Where the original recordings live: kept byte for byte, hashed on receipt, read back in slices.

Every upload is evidence: the bytes the officer sent are stored exactly, under a key the store
makes itself (never one derived from a user's filename), with the SHA-256 worked out while they
arrive. A store either holds the whole upload or nothing: a save that fails part way (too large,
the client gone, the disk full) leaves no partial file and no row behind.

Two implementations of one small protocol, ``AudioStore``:

* ``LocalAudioStore``: files in a directory on this machine (the default, single-machine mode);
* ``DatabaseAudioStore``: rows of the ``audio_blobs`` table, for distributed mode, where every
  worker machine already reaches the database.

S3-compatible object storage would be a third implementation of the same protocol (a multipart
upload in ``save``, ranged GETs in ``iter_range``); it is not built here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from sqlalchemy import Integer, LargeBinary, delete, func, insert, literal, select

from models.tables import AudioBlob
from workflow.database import Database
from workflow.settings import Settings

# How much of an upload is read (and hashed) at a time while it is saved.
_READ_CHUNK = 1024 * 1024
# The keys this module makes: uuid4().hex. Anything else is not one of ours, so it is never
# turned into a path (no "../" can reach the filesystem through a key).
_KEY = re.compile(r"[0-9a-f]{32}")
_TEMP_PREFIX = ".upload-"


@dataclass(frozen=True)
class StoredAudio:
    """What a save returns: the key to find the bytes again, their SHA-256 (hex) and length."""

    key: str
    sha256: str
    size: int


class UploadTooLarge(Exception):
    """More than ``limit`` bytes arrived; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than {limit} bytes")
        self.limit = limit


class AudioNotFound(Exception):
    """No audio is stored under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no audio stored under key {key!r}")
        self.key = key


class AudioStoreUnavailable(Exception):
    """The store cannot be used (its directory is missing or read-only, its table unreachable)."""


class AudioStore(Protocol):
    """Where uploads are kept. Every method raises ``AudioNotFound`` for a key it does not hold
    (except ``delete``, which is a no-op for one)."""

    def save(self, source: BinaryIO, *, max_bytes: int) -> StoredAudio:
        """Keep everything ``source`` yields, all or nothing; ``UploadTooLarge`` past
        ``max_bytes`` (exactly ``max_bytes`` is accepted)."""
        ...

    def size(self, key: str) -> int:
        """The stored length in bytes."""
        ...

    def iter_range(
        self, key: str, start: int, end: int, *, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive (``0 <= start <= end < size``), in chunks of at
        most ``chunk_size``. The key and the range are checked when this is called, not when the
        iterator is first advanced, so a caller can answer 404 before it starts a response."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A path on this machine holding the bytes, valid inside the ``with`` (for the decoder,
        which wants a file). Read it only: for the local store it is the stored file itself."""
        ...

    def delete(self, key: str) -> None:
        """Forget the bytes; a key that is not there is not an error."""
        ...

    def check(self) -> None:
        """Raise ``AudioStoreUnavailable`` when the store cannot be used (for /readyz)."""
        ...


def _new_key() -> str:
    return uuid.uuid4().hex


def _check_range(size: int, start: int, end: int, chunk_size: int) -> None:
    if not 0 <= start <= end < size:
        raise ValueError(f"range {start}-{end} is outside 0-{size - 1}")
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")


def _copy_limited(source: BinaryIO, target: IO[bytes], max_bytes: int) -> StoredAudio:
    """Copy ``source`` to ``target`` chunk by chunk, hashing as it goes; stop at the limit."""
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = source.read(_READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        # Checked before writing: at most one chunk past the limit is ever read, none is kept.
        if size > max_bytes:
            raise UploadTooLarge(max_bytes)
        digest.update(chunk)
        target.write(chunk)
    return StoredAudio(key=_new_key(), sha256=digest.hexdigest(), size=size)


def _fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalAudioStore(AudioStore):
    """Files under one directory, as ``directory/<key[:2]>/<key>``, each mode 0o600.

    An upload is written to a temporary file directly in ``directory`` (same filesystem, so the
    final ``os.replace`` is atomic), flushed and fsynced, then renamed into place: a reader sees
    either the complete file or none. Temporary names start with ``.upload-``; one is only ever
    left behind by a machine crash mid-upload, and is never mistaken for a recording.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # 0o700: recordings of witnesses are readable by the service's own user only.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise AudioNotFound(key)
        return self.directory / key[:2] / key

    def save(self, source: BinaryIO, *, max_bytes: int) -> StoredAudio:
        # mkstemp creates the file with mode 0o600 whatever the umask.
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as target:
                stored = _copy_limited(source, target, max_bytes)
                target.flush()
                os.fsync(target.fileno())
            final = self._path(stored.key)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(temp, final)
        except BaseException:
            # Anything at all (too large, a dropped client, a full disk, an interrupt): the
            # store keeps the whole upload or nothing.
            temp.unlink(missing_ok=True)
            raise
        _fsync_directory(final.parent)
        return stored

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise AudioNotFound(key) from None

    def iter_range(
        self, key: str, start: int, end: int, *, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        path = self._path(key)
        _check_range(self.size(key), start, end, chunk_size)
        return self._read(path, key, start, end, chunk_size)

    @staticmethod
    def _read(path: Path, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # deleted between the check and the first read
            raise AudioNotFound(key) from None
        with handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    @contextmanager
    def _local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise AudioNotFound(key)
        yield path

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        return self._local_copy(key)

    def delete(self, key: str) -> None:
        if not _KEY.fullmatch(key):
            return
        # Shard directories stay: removing one could race a save renaming a file into it.
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        if not self.directory.is_dir():
            raise AudioStoreUnavailable(f"audio directory {self.directory} does not exist")
        # A real write, not os.access: it also catches a full disk and a read-only mount.
        try:
            fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            raise AudioStoreUnavailable(
                f"audio directory {self.directory} is not writable: {exc}"
            ) from exc


class DatabaseAudioStore(AudioStore):
    """Rows of the ``audio_blobs`` table: the store every distributed worker can reach.

    ``save`` spools the upload to a temporary file while it hashes and counts it, so an upload
    over the limit is refused before the database sees it; the accepted bytes are then inserted
    in one transaction (the driver needs them in memory once, for that insert). Reads never load
    the whole blob: each chunk is its own ``substr`` query, which SQLite (on BLOBs) and
    PostgreSQL (on ``bytea``) both answer by byte offset.
    """

    # An upload up to this size is spooled in memory rather than on disk.
    _SPOOL_IN_MEMORY = 1024 * 1024
    # local_copy writes the temporary file in chunks this big: fewer round trips.
    _COPY_CHUNK = 1024 * 1024

    def __init__(self, database: Database, *, temp_dir: Path | None = None) -> None:
        self.database = database
        # Where spooled uploads and local copies go; None: the system's temporary directory.
        self.temp_dir = temp_dir

    def save(self, source: BinaryIO, *, max_bytes: int) -> StoredAudio:
        with tempfile.SpooledTemporaryFile(
            max_size=self._SPOOL_IN_MEMORY,
            dir=None if self.temp_dir is None else str(self.temp_dir),
        ) as spool:
            stored = _copy_limited(source, spool, max_bytes)
            spool.seek(0)
            data = spool.read()
        with self.database.engine.begin() as connection:
            connection.execute(
                insert(AudioBlob).values(
                    key=stored.key, data=data, size=stored.size, sha256=stored.sha256
                )
            )
        return stored

    def size(self, key: str) -> int:
        with self.database.engine.connect() as connection:
            size = connection.execute(
                select(AudioBlob.size).where(AudioBlob.key == key)
            ).scalar_one_or_none()
        if size is None:
            raise AudioNotFound(key)
        return int(size)

    def iter_range(
        self, key: str, start: int, end: int, *, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        _check_range(self.size(key), start, end, chunk_size)
        return self._read(key, start, end, chunk_size)

    def _read(self, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        position = start
        while position <= end:
            length = min(chunk_size, end - position + 1)
            # A short connection per chunk: a slow client must not hold one from the pool for
            # the whole stream. The offsets are typed INTEGER because PostgreSQL has no
            # substr(bytea, bigint, bigint); bytea is at most 1 GiB, so they always fit.
            piece = func.substr(
                AudioBlob.data,
                literal(position + 1, Integer),  # SQL counts from 1
                literal(length, Integer),
                type_=LargeBinary,
            )
            with self.database.engine.connect() as connection:
                chunk = connection.execute(
                    select(piece).where(AudioBlob.key == key)
                ).scalar_one_or_none()
            if chunk is None:  # deleted while it was being read
                raise AudioNotFound(key)
            chunk = bytes(chunk)
            if not chunk:
                return
            position += len(chunk)
            yield chunk

    @contextmanager
    def _local_copy(self, key: str) -> Iterator[Path]:
        size = self.size(key)
        fd, name = tempfile.mkstemp(prefix="voice-statement-audio-", dir=self.temp_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as target:
                if size:
                    for chunk in self._read(key, 0, size - 1, self._COPY_CHUNK):
                        target.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        return self._local_copy(key)

    def delete(self, key: str) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(delete(AudioBlob).where(AudioBlob.key == key))

    def check(self) -> None:
        # The table itself, not just "SELECT 1": a database not yet migrated is not usable.
        try:
            with self.database.engine.connect() as connection:
                connection.execute(select(AudioBlob.key).limit(1)).all()
        except Exception as exc:
            raise AudioStoreUnavailable(f"the audio_blobs table cannot be read: {exc}") from exc


def make_audio_store(settings: Settings, database: Database) -> AudioStore:
    """The store the settings name: ``local`` (files under the audio directory) or
    ``database``."""
    if settings.audio_store == "database":
        return DatabaseAudioStore(database)
    return LocalAudioStore(settings.resolved_audio_dir)
