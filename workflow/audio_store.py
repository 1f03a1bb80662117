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

The service never uses either directly: ``make_audio_store`` wraps the one configured in an
``EncryptedAudioStore``, which keeps every recording encrypted at rest under a data key of its
own (``security.crypto``): what the inner store holds is ciphertext, and what the protocol
hands out (sizes, ranges, local copies, the SHA-256 a save returns) is the plaintext upload.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol, cast

from sqlalchemy import Integer, LargeBinary, delete, func, insert, literal, select

from models.tables import AudioBlob
from security.crypto import (
    AUDIO_CHUNK_BYTES,
    AUDIO_HEADER_BYTES,
    AudioCipher,
    AudioHeader,
    DataKeyNotFound,
    DataKeys,
    DecryptionError,
    NotEncrypted,
    encrypt_stream,
)
from workflow.database import Database
from workflow.files import fsync_directory
from workflow.settings import Settings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

# How much of an upload is read (and hashed) at a time while it is saved.
_READ_CHUNK = 1024 * 1024
# The keys this module makes: uuid4().hex. Anything else is not one of ours, so it is never
# turned into a path (no "../" can reach the filesystem through a key).
_KEY = re.compile(r"[0-9a-f]{32}")
_TEMP_PREFIX = ".upload-"
_COPY_PREFIX = "voice-statement-audio-"


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


# A full disk, or a full quota on it.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class AudioStoreFull(AudioStoreUnavailable):
    """The store's disk (or the service's quota on it) has no room for this upload; nothing of
    it was kept."""


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


class _Measure:
    """The SHA-256 and size of what :func:`_read_limited` has handed out so far."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0


def _read_limited(source: BinaryIO, max_bytes: int, measure: _Measure) -> Iterator[bytes]:
    """``source`` chunk by chunk, hashed and counted into ``measure``; stops at the limit."""
    while True:
        chunk = source.read(_READ_CHUNK)
        if not chunk:
            return
        measure.size += len(chunk)
        # Checked before handing it on: at most one chunk past the limit is ever read, none kept.
        if measure.size > max_bytes:
            raise UploadTooLarge(max_bytes)
        measure.digest.update(chunk)
        yield chunk


def _copy_limited(source: BinaryIO, target: IO[bytes], max_bytes: int) -> StoredAudio:
    """Copy ``source`` to ``target`` chunk by chunk, hashing as it goes; stop at the limit."""
    measure = _Measure()
    for chunk in _read_limited(source, max_bytes, measure):
        target.write(chunk)
    return StoredAudio(key=_new_key(), sha256=measure.digest.hexdigest(), size=measure.size)


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
        try:
            fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        except OSError as exc:
            if exc.errno in _NO_SPACE:  # no inode left for even an empty file
                raise AudioStoreFull(f"no space left in {self.directory}: {exc}") from exc
            raise
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as target:
                stored = _copy_limited(source, target, max_bytes)
                target.flush()
                os.fsync(target.fileno())
            final = self._path(stored.key)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(temp, final)
        except BaseException as exc:
            # Anything at all (too large, a dropped client, a full disk, an interrupt): the
            # store keeps the whole upload or nothing.
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
                raise AudioStoreFull(f"no space left in {self.directory}: {exc}") from exc
            raise
        fsync_directory(final.parent)
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
        fd, name = tempfile.mkstemp(prefix=_COPY_PREFIX, dir=self.temp_dir)
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


class _IteratorReader(io.RawIOBase):
    """A read-only file over an iterator of byte strings (the encrypted form of an upload),
    for an inner store's ``save``, which reads its source like a file."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        super().__init__()
        self._pieces = pieces
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = piece
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class EncryptedAudioStore(AudioStore):
    """Any ``AudioStore``, holding every recording encrypted under a data key of its own.

    ``save`` encrypts the upload as it streams through (``security.crypto``'s chunked format:
    nothing is held whole in memory), and returns the SHA-256 and the size of the *plaintext*,
    the upload exactly as the officer sent it: that is the evidence hash, verifiable by
    decrypting. ``max_bytes`` limits the plaintext. The inner store keeps its guarantees (all
    or nothing, fsync, 0600 files, its own keys); a save that fails forgets its data key too.

    Reads decrypt only the chunks covering the bytes asked for, and check every chunk's tag: a
    changed byte, or a file cut short, raises ``DecryptionError`` rather than returning
    different or shorter audio. ``delete`` deletes the recording's data key first (from then
    on no copy of the ciphertext, a backup included, can be read), then the ciphertext.
    """

    # local_copy reads this many chunks per request to the inner store (about 1 MiB).
    _COPY_BATCH = 16
    # A decrypted copy older than this was left by a process that died holding it (no drafting
    # job takes a day); it is removed when a store opens the directory.
    _STALE_COPY_S = 24 * 60 * 60

    def __init__(
        self,
        inner: AudioStore,
        data_keys: DataKeys,
        *,
        temp_dir: Path | None = None,
        chunk_size: int = AUDIO_CHUNK_BYTES,
    ) -> None:
        self.inner = inner
        self.data_keys = data_keys
        # Where local copies (decrypted) go; None: the system's temporary directory.
        self.temp_dir = temp_dir
        self.chunk_size = chunk_size
        if temp_dir is not None:
            temp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._sweep_stale_copies(temp_dir)

    def _sweep_stale_copies(self, directory: Path) -> None:
        # A process killed inside local_copy leaves a decrypted recording behind: plaintext
        # at rest, which must not outlive it for long.
        cutoff = time.time() - self._STALE_COPY_S
        for path in directory.glob(_COPY_PREFIX + "*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def save(self, source: BinaryIO, *, max_bytes: int) -> StoredAudio:
        data_key = self.data_keys.new_audio_key()
        measure = _Measure()  # of the plaintext: the hash and size recorded as evidence
        header = AudioHeader(key_id=data_key.id, chunk_size=self.chunk_size)
        encrypted = encrypt_stream(
            _read_limited(source, max_bytes, measure), data_key, chunk_size=self.chunk_size
        )
        try:
            stored = self.inner.save(
                cast(BinaryIO, _IteratorReader(encrypted)),
                max_bytes=header.ciphertext_size(max_bytes),
            )
            if header.plaintext_size(stored.size) != measure.size:  # the format's arithmetic
                self.inner.delete(stored.key)
                raise RuntimeError("the encrypted recording has an unexpected length")
        except BaseException:
            self._forget_key(data_key.id)
            raise
        return StoredAudio(key=stored.key, sha256=measure.digest.hexdigest(), size=measure.size)

    def _forget_key(self, key_id: str) -> None:
        try:
            self.data_keys.delete(key_id)
        except Exception:  # the save's own error matters more; the key encrypts nothing kept
            log.exception("could not delete the data key of a failed save")

    def _header(self, key: str) -> tuple[AudioHeader, int]:
        """The recording's header and its stored (encrypted) length."""
        stored_size = self.inner.size(key)
        if stored_size == 0:
            raise NotEncrypted(f"the recording {key} is empty")
        head = b"".join(self.inner.iter_range(key, 0, min(stored_size, AUDIO_HEADER_BYTES) - 1))
        return AudioHeader.parse(head), stored_size

    def _open(self, key: str) -> tuple[AudioHeader, int]:
        """The header and the plaintext size; ``NotEncrypted`` for a recording stored before
        encryption (``voice-statement keys rotate`` encrypts those)."""
        try:
            header, stored_size = self._header(key)
        except NotEncrypted:
            raise NotEncrypted(
                f"the recording {key} is not encrypted: run `voice-statement keys rotate` to "
                "encrypt recordings stored before encryption at rest"
            ) from None
        return header, header.plaintext_size(stored_size)

    def _cipher(self, key: str, header: AudioHeader) -> AudioCipher:
        try:
            return AudioCipher(self.data_keys.key(header.key_id), header)
        except DataKeyNotFound:
            # Its key was deleted (erased): the recording can never be read again.
            raise AudioNotFound(key) from None

    def size(self, key: str) -> int:
        return self._open(key)[1]

    def iter_range(
        self, key: str, start: int, end: int, *, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        header, size = self._open(key)
        _check_range(size, start, end, chunk_size)
        cipher = self._cipher(key, header)
        return self._slice(key, cipher, size, start, end, chunk_size)

    def _chunks(
        self, key: str, cipher: AudioCipher, size: int, first: int, last: int, batch: int
    ) -> Iterator[bytes]:
        """Decrypt chunks ``first`` to ``last`` (inclusive), reading ``batch`` per request."""
        header = cipher.header
        final = header.chunk_count(size) - 1
        begin = header.chunk_span(first, size)[0]
        offset, length = header.chunk_span(last, size)
        buffer = bytearray()
        index = first
        for piece in self.inner.iter_range(
            key, begin, offset + length - 1, chunk_size=header.stride * batch
        ):
            buffer += piece
            used = 0
            while index <= last:
                want = header.chunk_span(index, size)[1]
                if len(buffer) - used < want:
                    break
                chunk = bytes(buffer[used : used + want])
                yield cipher.decrypt_chunk(index, chunk, last=index == final)
                used += want
                index += 1
            del buffer[:used]
        if index <= last:
            raise DecryptionError(f"the recording {key} ended before chunk {index}: cut short")

    def _slice(
        self, key: str, cipher: AudioCipher, size: int, start: int, end: int, chunk_size: int
    ) -> Iterator[bytes]:
        plain = cipher.header.chunk_size
        first, last = start // plain, end // plain
        position = first * plain  # the plaintext offset of the next decrypted byte
        pending = bytearray()
        for chunk in self._chunks(key, cipher, size, first, last, 1):
            low = max(start - position, 0)
            high = min(end + 1 - position, len(chunk))
            position += len(chunk)
            pending += chunk[low:high]
            used = 0
            while len(pending) - used >= chunk_size:
                yield bytes(pending[used : used + chunk_size])
                used += chunk_size
            del pending[:used]  # once per decrypted chunk, however small the pieces asked for
        if pending:
            yield bytes(pending)

    @contextmanager
    def _local_copy(self, key: str) -> Iterator[Path]:
        header, size = self._open(key)
        cipher = self._cipher(key, header)
        # mkstemp: mode 0600 whatever the umask; the plaintext lives only inside the ``with``.
        fd, name = tempfile.mkstemp(prefix=_COPY_PREFIX, dir=self.temp_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as target:
                last = header.chunk_count(size) - 1
                for chunk in self._chunks(key, cipher, size, 0, last, self._COPY_BATCH):
                    target.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        return self._local_copy(key)

    def delete(self, key: str) -> None:
        try:
            header, _ = self._header(key)
        except AudioNotFound:
            return
        except (DecryptionError, ValueError):
            header = None  # not one of ours (stored before encryption): no key to forget
        if header is not None:
            self.data_keys.delete(header.key_id)
        self.inner.delete(key)

    def check(self) -> None:
        self.inner.check()
        try:
            self.data_keys.check()
        except Exception as exc:
            raise AudioStoreUnavailable(f"the encryption keys cannot be used: {exc}") from exc

    # --- recordings stored before encryption at rest (``voice-statement keys rotate``) ---

    def is_encrypted(self, key: str) -> bool:
        """Whether the recording under ``key`` is in the encrypted format (has its header;
        whether the rest is intact is for reading it to find out)."""
        try:
            self._header(key)
        except NotEncrypted:
            return False
        return True

    def encrypt_legacy(self, key: str) -> StoredAudio:
        """Store an encrypted copy of a recording kept in plaintext, under a new key; the
        caller points its record at the new key, then deletes the old one (``inner``)."""
        with self.inner.local_copy(key) as path, path.open("rb") as source:
            return self.save(cast(BinaryIO, source), max_bytes=path.stat().st_size)


def make_audio_store(settings: Settings, database: Database, data_keys: DataKeys) -> AudioStore:
    """The store the settings name, ``local`` (files under the audio directory) or
    ``database``, with every recording encrypted under ``data_keys``."""
    inner: AudioStore
    if settings.audio_store == "database":
        inner = DatabaseAudioStore(database)
    else:
        inner = LocalAudioStore(settings.resolved_audio_dir)
    # Decrypted copies (for the decoder) go to a private directory of the service's own, not
    # the shared system one, where a crash could leave one for anybody's tools to find.
    return EncryptedAudioStore(inner, data_keys, temp_dir=settings.data_dir / "tmp")
