"""members.held: the contact fields ingest holds for the member (asked for at send time)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("members", sa.Column("held", JSONB, nullable=False, server_default="[]"))


def downgrade() -> None:
    raise NotImplementedError("forward only")
