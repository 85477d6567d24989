"""standings.checkpoint: where the member's next replay can resume (its instant, the standing and plan
just before it, and the ladder it was taken under), so a batch reads a window of the member's activity
instead of all of it

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty for every standing kept before: its next batch replays the whole history, as it did.
    op.add_column("standings", sa.Column("checkpoint", JSONB, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("forward only")
