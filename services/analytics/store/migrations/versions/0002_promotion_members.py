"""who each targeted promotion chose, per group, for its lift against the holdout

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotion_members",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("promotion", sa.String, nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("group", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_promotion_members_promotion", "promotion_members", ["promotion", "group"])


def downgrade() -> None:
    op.drop_table("promotion_members")
