"""inbox, outbox, api keys, accepted receipts, idempotency answers

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
        "api_keys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_sha256", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("chain_id", sa.String, nullable=True),
        sa.Column("store_id", sa.String, nullable=True),
        sa.Column("partner_id", sa.String, nullable=True),
        sa.Column("label", sa.String, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "receipts",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content_sha256", sa.LargeBinary, nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "idempotency",
        sa.Column("key_id", sa.Uuid, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_sha256", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("key_id", "idempotency_key"),
    )


def downgrade() -> None:
    for table in ("idempotency", "receipts", "api_keys", "outbox", "inbox"):
        op.drop_table(table)
