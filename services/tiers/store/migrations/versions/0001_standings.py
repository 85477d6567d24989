"""inbox, outbox, qualifying activity, standings, tier history

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


def upgrade() -> None:
    create_core_tables_v1()
    op.create_table(
        "activity",
        sa.Column("source_event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spend", sa.Numeric(20, 4), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
    )
    op.create_index("ix_activity_member_time", "activity", ["member_id", "occurred_at"])
    op.create_table(
        "standings",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("tier", sa.String, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vip_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vip_plan", sa.String, nullable=True),
        sa.Column("vip_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nudged_for", sa.String, nullable=True),
    )
    op.create_index("ix_standings_review", "standings", ["review_at"])
    op.create_index("ix_standings_vip", "standings", ["vip_until"])
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("member_id", sa.String, nullable=False, index=True),
        sa.Column("from_tier", sa.String, nullable=True),
        sa.Column("to_tier", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in ("history", "standings", "activity", "outbox", "inbox"):
        op.drop_table(table)
