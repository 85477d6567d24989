"""causes members donate points to, and the cause ledger of what was given and matched

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "causes",
        sa.Column("cause_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("match_ratio", sa.Numeric(4, 2), nullable=False),
        sa.Column("match_budget", sa.BigInteger, nullable=False),
        sa.Column("matched_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "donations",
        sa.Column("donation_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("cause_id", sa.String(64), sa.ForeignKey("causes.cause_id"), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("matched", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_donations_cause", "donations", ["cause_id", "at"])


def downgrade() -> None:
    op.drop_table("donations")
    op.drop_table("causes")
