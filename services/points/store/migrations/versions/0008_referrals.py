"""referrals: members' codes, each friend's referral, and the program's terms

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_codes",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
    )
    op.create_table(
        "referrals",
        sa.Column("friend_id", sa.String, primary_key=True),
        sa.Column("referrer_id", sa.String, nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String, nullable=False, server_default=""),
        sa.Column("purchase_event_id", sa.Uuid, nullable=True),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_referrals_referrer", "referrals", ["referrer_id"])
    op.create_index("ix_referrals_pending", "referrals", ["status", "enrolled_at"])
    op.create_table(
        "referral_program",
        sa.Column("program", sa.String(16), primary_key=True),
        sa.Column("config", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("referral_program")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
