"""inbox, outbox, facts per kind of event, member segments

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.store.core_tables import create_core_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "purchases",
    "returns",
    "partner_purchases",
    "members",
    "points_moves",
    "tier_changes",
    "vip_orders",
    "notifications",
    "member_segments",
)


def upgrade() -> None:
    create_core_tables_v1()
    op.create_table(
        "purchases",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("chain_id", sa.String, nullable=False),
        sa.Column("store_id", sa.String, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("units", sa.Numeric(20, 3), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "returns",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("chain_id", sa.String, nullable=False),
        sa.Column("store_id", sa.String, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refund", sa.Numeric(20, 4), nullable=False),
        sa.Column("original_event_id", sa.Uuid, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "partner_purchases",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("partner_id", sa.String, nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "members",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("chain_id", sa.String, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "points_moves",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("funded", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tier_changes",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("from_tier", sa.String, nullable=True),
        sa.Column("to_tier", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "vip_orders",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("chain_id", sa.String, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("plan", sa.String, nullable=False),
        sa.Column("fee", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("channel", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_type", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "member_segments",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("rfm", sa.String(3), nullable=False),
        sa.Column("rfm_label", sa.String(16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_purchases_at", "purchases", ["occurred_at"])
    op.create_index("ix_purchases_member", "purchases", ["member_id", "occurred_at"])
    op.create_index("ix_returns_at", "returns", ["occurred_at"])
    op.create_index("ix_points_moves_at", "points_moves", ["occurred_at"])
    op.create_index("ix_tier_changes_member", "tier_changes", ["member_id", "effective_from"])


def downgrade() -> None:
    for table in (*reversed(TABLES), "outbox", "inbox"):
        op.drop_table(table)
