"""The tables the points core owns: the ledger and its projections (balances, lots), the earning rules
and what earning reads (daily totals, partner campaigns, tier steps), rewards and redemptions.

Each program package defines its own tables on this ``metadata`` (one migration chain per service).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("program_id", String(64), nullable=False, server_default="main"),
    Column("member_id", String, nullable=False, index=True),
    # earn | reverse | redeem | redeem_release | expire | adjust
    Column("kind", String(16), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("source_event_id", Uuid, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("details", JSONB, nullable=False),
    # A second guard under the inbox: one entry of each kind per source event in each program.
    UniqueConstraint("program_id", "source_event_id", "kind", name="uq_ledger_program_source_kind"),
    # What followed a purchase (returns, tier corrections, badges), read by the purchase (migration 0018).
    Index(
        "ix_ledger_by_purchase",
        text("(details->>'purchase_event_id')"),
        postgresql_where=text("kind IN ('reverse', 'adjust', 'badge')"),
    ),
)

balances = Table(
    "balances",
    metadata,
    Column("program_id", String(64), primary_key=True, server_default="main"),
    Column("member_id", String, primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

lots = Table(
    "lots",
    metadata,
    Column("lot_id", Uuid, primary_key=True),
    Column("program_id", String(64), nullable=False, server_default="main"),
    Column("member_id", String, nullable=False, index=True),
    Column("earned_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("original", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("reminded_at", DateTime(timezone=True), nullable=True),
    # A member's open lots, without the emptied ones of years past (migration 0021).
    Index("ix_lots_open", "program_id", "member_id", postgresql_where=text("remaining > 0")),
)

daily_earnings = Table(
    "daily_earnings",
    metadata,
    Column("program_id", String(64), nullable=False, server_default="main"),
    Column("member_id", String, nullable=False),
    Column("day", Date, nullable=False),  # the store's local day
    Column("points", BigInteger, nullable=False),
    PrimaryKeyConstraint("program_id", "member_id", "day"),
)

rule_sets = Table(
    "rule_sets",
    metadata,
    Column("version", Integer, Identity(always=True), primary_key=True),
    Column("program_id", String(64), nullable=False, server_default="main"),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("body", JSONB, nullable=False),
    Column("created_by", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", String, primary_key=True),
    Column("partner_id", String, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("budget_points", BigInteger, nullable=False),
    Column("funded_points", BigInteger, nullable=False, server_default="0"),
    # The body's window, so a batch reads only the campaigns its purchases fall in (migration 0022).
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False, index=True),
)

rewards = Table(
    "rewards",
    metadata,
    Column("reward_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("kind", String(16), nullable=False),  # discount_code | free_item | voucher
    Column("cost_points", BigInteger, nullable=False),
    Column("stock", BigInteger, nullable=True),  # null: unlimited
    Column("valid_from", DateTime(timezone=True), nullable=True),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("active", Boolean, nullable=False, server_default="true"),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("redemption_id", Uuid, primary_key=True),  # the POS's request id: retries are the same one
    Column("member_id", String, nullable=False, index=True),
    Column("reward_id", String, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # reserved | confirmed | cancelled | expired
    Column("takes", JSONB, nullable=False),  # which lots gave the points, to give them back
    Column("code", String, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("hold_until", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
)

tier_steps = Table(
    "tier_steps",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),  # the order told
    Column("program_id", String(64), nullable=False, server_default="main"),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("member_id", String, nullable=False, index=True),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("tier", String, nullable=False),
    Column("multiplier", Numeric(6, 2), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("corrects_from", DateTime(timezone=True), nullable=True),
)

tier_earns = Table(
    "tier_earns",
    metadata,
    Column("program_id", String(64), primary_key=True, server_default="main"),
    Column("purchase_event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("base", Numeric(30, 10), nullable=False),
    Column("rule_set_version", Integer, nullable=False),
    Column("tier", String, nullable=True),
    Column("multiplier", Numeric(6, 2), nullable=False),
    Column("line", BigInteger, nullable=False),
    Index("ix_tier_earns_member", "member_id", "occurred_at"),
)


# The loyalty programs this deployment runs side by side (``main`` from the start).
loyalty_programs = Table(
    "loyalty_programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each purchase as it came (its lines, store, channel), kept for a while so a rule set can be previewed
# against what members really bought (``VAFA_POINTS_PURCHASE_HISTORY_DAYS``).
purchase_history = Table(
    "purchase_history",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("body", JSONB, nullable=False),
)
