"""Encryption at rest: the key hierarchy, sealed statement content, and encrypted recordings.

Two levels of keys, the usual envelope scheme:

* The **key-encryption key** (KEK, 32 bytes) never touches the database. Deployments give it
  in the environment (``VOICE_STATEMENT_KEK``, base64, ideally injected from a vault); the
  embedded default generates a key file (mode 0600) on first run. Its id is the first 16 hex
  digits of its SHA-256: enough to name it in a row and in an error, useless to an attacker.
* **Data keys** (32 bytes each) encrypt the data. They live in the ``data_keys`` table only
  wrapped (AES-256-GCM) by the KEK, with the id of the KEK that wrapped them. One ``content``
  key at a time seals statement content; every recording gets its own ``audio`` key, so that
  deleting that one row makes the recording unreadable for good (crypto-shredding), backups
  included.

Rotating the KEK (``DataKeys.rotate``) re-wraps the data keys, a few dozen bytes each; the
recordings and the content they encrypt are not touched.

Formats (every integer big-endian):

* wrapped data key: 12-byte random nonce || AES-GCM(KEK, data key), AAD = ``WRAP_AAD`` || key id.
* sealed content: version (1 byte, 1) || data key id (16 bytes) || 12-byte random nonce ||
  AES-GCM(data key, plaintext), AAD = ``CONTENT_AAD`` || version || key id || column label, so
  a value moved to another column, or re-labelled with another key id, does not open.
* encrypted audio: a header (``AUDIO_MAGIC`` (7 bytes), version (1 byte, 1), data key id
  (16 bytes), plaintext chunk size (4 bytes)), then the plaintext in chunks of that size (the
  last one shorter, possibly empty), each as AES-GCM ciphertext and its 16-byte tag. Chunk
  ``i`` uses the nonce ``i`` (12 bytes): safe, because a data key encrypts one recording only,
  once. Its AAD is the header, ``i`` (8 bytes) and a last-chunk flag, so that a chunk that is
  altered, moved, dropped or cut short, or a file cut off at a chunk boundary, fails to decrypt
  instead of playing as shorter audio. Chunk ``i`` starts at ``HEADER + i * (chunk + 16)``: a
  byte range of the plaintext is served by decrypting only the chunks covering it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, delete, insert, select, update

from models.tables import DataKey, utcnow

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce
TAG_BYTES = 16
KEY_ID_BYTES = 16  # a data key id: uuid4, 32 hex digits in the table, 16 bytes in a format
KEK_ID_HEX = 16  # the first 16 hex digits of the KEK's SHA-256

WRAP_AAD = b"voice-statement data key\x00"
CONTENT_AAD = b"voice-statement content\x00"
CONTENT_VERSION = 1

AUDIO_MAGIC = b"VSAUDIO"
AUDIO_VERSION = 1
AUDIO_HEADER_BYTES = len(AUDIO_MAGIC) + 1 + KEY_ID_BYTES + 4
# The plaintext in each audio chunk. 64 KiB: a seek costs at most two chunks (128 KiB) of
# decryption, and the 16-byte tag per chunk adds 0.02 % to the file.
AUDIO_CHUNK_BYTES = 64 * 1024
# The largest chunk size a header may name: a reader allocates one chunk, so a header altered
# to claim gigabytes must be refused before it is believed (the AAD only catches it later).
MAX_AUDIO_CHUNK_BYTES = 16 * 1024 * 1024

KEK_SETTING = "VOICE_STATEMENT_KEK"
PREVIOUS_KEKS_SETTING = "VOICE_STATEMENT_PREVIOUS_KEKS"
# How long a reader waits for a key file another process is still writing (only on
# filesystems without hard links, where the file cannot appear complete in one step).
_KEY_FILE_WAIT_S = 2.0


class CryptoError(Exception):
    """Something about keys or ciphertext is wrong."""


class KeyConfigError(CryptoError):
    """The configured keys are missing, malformed, unsafe, or not the ones the data needs."""


class DecryptionError(CryptoError):
    """A ciphertext does not decrypt: it was altered, cut short, or is not ours."""


class NotEncrypted(DecryptionError):
    """Stored bytes carry no encryption header (written before encryption at rest)."""


class DataKeyNotFound(CryptoError):
    """No data key with this id: it was deleted (the data it encrypted is gone for good)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"data key {key_id} does not exist (deleted: its data is unreadable)")
        self.key_id = key_id


# --- key-encryption keys -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEncryptionKey:
    """A KEK. ``id`` names it in ``data_keys.kek_id`` and in error messages."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise KeyConfigError(f"a key-encryption key is {KEY_BYTES} bytes, not {len(self.key)}")

    @property
    def id(self) -> str:
        return hashlib.sha256(self.key).hexdigest()[:KEK_ID_HEX]

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str, *, source: str) -> KeyEncryptionKey:
        """Parse base64 (standard or URL-safe alphabet) of 32 bytes; ``source`` names the
        setting or file it came from, for the error."""
        cleaned = "".join(text.split())
        try:
            raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(
                f"{source} is not valid base64: it must be base64 of {KEY_BYTES} random bytes "
                "(make one with `voice-statement keys generate`)"
            ) from None
        if len(raw) != KEY_BYTES:
            raise KeyConfigError(
                f"{source} decodes to {len(raw)} bytes: it must be base64 of exactly "
                f"{KEY_BYTES} random bytes (make one with `voice-statement keys generate`)"
            )
        return cls(raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")


def wrap_key(kek: KeyEncryptionKey, key_id: str, data_key: bytes) -> bytes:
    """A data key encrypted under the KEK; the AAD binds the data key's id, so a wrapped key
    copied onto another row does not unwrap there."""
    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes, not {len(data_key)}")
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek.key).encrypt(nonce, data_key, WRAP_AAD + key_id.encode())


def unwrap_key(kek: KeyEncryptionKey, key_id: str, wrapped: bytes) -> bytes:
    try:
        key = AESGCM(kek.key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], WRAP_AAD + key_id.encode()
        )
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"data key {key_id} does not unwrap under key-encryption key {kek.id}: its row "
            "was altered"
        ) from None
    if len(key) != KEY_BYTES:
        raise DecryptionError(f"data key {key_id} unwraps to {len(key)} bytes, not {KEY_BYTES}")
    return key


class KeyRing:
    """The current KEK (wraps every new data key) and previous ones (only unwrap, until
    ``voice-statement keys rotate`` has re-wrapped everything under the current one)."""

    def __init__(
        self, current: KeyEncryptionKey, previous: Sequence[KeyEncryptionKey] = ()
    ) -> None:
        self.current = current
        self._keys = {kek.id: kek for kek in previous}
        self._keys[current.id] = current

    @property
    def ids(self) -> list[str]:
        """Every KEK id this ring can unwrap with, the current one first."""
        return [self.current.id, *(i for i in self._keys if i != self.current.id)]

    def get(self, kek_id: str, *, wrapping: str = "data") -> KeyEncryptionKey:
        """The KEK ``kek_id``; ``wrapping`` names what it wraps, for the error."""
        try:
            return self._keys[kek_id]
        except KeyError:
            raise KeyConfigError(
                f"{wrapping} is wrapped by key-encryption key {kek_id}, which this service "
                f"does not have (it has {', '.join(self.ids)}): set {KEK_SETTING} to that key, "
                f"or add it to {PREVIOUS_KEKS_SETTING} and run `voice-statement keys rotate`"
            ) from None

    def wrap(self, key_id: str, data_key: bytes) -> tuple[str, bytes]:
        """(the current KEK's id, the wrapped key)."""
        return self.current.id, wrap_key(self.current, key_id, data_key)

    def unwrap(self, key_id: str, kek_id: str, wrapped: bytes) -> bytes:
        return unwrap_key(self.get(kek_id, wrapping=f"data key {key_id}"), key_id, wrapped)

    @classmethod
    def from_settings(cls, *, kek: str | None, previous: Sequence[str], key_file: Path) -> KeyRing:
        """The ring the settings describe: the KEK from the environment when one is set,
        otherwise the key file (generated on first run); previous KEKs from the environment."""
        older = [
            KeyEncryptionKey.from_base64(text, source=f"{PREVIOUS_KEKS_SETTING}[{index}]")
            for index, text in enumerate(previous)
        ]
        if kek is not None and kek.strip():
            current = KeyEncryptionKey.from_base64(kek, source=KEK_SETTING)
        else:
            current = load_or_create_key_file(key_file)
        return cls(current, older)


# --- the key file (embedded default) -------------------------------------------------------


def _check_private(path: Path, mode: int) -> None:
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyConfigError(
            f"the key file {path} has mode {stat.S_IMODE(mode):04o}: it may be readable by "
            f"other users, so it is not used. Make it private (chmod 600 {path}) and check "
            "nobody else copied it"
        )


def read_key_file(path: Path) -> KeyEncryptionKey:
    """The KEK in ``path`` (base64 text); refused when group or others have any access."""
    deadline = time.monotonic() + _KEY_FILE_WAIT_S
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise  # the caller may create it
        except OSError as exc:
            raise KeyConfigError(f"the key file {path} cannot be read: {exc}") from exc
        try:
            # fstat on the open file: the mode checked is that of the bytes read.
            _check_private(path, os.fstat(fd).st_mode)
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read(4096)
        finally:
            os.close(fd)
        if data.strip() or time.monotonic() >= deadline:
            break
        time.sleep(0.05)  # created but not yet written by another process (no-link fallback)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = "\x00"  # not base64: from_base64 says so, naming the file
    return KeyEncryptionKey.from_base64(text, source=f"the key file {path}")


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_key_file(path: Path) -> KeyEncryptionKey:
    """Read the KEK from ``path``, generating it first when there is none.

    The directory is made with mode 0700, the file with 0600. A new key is written to a
    temporary file, fsynced, and linked into place with ``link``, which fails if the name
    exists: two processes starting together both end up with the one key that won, and no
    reader ever sees a half-written file.
    """
    path = Path(path)
    try:
        return read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kek = KeyEncryptionKey.generate()
    content = (kek.to_base64() + "\n").encode("ascii")
    fd, temp_name = tempfile.mkstemp(prefix=".kek-", dir=path.parent)  # mode 0600
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:
            # A filesystem without hard links: create the name exclusively instead.
            _create_exclusive(path, content)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return read_key_file(path)


def _create_exclusive(path: Path, content: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


# --- data keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlainDataKey:
    """A data key, unwrapped: its id (32 hex digits) and its 32 bytes (never printed)."""

    id: str
    key: bytes = field(repr=False)

    @property
    def id_bytes(self) -> bytes:
        return bytes.fromhex(self.id)


def _valid_key_id(key_id: str) -> bool:
    return len(key_id) == 2 * KEY_ID_BYTES and all(c in "0123456789abcdef" for c in key_id)


@dataclass(frozen=True)
class RotationResult:
    """What ``DataKeys.rotate`` did: keys re-wrapped, and keys already under the current KEK."""

    rewrapped: int
    already_current: int
    kek_id: str


class DataKeys:
    """The data keys in the ``data_keys`` table, wrapped under the ring's KEKs.

    Every method opens its own short connection on ``engine``, never the caller's: so it must
    not be asked to *write* (create or delete a key) while the same thread holds a write
    transaction on SQLite, which allows one writer at a time. ``ensure_content_key`` exists so
    that the content key is created before any such transaction (the database layer calls it).

    Content keys, once unwrapped, are kept in memory (there are few, and they are read on every
    sealed column); audio keys are fetched each time, so that a deleted one is gone at once.
    """

    def __init__(self, engine: Engine, ring: KeyRing) -> None:
        self.engine = engine
        self.ring = ring
        self._lock = threading.Lock()
        self._content: PlainDataKey | None = None
        self._content_keys: dict[str, PlainDataKey] = {}
        self._content_exists = False

    # creating

    def _create(self, purpose: str) -> PlainDataKey:
        material = PlainDataKey(uuid.uuid4().hex, secrets.token_bytes(KEY_BYTES))
        kek_id, wrapped = self.ring.wrap(material.id, material.key)
        with self.engine.begin() as connection:
            connection.execute(
                insert(DataKey).values(
                    id=material.id,
                    purpose=purpose,
                    kek_id=kek_id,
                    wrapped_key=wrapped,
                    created_at=utcnow(),
                )
            )
        return material

    def _active_content_row(self) -> Any:
        # The oldest active one: two processes that each created one at the same moment both
        # settle on the same key (either would do: every content key stays readable).
        with self.engine.connect() as connection:
            return connection.execute(
                select(DataKey.id, DataKey.kek_id, DataKey.wrapped_key)
                .where(DataKey.purpose == "content", DataKey.retired_at.is_(None))
                .order_by(DataKey.created_at, DataKey.id)
                .limit(1)
            ).first()

    def ensure_content_key(self) -> None:
        """Make sure an active content key exists (created wrapped, not unwrapped: a wrong KEK
        is reported when content is first read or written, by ``content_key``)."""
        if self._content_exists:
            return
        with self._lock:
            if self._content_exists:
                return
            if self._active_content_row() is None:
                self._create("content")
            self._content_exists = True

    def content_key(self) -> PlainDataKey:
        """The key that seals new content: created on first use, then held in memory."""
        current = self._content
        if current is not None:
            return current
        with self._lock:
            if self._content is None:
                row = self._active_content_row()
                if row is None:
                    self._create("content")
                    row = self._active_content_row()
                material = PlainDataKey(
                    row.id, self.ring.unwrap(row.id, row.kek_id, bytes(row.wrapped_key))
                )
                self._content_keys[material.id] = material
                self._content = material
                self._content_exists = True
            return self._content

    def new_audio_key(self) -> PlainDataKey:
        """A fresh key for one recording (stored wrapped before it is returned)."""
        return self._create("audio")

    # reading

    def key(self, key_id: str) -> PlainDataKey:
        """The data key ``key_id``, unwrapped. ``DataKeyNotFound`` when it was deleted;
        ``KeyConfigError`` when its KEK is not in the ring."""
        cached = self._content_keys.get(key_id)
        if cached is not None:
            return cached
        if not _valid_key_id(key_id):
            raise DataKeyNotFound(key_id)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(DataKey.purpose, DataKey.kek_id, DataKey.wrapped_key).where(
                    DataKey.id == key_id
                )
            ).first()
        if row is None:
            raise DataKeyNotFound(key_id)
        material = PlainDataKey(
            key_id, self.ring.unwrap(key_id, row.kek_id, bytes(row.wrapped_key))
        )
        if row.purpose == "content":
            with self._lock:
                self._content_keys[key_id] = material
        return material

    def check(self) -> None:
        """Raise unless the active content key exists and unwraps (the KEK is the right one)."""
        self.content_key()

    # deleting and rotating

    def delete(self, key_id: str) -> None:
        """Forget a data key for good: what it encrypted can no longer be read by anyone."""
        with self._lock:
            self._content_keys.pop(key_id, None)
            if self._content is not None and self._content.id == key_id:
                self._content = None
                self._content_exists = False
        with self.engine.begin() as connection:
            connection.execute(delete(DataKey).where(DataKey.id == key_id))

    def rotate(self, ring: KeyRing) -> RotationResult:
        """Re-wrap every data key under ``ring.current``, in one transaction (all or none).

        ``ring`` must hold every KEK the keys are wrapped by now; a key wrapped by one it lacks
        fails the whole rotation with ``KeyConfigError`` naming that KEK's id. The data the
        keys encrypt is not read or changed. Run it once every process has the new KEK as its
        current one (and the old one among its previous): a process still on the old KEK would
        go on wrapping new keys under it.
        """
        current = ring.current
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(DataKey.id, DataKey.kek_id, DataKey.wrapped_key).order_by(DataKey.id)
            ).all()
            stale = [row for row in rows if row.kek_id != current.id]
            # Unwrap them all before writing any: a missing KEK changes nothing.
            plain = [
                (row, ring.unwrap(row.id, row.kek_id, bytes(row.wrapped_key))) for row in stale
            ]
            for row, key in plain:
                connection.execute(
                    update(DataKey)
                    .where(DataKey.id == row.id, DataKey.kek_id == row.kek_id)
                    .values(kek_id=current.id, wrapped_key=wrap_key(current, row.id, key))
                )
        return RotationResult(
            rewrapped=len(stale), already_current=len(rows) - len(stale), kek_id=current.id
        )


# --- sealed content ------------------------------------------------------------------------


class ContentCipher:
    """Seals statement content columns (``models.tables.ContentSealer``) with the content key."""

    _HEAD = 1 + KEY_ID_BYTES + NONCE_BYTES

    def __init__(self, data_keys: DataKeys) -> None:
        self.data_keys = data_keys

    @staticmethod
    def _aad(key_id: bytes, label: str) -> bytes:
        return CONTENT_AAD + bytes([CONTENT_VERSION]) + key_id + label.encode()

    def seal(self, plaintext: bytes, *, label: str) -> bytes:
        key = self.data_keys.content_key()
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = AESGCM(key.key).encrypt(nonce, plaintext, self._aad(key.id_bytes, label))
        return bytes([CONTENT_VERSION]) + key.id_bytes + nonce + ciphertext

    def open(self, sealed: bytes, *, label: str) -> bytes:
        if len(sealed) < self._HEAD + TAG_BYTES or sealed[0] != CONTENT_VERSION:
            raise DecryptionError(f"the sealed value of {label} is malformed")
        key_id = sealed[1 : 1 + KEY_ID_BYTES]
        nonce = sealed[1 + KEY_ID_BYTES : self._HEAD]
        key = self.data_keys.key(key_id.hex())
        try:
            return AESGCM(key.key).decrypt(nonce, sealed[self._HEAD :], self._aad(key_id, label))
        except InvalidTag:
            raise DecryptionError(
                f"the sealed value of {label} does not decrypt: it was altered, or was moved "
                "from another column"
            ) from None


# --- encrypted audio -----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioHeader:
    """The clear header of an encrypted recording, and the arithmetic of its chunks."""

    key_id: str
    chunk_size: int = AUDIO_CHUNK_BYTES

    def to_bytes(self) -> bytes:
        return (
            AUDIO_MAGIC
            + bytes([AUDIO_VERSION])
            + bytes.fromhex(self.key_id)
            + self.chunk_size.to_bytes(4, "big")
        )

    @classmethod
    def parse(cls, data: bytes) -> AudioHeader:
        if not data.startswith(AUDIO_MAGIC):
            raise NotEncrypted("the stored recording has no encryption header")
        if len(data) < AUDIO_HEADER_BYTES:
            raise DecryptionError("the stored recording's header is cut short")
        if data[len(AUDIO_MAGIC)] != AUDIO_VERSION:
            raise DecryptionError(
                f"the stored recording is in format version {data[len(AUDIO_MAGIC)]}, which "
                "this version of the service does not know"
            )
        offset = len(AUDIO_MAGIC) + 1
        key_id = data[offset : offset + KEY_ID_BYTES].hex()
        chunk_size = int.from_bytes(data[offset + KEY_ID_BYTES : AUDIO_HEADER_BYTES], "big")
        if not 0 < chunk_size <= MAX_AUDIO_CHUNK_BYTES:
            raise DecryptionError(f"the stored recording's header names a chunk of {chunk_size}")
        return cls(key_id=key_id, chunk_size=chunk_size)

    @property
    def stride(self) -> int:
        """The stored length of a full chunk."""
        return self.chunk_size + TAG_BYTES

    def chunk_count(self, plaintext_size: int) -> int:
        """Chunks holding ``plaintext_size`` bytes: at least one (an empty last one)."""
        return max(1, -(-plaintext_size // self.chunk_size))

    def ciphertext_size(self, plaintext_size: int) -> int:
        return AUDIO_HEADER_BYTES + plaintext_size + TAG_BYTES * self.chunk_count(plaintext_size)

    def plaintext_size(self, ciphertext_size: int) -> int:
        """The plaintext length a stored length implies (checked by the last chunk's tag)."""
        body = ciphertext_size - AUDIO_HEADER_BYTES
        if body < TAG_BYTES:
            raise DecryptionError(
                f"the stored recording is {ciphertext_size} bytes, too short to be one of ours"
            )
        chunks = -(-body // self.stride)
        if body - (chunks - 1) * self.stride < TAG_BYTES:
            raise DecryptionError(
                f"the stored recording is {ciphertext_size} bytes: it was cut off mid-chunk"
            )
        return body - TAG_BYTES * chunks

    def chunk_span(self, index: int, plaintext_size: int) -> tuple[int, int]:
        """(offset, length) of chunk ``index`` in the stored bytes."""
        plain = min(self.chunk_size, plaintext_size - index * self.chunk_size)
        return AUDIO_HEADER_BYTES + index * self.stride, max(plain, 0) + TAG_BYTES


def _chunk_nonce(index: int) -> bytes:
    return index.to_bytes(NONCE_BYTES, "big")


def _chunk_aad(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


class AudioCipher:
    """Encrypts or decrypts the chunks of one recording under its own data key."""

    def __init__(self, key: PlainDataKey, header: AudioHeader) -> None:
        if key.id != header.key_id:
            raise DecryptionError(f"data key {key.id} is not the recording's ({header.key_id})")
        self.header = header
        self._header_bytes = header.to_bytes()
        self._aead = AESGCM(key.key)

    def encrypt_chunk(self, index: int, plaintext: bytes, *, last: bool) -> bytes:
        if len(plaintext) > self.header.chunk_size:
            raise ValueError("a chunk is longer than the chunk size")
        return self._aead.encrypt(
            _chunk_nonce(index), plaintext, _chunk_aad(self._header_bytes, index, last)
        )

    def decrypt_chunk(self, index: int, ciphertext: bytes, *, last: bool) -> bytes:
        try:
            return self._aead.decrypt(
                _chunk_nonce(index), ciphertext, _chunk_aad(self._header_bytes, index, last)
            )
        except InvalidTag:
            raise DecryptionError(
                f"chunk {index} of the recording does not decrypt: the stored file was altered "
                "or cut short"
            ) from None


def encrypt_stream(
    plaintext: Iterable[bytes], key: PlainDataKey, *, chunk_size: int = AUDIO_CHUNK_BYTES
) -> Iterator[bytes]:
    """The encrypted form of ``plaintext`` (pieces of any size): the header, then each chunk.

    A chunk is only written once the next byte is known to exist (or not), so that the last
    one is flagged as last; holding one chunk of lookahead costs ``chunk_size`` of memory.
    """
    header = AudioHeader(key_id=key.id, chunk_size=chunk_size)
    cipher = AudioCipher(key, header)
    yield header.to_bytes()
    pending = bytearray()
    index = 0
    for piece in plaintext:
        pending += piece
        start = 0
        # Strictly more than a chunk left: the chunk cut here is certainly not the last.
        while len(pending) - start > chunk_size:
            chunk = bytes(pending[start : start + chunk_size])
            yield cipher.encrypt_chunk(index, chunk, last=False)
            start += chunk_size
            index += 1
        del pending[:start]  # once per piece, not once per chunk: no quadratic copying
    yield cipher.encrypt_chunk(index, bytes(pending), last=True)
