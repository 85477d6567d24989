"""member_contacts.card_no: members found by their loyalty card's number too

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("member_contacts", sa.Column("card_no", sa.String, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("forward only")
