"""purchase_history: purchases as they came, kept for rule previews

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purchase_history",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSONB, nullable=False),
    )
    op.create_index("ix_purchase_history_occurred_at", "purchase_history", ["occurred_at"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
