"""member_codes: one-time sign-in codes for members (keyed hashes only)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_codes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("code_digest", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_member_codes_member", "member_codes", ["member_id", "expires_at"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
