"""member tiers: the local projection of tier.changed, for tier multipliers

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_tiers",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("tier", sa.String, nullable=False),
        sa.Column("multiplier", sa.Numeric(6, 2), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("member_tiers")
