"""time-limited programs: when the program ends, reminders sent, and when it was closed

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "program_ends",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "program_reminders",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.PrimaryKeyConstraint("program_id", "days", "member_id"),
    )


def downgrade() -> None:
    op.drop_table("program_reminders")
    op.drop_table("program_ends")
