"""event time for real: each event kept with its instant (a replay of a member's events gives their
history whatever the arrival order), paid-membership orders, the revision of what was told, and
history rows a correction replaced

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
        "activity_events",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spend", sa.Numeric(20, 4), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
    )
    op.create_index("ix_activity_events_member", "activity_events", ["member_id", "occurred_at"])
    # Daily buckets have lost their events' instants: each day becomes one event at its midnight.
    # `python -m shared.repair rebuild` recomputes the exact history from the topics.
    op.execute(
        "INSERT INTO activity_events SELECT md5(member_id || day::text)::uuid, member_id, "
        "day::timestamp AT TIME ZONE 'UTC', spend, points, visits FROM activity_daily"
    )
    op.drop_table("activity_daily")
    op.create_table(
        "vip_orders",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False, index=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("plan", sa.String, nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
    )
    op.add_column("standings", sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
    op.add_column("standings", sa.Column("settled_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("history", sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("events cannot be put back into daily buckets without losing their instants")
