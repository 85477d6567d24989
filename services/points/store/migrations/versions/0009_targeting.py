"""targeted promotions: members' segments, and who each promotion chose

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
    op.create_table(
        "member_segments",
        sa.Column("member_id", sa.String, primary_key=True),
        sa.Column("segment", sa.String, nullable=False),
        sa.Column("rfm_label", sa.String, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "promotion_members",
        sa.Column("promotion", sa.String(100), nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("group", sa.String(16), nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("promotion", "member_id"),
    )
    op.create_index("ix_promotion_members_member", "promotion_members", ["member_id"])


def downgrade() -> None:
    op.drop_table("promotion_members")
    op.drop_table("member_segments")
