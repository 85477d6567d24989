"""outbox_parked (rows Kafka refused for good); the index the inbox retention deletes by

Revision ID: 0011
Revises: 0010
"""

from shared.store.core_tables import create_core_tables_v2

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v2()


def downgrade() -> None:
    raise NotImplementedError("forward only")
