"""referrals per loyalty program: each program's terms, and each referral's standing in each program

The terms stored before are main's; every referral is main's.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE referral_program ALTER COLUMN program TYPE varchar(64)")
    op.execute("UPDATE referral_program SET program = 'main' WHERE program = 'default'")
    op.execute("ALTER TABLE referrals ADD COLUMN program_id varchar(64) NOT NULL DEFAULT 'main'")
    op.execute("ALTER TABLE referrals DROP CONSTRAINT referrals_pkey")
    op.execute("ALTER TABLE referrals ADD PRIMARY KEY (program_id, friend_id)")


def downgrade() -> None:
    raise NotImplementedError("forward only")
