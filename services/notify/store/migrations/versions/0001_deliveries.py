"""inbox, outbox, member contact projection, delivery log

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.store.core_tables import create_core_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v1()
    op.create_table(
        "members",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("email", sa.String, nullable=True),
        sa.Column("phone", sa.String, nullable=True),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("consents", JSONB, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("source_event_id", sa.Uuid, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("source_type", sa.String, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String, nullable=False, server_default=""),
        sa.Column("address", sa.String, nullable=True),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source_event_id", "channel"),
    )
    op.create_index(
        "ix_deliveries_due", "deliveries", ["send_after"], postgresql_where=sa.text("status = 'queued'")
    )


def downgrade() -> None:
    for table in ("deliveries", "members", "outbox", "inbox"):
        op.drop_table(table)
