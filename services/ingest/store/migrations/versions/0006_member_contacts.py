"""member_contacts and contact_index: contact data kept here, off the bus

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_contacts",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("email", sa.String, nullable=True),
        sa.Column("phone", sa.String, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "contact_index",
        sa.Column("field", sa.String(8), nullable=False),
        sa.Column("digest", sa.LargeBinary, nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.PrimaryKeyConstraint("field", "digest", "member_id"),
    )
    op.create_index("ix_contact_index_member", "contact_index", ["member_id"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
