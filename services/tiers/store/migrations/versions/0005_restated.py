"""standings.restated: instants of restatements told and not voided since, so a change added before
one of them is told as a correction (else the restatement would override it downstream)

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
    op.add_column(
        "standings", sa.Column("restated", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )


def downgrade() -> None:
    raise NotImplementedError("forward only")
