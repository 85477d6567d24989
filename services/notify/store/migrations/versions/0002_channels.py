"""channels beyond email: webhook channel names are longer; the frequency cap counts by member

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
    op.alter_column("deliveries", "channel", type_=sa.String(80))
    op.create_index("ix_deliveries_member_day", "deliveries", ["member_id", "send_after"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_member_day")
    op.alter_column("deliveries", "channel", type_=sa.String(16))
