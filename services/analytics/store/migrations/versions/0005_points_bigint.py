"""points_moves.points and .funded as bigint: one large IRR purchase at the default rate overflows int

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("points", "funded"):
        op.alter_column("points_moves", column, type_=sa.BigInteger, existing_nullable=False)


def downgrade() -> None:
    raise NotImplementedError("forward only")
