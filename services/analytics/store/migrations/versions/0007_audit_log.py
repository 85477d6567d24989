"""audit_log: operator writes (re-drives from the ops API), append-only

Revision ID: 0007
Revises: 0006
"""

from shared.store.core_tables import create_audit_log_v1

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1()


def downgrade() -> None:
    raise NotImplementedError("forward only")
