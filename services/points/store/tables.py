"""The tables the points service owns."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# Append-only: every point a member ever had, and why. Balances are a projection of it.
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("member_id", String, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # earn (reverse, redeem, expire, adjust: issue 4)
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
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
