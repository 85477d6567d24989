"""qualifying activity in daily buckets: a window sums at most a year of days, however often a member shops

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
        "activity_daily",
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("spend", sa.Numeric(20, 4), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "day"),
    )
    op.execute(
        "INSERT INTO activity_daily SELECT member_id, (occurred_at AT TIME ZONE 'UTC')::date, "
        "sum(spend), sum(points), sum(visits) FROM activity GROUP BY 1, 2"
    )
    op.drop_table("activity")


def downgrade() -> None:
    raise NotImplementedError("daily buckets cannot be split back into events")
