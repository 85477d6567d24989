"""outbox ids in commit order (outbox_clock); the inbox's high-water marks per source and partition

Revision ID: 0008
Revises: 0007
"""

from shared.store.core_tables import create_core_tables_v3

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v3()


def downgrade() -> None:
    raise NotImplementedError("forward only")
