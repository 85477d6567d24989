"""a batch reads the partner campaigns its purchases fall in, not every campaign ever announced

Each batch of purchases read (and locked, for their budgets) every row of ``campaigns`` and parsed its
body: a partner brand's weekly campaigns are hundreds of rows a year, most of them long over. The
window moves from the body into columns, and an index on ``ends_at`` leaves the ended ones out.

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE campaigns ADD COLUMN starts_at timestamptz, ADD COLUMN ends_at timestamptz")
    op.execute(
        "UPDATE campaigns SET starts_at = (body->>'starts_at')::timestamptz, "
        "ends_at = (body->>'ends_at')::timestamptz"
    )
    op.execute("ALTER TABLE campaigns ALTER COLUMN starts_at SET NOT NULL, ALTER COLUMN ends_at SET NOT NULL")
    op.execute("CREATE INDEX ix_campaigns_ends_at ON campaigns (ends_at)")


def downgrade() -> None:
    raise NotImplementedError("forward only")
