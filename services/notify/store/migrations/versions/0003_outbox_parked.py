"""outbox_parked (rows Kafka refused for good); indexes the retention jobs delete by

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared.store.core_tables import create_core_tables_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v2()
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
