"""The tables the analytics service owns: one table of facts per kind of event, and members' segments."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY

metadata = MetaData()


def _at() -> Column[object]:
    return Column("occurred_at", DateTime(timezone=True), nullable=False)


def _program() -> Column[str]:
    """The loyalty program a fact belongs to; facts from before programs existed are main's."""
    return Column("program_id", String(64), nullable=False, server_default="main")


purchases = Table(
    "purchases",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("chain_id", String, nullable=False),
    Column("store_id", String, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(20, 4), nullable=False),
    Column("units", Numeric(20, 3), nullable=True),  # null when the POS sent no lines
    _at(),
    Index("ix_purchases_at", "occurred_at"),
    Index("ix_purchases_member", "member_id", "occurred_at"),
)

returns = Table(
    "returns",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("chain_id", String, nullable=False),
    Column("store_id", String, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("refund", Numeric(20, 4), nullable=False),
    Column("original_event_id", Uuid, nullable=False),
    _at(),
    Index("ix_returns_at", "occurred_at"),
)

partner_purchases = Table(
    "partner_purchases",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("partner_id", String, nullable=False),
    Column("member_id", String, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(20, 4), nullable=False),
    _at(),
)

members = Table(
    "members",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("chain_id", String, nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
)

points_moves = Table(
    "points_moves",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    _program(),
    Column("member_id", String, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("points", BigInteger, nullable=False),  # signed as it moves the balance
    Column("funded", BigInteger, nullable=False),  # of which a partner's campaign paid
    _at(),
    Index("ix_points_moves_at", "occurred_at"),
    Index("ix_points_moves_program", "program_id", "occurred_at"),
)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    _program(),  # each program has its own ladder
    Column("member_id", String, nullable=False),
    Column("from_tier", String, nullable=True),
    Column("to_tier", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    # A correction (corrects_from set) voids the changes of lower revisions from that instant on.
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("corrects_from", DateTime(timezone=True), nullable=True),
    Index("ix_tier_changes_member", "program_id", "member_id", "effective_from"),
)

vip_orders = Table(
    "vip_orders",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("chain_id", String, nullable=False),
    Column("kind", String(16), nullable=False),  # purchased | renewed | cancelled
    Column("plan", String, nullable=False),
    Column("fee", Numeric(20, 4), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("term_months", Integer, nullable=False),
    _at(),
)

notifications = Table(
    "notifications",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("channel", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source_type", String, nullable=False),
    _at(),
)

# Who each targeted promotion chose, and into which group (treatment or holdout), for its lift.
promotion_members = Table(
    "promotion_members",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("promotion", String, nullable=False),
    Column("member_id", String, nullable=False),
    Column("group", String(16), nullable=False),
    _at(),
    Index("ix_promotion_members_promotion", "promotion", "group"),
)

# Each customer's segment in each program as last computed, so only changes are emitted as segment.changed.
member_segments = Table(
    "member_segments",
    metadata,
    Column("program_id", String(64), primary_key=True, server_default="main"),
    Column("member_id", String, primary_key=True),
    Column("segment", String(16), nullable=False),
    Column("rfm", String(3), nullable=False),
    Column("rfm_label", String(16), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# The loyalty programs points runs beside main, as last defined (loyalty_program.defined); main, open to
# every chain, is implicit. A program's purchases are those at its chains (every chain when it lists none).
loyalty_programs = Table(
    "loyalty_programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("chains", ARRAY(String), nullable=False),
    Column("partners", ARRAY(String), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("defined_at", DateTime(timezone=True), nullable=False),
)

FACT_TABLES = {
    t.name: t
    for t in (
        purchases,
        returns,
        partner_purchases,
        members,
        points_moves,
        tier_changes,
        vip_orders,
        notifications,
        promotion_members,
    )
}
