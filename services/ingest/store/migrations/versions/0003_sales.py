"""what each purchase sold and how much of it was refunded, so a return must find its sale and can
never refund more than it

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for receipts recorded before this revision: their returns are not capped (nothing to cap by).
    op.add_column("receipts", sa.Column("currency", sa.String(3), nullable=True))
    op.add_column("receipts", sa.Column("total_amount", sa.Numeric(20, 4), nullable=True))
    op.add_column(
        "receipts",
        sa.Column("refunded_amount", sa.Numeric(20, 4), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for column in ("refunded_amount", "total_amount", "currency"):
        op.drop_column("receipts", column)
