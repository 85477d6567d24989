"""tier corrections: the revision of each tier change and, for a correction, the instant from which it
voids the changes of lower revisions

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tier_changes", sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
    op.add_column("tier_changes", sa.Column("corrects_from", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("tier_changes", "corrects_from")
    op.drop_column("tier_changes", "revision")
