"""lots, debt, daily earnings, rule sets, partner campaigns, rewards catalog, redemptions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("balances", sa.Column("debt", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "lots",
        sa.Column("lot_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False, index=True),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("original", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_lots_expiring", "lots", ["expires_at"], postgresql_where=sa.text("remaining > 0"))
    # Points earned before lots existed become one lot each, never expiring.
    op.execute(
        "INSERT INTO lots (lot_id, member_id, earned_at, expires_at, original, remaining) "
        "SELECT gen_random_uuid(), member_id, occurred_at, NULL, points, points "
        "FROM ledger WHERE kind = 'earn' AND points > 0"
    )
    op.create_index(
        "ix_ledger_reversed_purchase",
        "ledger",
        [sa.text("(details->>'purchase_event_id')")],
        postgresql_where=sa.text("kind = 'reverse'"),
    )
    op.create_table(
        "daily_earnings",
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "day"),
    )
    op.create_table(
        "rule_sets",
        sa.Column("version", sa.Integer, sa.Identity(always=True), primary_key=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String, primary_key=True),
        sa.Column("partner_id", sa.String, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("budget_points", sa.BigInteger, nullable=False),
        sa.Column("funded_points", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "rewards",
        sa.Column("reward_id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cost_points", sa.BigInteger, nullable=False),
        sa.Column("stock", sa.BigInteger, nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
    )
    op.create_table(
        "redemptions",
        sa.Column("redemption_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False, index=True),
        sa.Column("reward_id", sa.String, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("takes", JSONB, nullable=False),
        sa.Column("code", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_redemptions_held", "redemptions", ["hold_until"], postgresql_where=sa.text("status = 'reserved'")
    )


def downgrade() -> None:
    for table in ("redemptions", "rewards", "campaigns", "rule_sets", "daily_earnings", "lots"):
        op.drop_table(table)
    op.drop_column("balances", "debt")
