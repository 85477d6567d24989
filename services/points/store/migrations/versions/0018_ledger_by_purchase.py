"""the entries that follow a purchase (returns, tier corrections, badges) found by the purchase

Every batch with a return or a tier change reads them by ``details->>'purchase_event_id'``; the index
covered returns only, so the reads that also take corrections (or badges) scanned the whole ledger,
a cost that grew with every entry ever written.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_ledger_by_purchase ON ledger ((details->>'purchase_event_id')) "
        "WHERE kind IN ('reverse', 'adjust', 'badge')"
    )
    op.drop_index("ix_ledger_reversed_purchase", table_name="ledger")


def downgrade() -> None:
    raise NotImplementedError("forward only")
