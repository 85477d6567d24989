"""member_contacts.birth_date: the member's birth date, kept (exported, erased) with the contact data

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("member_contacts", sa.Column("birth_date", sa.Date, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("forward only")
