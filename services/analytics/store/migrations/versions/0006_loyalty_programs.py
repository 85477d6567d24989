"""loyalty programs side by side: the registry of programs points runs, and the program of each points
move, tier change and segment

Every existing row is the ``main`` program's (the only one there was), so today's figures stay as they were.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _program() -> sa.Column[str]:
    return sa.Column("program_id", sa.String(64), nullable=False, server_default="main")


def upgrade() -> None:
    op.create_table(
        "loyalty_programs",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("chains", ARRAY(sa.String), nullable=False),
        sa.Column("partners", ARRAY(sa.String), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("defined_at", sa.DateTime(timezone=True), nullable=False),
    )
    for table in ("points_moves", "tier_changes", "member_segments"):
        op.add_column(table, _program())
    op.create_index("ix_points_moves_program", "points_moves", ["program_id", "occurred_at"])
    op.drop_index("ix_tier_changes_member", "tier_changes")
    op.create_index("ix_tier_changes_member", "tier_changes", ["program_id", "member_id", "effective_from"])
    # A member has a segment in each program they buy in.
    op.drop_constraint("member_segments_pkey", "member_segments")
    op.create_primary_key("member_segments_pkey", "member_segments", ["program_id", "member_id"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
