"""audit_log: every operator write, append-only

Revision ID: 0012
Revises: 0011
"""

from shared.store.core_tables import create_audit_log_v1

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1()


def downgrade() -> None:
    raise NotImplementedError("forward only")
