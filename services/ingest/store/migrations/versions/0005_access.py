"""access: API keys get scopes and an expiry; operator accounts; the audit log

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from shared.store.core_tables import create_audit_log_v1

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys made before scopes existed could send events, and only that: they keep exactly it.
    op.add_column(
        "api_keys", sa.Column("scopes", ARRAY(sa.String), nullable=False, server_default="{events:send}")
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "operators",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("password_argon2", sa.String, nullable=False),
        sa.Column("roles", ARRAY(sa.String), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    create_audit_log_v1()


def downgrade() -> None:
    raise NotImplementedError("forward only")
