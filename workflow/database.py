"""The database: one engine per process, schema by Alembic migrations at start-up.

Statement content is sealed (encrypted) column by column as it is written and opened as it is
read (``models.tables.SealedJSON``); a ``Database`` given a key ring attaches the sealer to its
engine, so every session and connection of it reads and writes content in the clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

import models
from models.tables import attach_sealer
from security.crypto import ContentCipher, DataKeys, KeyRing

MIGRATIONS_DIR = Path(models.__file__).parent / "migrations"
# Any constant: serialises migrations when the API and several workers start together.
_MIGRATION_LOCK_ID = 0x766F6963


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL: readers (the SSE stream) do not block the worker writing a draft.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An engine and its sessions.

    keys: the key ring that unwraps the data keys (``security.crypto``). Without one, sealed
    content columns cannot be read or written (``models.tables.SealerMissing``): only tools
    that touch no content (migrations) open a database without keys.
    """

    def __init__(self, url: str, *, keys: KeyRing | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.keys = keys
        self.data_keys: DataKeys | None = None
        if keys is not None:
            self.data_keys = DataKeys(self.engine, keys)
            attach_sealer(self.engine.dialect, ContentCipher(self.data_keys))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine)
        self._ensure_content_key()

    def _ensure_content_key(self) -> None:
        # Created now, before any transaction of ours: DataKeys writes on a connection of its
        # own, which on SQLite (one writer at a time) would wait on a transaction of this same
        # thread that had already written, were the key first needed while sealing inside it.
        if self.data_keys is not None:
            self.data_keys.ensure_content_key()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        self._ensure_content_key()  # a no-op once done (see above)
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
