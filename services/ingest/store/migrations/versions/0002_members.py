"""which chain enrolled each member, so a chain's key can change only its own members' profiles

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("chain_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("members")
