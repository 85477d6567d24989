"""The tables the tiers service owns."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.tiers.programs import MAIN

metadata = MetaData()

# Each qualifying event at its own instant: a member's history is replayed from these.
activity_events = Table(
    "activity_events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    # A purchase counts in each program it belongs to: one row in each.
    Column("program_id", String(64), primary_key=True, server_default=MAIN),
    Column("member_id", String, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("spend", Numeric(20, 4), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("visits", Integer, nullable=False),
    Index("ix_activity_events_member", "program_id", "member_id", "occurred_at"),
)

# Paid VIP membership is main's: its orders move main's standings only.
vip_orders = Table(
    "vip_orders",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("kind", String, nullable=False),
    Column("plan", String, nullable=False),
    Column("term_months", Integer, nullable=False),
)

standings = Table(
    "standings",
    metadata,
    Column("program_id", String(64), primary_key=True, server_default=MAIN),
    Column("member_id", String, primary_key=True),
    Column("tier", String, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("review_at", DateTime(timezone=True), nullable=False),
    Column("vip_until", DateTime(timezone=True), nullable=True),
    Column("vip_plan", String, nullable=True),
    Column("vip_reminded_at", DateTime(timezone=True), nullable=True),
    Column("nudged_for", String, nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),  # of what tier.changed told
    Column("settled_until", DateTime(timezone=True), nullable=True),  # how far the clock has run
    # Instants of restatements told (corrections with no change of their own) and not voided since.
    Column("restated", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # Where the next replay can resume, and under which ladder (repository.Kept); empty: from the start.
    Column("checkpoint", JSONB, nullable=True),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("program_id", String(64), nullable=False, server_default=MAIN),
    Column("member_id", String, nullable=False),
    Column("from_tier", String, nullable=True),
    Column("to_tier", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replaced_at", DateTime(timezone=True), nullable=True),  # by a correction
    Index("ix_history_member_id", "program_id", "member_id"),
)

# The loyalty programs points runs, as it told them (``loyalty_program.defined``); main is never told.
loyalty_programs = Table(
    "loyalty_programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("told_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each program's ladder, as an operator set it; main's is the deployment's setting.
ladders = Table(
    "ladders",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("ladder", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
