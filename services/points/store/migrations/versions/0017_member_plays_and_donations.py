"""a member's own game plays and donations, read by member (the member portal lists them)

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_game_plays_member", "game_plays", ["member_id", "at"])
    op.create_index("ix_donations_member", "donations", ["member_id", "at"])


def downgrade() -> None:
    raise NotImplementedError("forward only")
