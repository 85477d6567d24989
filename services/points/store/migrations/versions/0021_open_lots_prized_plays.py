"""reads a batch makes found by index, not by every row the member or the store ever had

- a member's open lots (returns, tier corrections and redemptions take from them): the index on
  ``member_id`` visited every lot the member ever earned, emptied ones too, to drop those with nothing
  left; a regular's emptied lots are years of purchases.
- the prizes won on the purchases a batch's returns refer to: ``game_plays`` had no index on the
  purchase, so every batch with a return read every play ever made.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_lots_open ON lots (program_id, member_id) WHERE remaining > 0")
    op.execute("CREATE INDEX ix_game_plays_prized ON game_plays (purchase_event_id) WHERE points > 0")


def downgrade() -> None:
    raise NotImplementedError("forward only")
