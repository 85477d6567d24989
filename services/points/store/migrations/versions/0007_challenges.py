"""challenges and badges: the challenges, and each member's progress per month

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("challenge_id", sa.String(64), primary_key=True),
        sa.Column("config", JSONB, nullable=False),
    )
    op.create_table(
        "challenge_progress",
        sa.Column("challenge_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("seen", JSONB, nullable=False),
        sa.Column("completed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", "member_id", "period"),
    )


def downgrade() -> None:
    op.drop_table("challenge_progress")
    op.drop_table("challenges")
