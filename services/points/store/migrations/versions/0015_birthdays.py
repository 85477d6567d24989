"""birthdays: each member's birthday (month and day) and zone, the birthday bonus each tier step carried

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "birthdays",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("month", sa.SmallInteger, nullable=True),
        sa.Column("day", sa.SmallInteger, nullable=True),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("paid_on", sa.Date, nullable=True),
    )
    op.create_index("ix_birthdays_day", "birthdays", ["month", "day"])
    op.create_table(
        "birthday_tier_bonuses",
        sa.Column("tier_event_id", sa.Uuid, primary_key=True),
        sa.Column("points", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("forward only")
