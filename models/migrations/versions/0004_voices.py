"""officers' enrolled voices, recordings with several voices

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

An officer's enrolled voice is kept in their account (``users.voice_embedding``: a voice print,
sealed at rest like statement content, never the audio) with when it was enrolled. A recording
says how many voices it holds (``speakers``: None for one, "2".."6" or "auto"), on the
statement and on a resumable upload on its way, so that drafting tells the voices apart.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("voice_embedding", sa.LargeBinary(), nullable=True))
    op.add_column(
        "users", sa.Column("voice_enrolled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("statements", sa.Column("speakers", sa.String(length=8), nullable=True))
    op.add_column("upload_sessions", sa.Column("speakers", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself since 3.35; none of these is indexed or constrained.
    op.drop_column("upload_sessions", "speakers")
    op.drop_column("statements", "speakers")
    op.drop_column("users", "voice_enrolled_at")
    op.drop_column("users", "voice_embedding")
