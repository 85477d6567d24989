"""tiers in event time: every tier.changed kept as a step (a purchase earns with the tier held just
before it; corrections void steps), and the tier line each purchase earned, to correct it

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_steps",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("member_id", sa.String, nullable=False, index=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tier", sa.String, nullable=False),
        sa.Column("multiplier", sa.Numeric(6, 2), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("corrects_from", sa.DateTime(timezone=True), nullable=True),
    )
    # The tier each member was last told of becomes their one step, from when it took effect.
    op.execute(
        "INSERT INTO tier_steps (event_id, member_id, effective_from, tier, multiplier, revision) "
        "SELECT md5('tier:' || member_id)::uuid, member_id, since, tier, multiplier, 0 FROM member_tiers"
    )
    op.drop_table("member_tiers")
    op.create_table(
        "tier_earns",
        sa.Column("purchase_event_id", sa.Uuid, primary_key=True),
        sa.Column("member_id", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("base", sa.Numeric(30, 10), nullable=False),
        sa.Column("rule_set_version", sa.Integer, nullable=False),
        sa.Column("tier", sa.String, nullable=True),
        sa.Column("multiplier", sa.Numeric(6, 2), nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_tier_earns_member", "tier_earns", ["member_id", "occurred_at"])


def downgrade() -> None:
    raise NotImplementedError("steps cannot be folded back into one tier per member")
