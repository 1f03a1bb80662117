"""Migrations build the same schema on SQLite and PostgreSQL, and re-running them is harmless."""

from __future__ import annotations

from sqlalchemy import inspect, text

from workflow.database import Database

TABLES = {
    "statements",
    "statement_versions",
    "confirmations",
    "jobs",
    "statement_events",
    "outbox",
    "audio_blobs",
}


def test_migrations_create_every_table_and_are_idempotent(database: Database) -> None:
    assert set(inspect(database.engine).get_table_names()) >= TABLES
    database.migrate()  # a second start-up changes nothing
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"


def test_ping_reaches_the_database(database: Database) -> None:
    database.ping()
