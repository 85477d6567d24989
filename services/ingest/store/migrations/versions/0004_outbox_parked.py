"""outbox_parked (rows Kafka refused for good); indexes the retention jobs delete by

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from shared.store.core_tables import create_core_tables_v2

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v2()
    op.create_index("ix_idempotency_created_at", "idempotency", ["created_at"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
