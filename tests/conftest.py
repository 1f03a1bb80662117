"""Fixtures shared by every test package: paths, a private data directory, warm pipelines."""

from __future__ import annotations

import hashlib
import io
import os
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from security.crypto import KeyRing
    from workflow.database import Database
    from workflow.pipeline import StatementPipeline
    from workflow.services import Services

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
AUDIO_FIXTURES = FIXTURES / "audio"


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    """``samples`` (float, -1..1) as a mono 16-bit WAV file's bytes."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return out.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    """``samples`` written to ``path`` as a mono 16-bit WAV file."""
    path.write_bytes(wav_bytes(samples, rate))
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, in the root conftest: pytest registers options only from initial conftests.
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="tests/reliability at full size (50 clients, 200 uploads, 30 s outages, longer "
        "fuzzing); without it they run scaled down to fit CI",
    )


def shared_dir() -> Path | None:
    """The project's shared/ folder (dev set, scorer): beside the checkout, or as configured."""
    candidates = [os.environ.get("VOICE_STATEMENT_SHARED"), REPO.parent / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "eval").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip("shared/eval is not beside the checkout (set VOICE_STATEMENT_SHARED)")
    return found


@pytest.fixture(scope="session")
def jfk_path() -> Path:
    return AUDIO_FIXTURES / "jfk.flac"


@pytest.fixture(scope="session")
def jfk_reference() -> str:
    return (FIXTURES / "jfk.txt").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every CLI it runs) caches converted models in one private directory."""
    path = tmp_path_factory.mktemp("data")
    previous = os.environ.get("VOICE_STATEMENT_DATA_DIR")
    os.environ["VOICE_STATEMENT_DATA_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("VOICE_STATEMENT_DATA_DIR", None)
    else:
        os.environ["VOICE_STATEMENT_DATA_DIR"] = previous


@pytest.fixture(scope="session")
def faster_pipeline(data_dir: Path) -> StatementPipeline:
    """faster-whisper with tiny.en at float32: loaded once for the whole session."""
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    return StatementPipeline(Settings(engine="faster-whisper", data_dir=data_dir))


@pytest.fixture(scope="session")
def openai_pipeline(data_dir: Path) -> StatementPipeline:
    """openai-whisper on the checkpoint converted from the same tiny.en weights, float32."""
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    return StatementPipeline(Settings(engine="openai-whisper", data_dir=data_dir))


# --- databases: every service test runs on SQLite and on PostgreSQL -------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "VOICE_STATEMENT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(
            POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"),
            connect_timeout=3,
            autocommit=True,
        ):
            return None
    except Exception as exc:
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}".splitlines()[0]


def make_postgres_database() -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL database; returns its URL and a function that drops it."""
    import uuid

    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"vs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not yet migrated): SQLite in tmp_path, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'voice-statement.db'}"
        return
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    url, drop = make_postgres_database()
    try:
        yield url
    finally:
        drop()


def _test_keys() -> KeyRing:
    from security.crypto import KeyEncryptionKey, KeyRing

    return KeyRing(KeyEncryptionKey(hashlib.sha256(b"voice-statement test KEK").digest()))


# The key ring of every test database: one fixed KEK, so that a second Database opened on the
# same URL (another "process") reads what the first wrote.
TEST_KEYS: KeyRing = _test_keys()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on each backend, sealing content under ``TEST_KEYS``."""
    from workflow.database import Database

    db = Database(database_url, keys=TEST_KEYS)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


# --- accounts: every service request is made by someone -----------------------------------


def add_account(
    services: Services, name: str, roles: tuple[str, ...] = ("officer",), unit: str | None = "north"
) -> str:
    """Create a local account on the service's database (migrating it first) and return its
    bearer token."""
    from models import Role
    from security import accounts

    services.database.migrate()
    with services.database.session() as session:
        _, token = accounts.add_user(session, name, [Role(r) for r in roles], unit)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
