"""instant-win games: their committed seeds, budgets and stock, and every play for the audit

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "games",
        sa.Column("game_id", sa.String(64), primary_key=True),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("seed", sa.LargeBinary, nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("budget_left", sa.BigInteger, nullable=False),
        sa.Column("stock_left", JSONB, nullable=False),
    )
    op.create_table(
        "game_plays",
        sa.Column("play_id", sa.Uuid, primary_key=True),
        sa.Column("game_id", sa.String(64), sa.ForeignKey("games.game_id"), nullable=False),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("purchase_event_id", sa.Uuid, nullable=False),
        sa.Column("proof", sa.String(64), nullable=False),
        sa.Column("prize", sa.String(100), nullable=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_game_plays_game", "game_plays", ["game_id", "at"])


def downgrade() -> None:
    op.drop_table("game_plays")
    op.drop_table("games")
