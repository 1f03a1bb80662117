"""resumable uploads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Recordings sent in pieces over a poor signal: one ``upload_sessions`` row per recording on its
way, and its pieces in ``upload_chunks``, encrypted at rest (binary) until the recording is
assembled into the audio store.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assembly_token", sa.String(length=36), nullable=True),
        sa.Column("assembly_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audio_key", sa.String(length=200), nullable=True),
        sa.Column("statement_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_upload_sessions_owner_id", "upload_sessions", ["owner_id"])
    op.create_index("ix_upload_sessions_updated_at", "upload_sessions", ["updated_at"])
    op.create_table(
        "upload_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upload_id", sa.String(length=36), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["upload_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("upload_id", "offset"),
    )


def downgrade() -> None:
    op.drop_table("upload_chunks")
    op.drop_index("ix_upload_sessions_updated_at", table_name="upload_sessions")
    op.drop_index("ix_upload_sessions_owner_id", table_name="upload_sessions")
    op.drop_table("upload_sessions")
