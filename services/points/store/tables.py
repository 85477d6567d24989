"""The tables the points service owns."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# Append-only: every point a member ever had, and why. Balances and lots are projections of it.
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("member_id", String, nullable=False, index=True),
    # earn | reverse | redeem | redeem_release | expire | adjust
    Column("kind", String(16), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("source_event_id", Uuid, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("details", JSONB, nullable=False),
    # A second guard under the inbox: one entry of each kind per source event.
    UniqueConstraint("source_event_id", "kind", name="uq_ledger_source_kind"),
)

balances = Table(
    "balances",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each earn is a lot; debits take from the oldest lots first, and expiry empties lots past their date.
lots = Table(
    "lots",
    metadata,
    Column("lot_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False, index=True),
    Column("earned_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("original", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("reminded_at", DateTime(timezone=True), nullable=True),
)

daily_earnings = Table(
    "daily_earnings",
    metadata,
    Column("member_id", String, nullable=False),
    Column("day", Date, nullable=False),  # the store's local day
    Column("points", BigInteger, nullable=False),
    PrimaryKeyConstraint("member_id", "day"),
)

rule_sets = Table(
    "rule_sets",
    metadata,
    Column("version", Integer, Identity(always=True), primary_key=True),
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

# Every tier.changed the tiers service sent, as a step of the member's tier over (event) time.
tier_steps = Table(
    "tier_steps",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),  # the order told
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("member_id", String, nullable=False, index=True),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("tier", String, nullable=False),
    Column("multiplier", Numeric(6, 2), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("corrects_from", DateTime(timezone=True), nullable=True),
)

# The tier line each purchase earned (and the base it applies to), for tier corrections.
tier_earns = Table(
    "tier_earns",
    metadata,
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

# Value-based program: causes members give points to; the brand may match up to a budget.
causes = Table(
    "causes",
    metadata,
    Column("cause_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("match_ratio", Numeric(4, 2), nullable=False),  # brand points per point given
    Column("match_budget", BigInteger, nullable=False),
    Column("matched_total", BigInteger, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False),
)

# The cause ledger: what each donation gave and what the brand added to it.
donations = Table(
    "donations",
    metadata,
    Column("donation_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("cause_id", String(64), ForeignKey("causes.cause_id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("matched", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_donations_cause", "cause_id", "at"),
)

# Game-based program: the seed is secret until the game ends; its SHA-256 is published at creation.
games = Table(
    "games",
    metadata,
    Column("game_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("seed", LargeBinary, nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("budget_left", BigInteger, nullable=False),
    Column("stock_left", JSONB, nullable=False),  # prize name -> left (null: unlimited)
)

# Every play, won or not, with its proof: the audit log a regulator can recompute.
game_plays = Table(
    "game_plays",
    metadata,
    Column("play_id", Uuid, primary_key=True),
    Column("game_id", String(64), ForeignKey("games.game_id"), nullable=False),
    Column("member_id", String, nullable=False),
    Column("purchase_event_id", Uuid, nullable=False),
    Column("proof", String(64), nullable=False),
    Column("prize", String(100), nullable=True),
    Column("points", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_game_plays_game", "game_id", "at"),
)

# Time-limited programs: when this deployment's program ends, and when its balances were settled.
program_ends = Table(
    "program_ends",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)

# Each reminder once per member.
program_reminders = Table(
    "program_reminders",
    metadata,
    Column("program_id", String(64), nullable=False),
    Column("days", Integer, nullable=False),
    Column("member_id", String, nullable=False),
    PrimaryKeyConstraint("program_id", "days", "member_id"),
)

# Challenges and badges: each member's marks (days visited, categories bought) per challenge and month.
challenges = Table(
    "challenges",
    metadata,
    Column("challenge_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
)

challenge_progress = Table(
    "challenge_progress",
    metadata,
    Column("challenge_id", String(64), nullable=False),
    Column("member_id", String, nullable=False),
    Column("period", String(7), nullable=False),
    Column("seen", JSONB, nullable=False),
    Column("completed", Boolean, nullable=False),
    PrimaryKeyConstraint("challenge_id", "member_id", "period"),
)

# Referrals: each member's code, and each friend's referral with where it stands.
referral_codes = Table(
    "referral_codes",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
)

referrals = Table(
    "referrals",
    metadata,
    Column("friend_id", String, primary_key=True),  # a member is referred once, by the first code
    Column("referrer_id", String, nullable=True),  # null when the code was unknown
    Column("code", String(64), nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending | rewarded | refused | lapsed
    Column("reason", String, nullable=False, server_default=""),
    Column("purchase_event_id", Uuid, nullable=True),
    Column("rewarded_at", DateTime(timezone=True), nullable=True),
    Index("ix_referrals_referrer", "referrer_id"),
    Index("ix_referrals_pending", "status", "enrolled_at"),
)

# The referral program's terms (one row: this deployment's program).
referral_program = Table(
    "referral_program",
    metadata,
    Column("program", String(16), primary_key=True),
    Column("config", JSONB, nullable=False),
)

# Targeted promotions: members' segments as analytics last said, and who each promotion chose.
member_segments = Table(
    "member_segments",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("segment", String, nullable=False),
    Column("rfm_label", String, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

promotion_members = Table(
    "promotion_members",
    metadata,
    Column("promotion", String(100), nullable=False),
    Column("member_id", String, nullable=False),
    Column("group", String(16), nullable=False),  # treatment | holdout
    Column("reason", String, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("promotion", "member_id"),
    Index("ix_promotion_members_member", "member_id"),
)
