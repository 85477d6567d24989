"""The tables the tiers service owns."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
)

metadata = MetaData()

# Qualifying activity per member and (UTC) day of the event: a late event lands on its own day.
activity_daily = Table(
    "activity_daily",
    metadata,
    Column("member_id", String, nullable=False),
    Column("day", Date, nullable=False),
    Column("spend", Numeric(20, 4), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("visits", Integer, nullable=False),
    PrimaryKeyConstraint("member_id", "day"),
)

standings = Table(
    "standings",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("tier", String, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("review_at", DateTime(timezone=True), nullable=False),
    Column("vip_until", DateTime(timezone=True), nullable=True),
    Column("vip_plan", String, nullable=True),
    Column("vip_reminded_at", DateTime(timezone=True), nullable=True),
    Column("nudged_for", String, nullable=True),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("member_id", String, nullable=False, index=True),
    Column("from_tier", String, nullable=True),
    Column("to_tier", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
