"""The tables the notify service owns."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# Who to reach and how, from member.enrolled / member.profile_changed. Addresses ingest holds are
# named in ``held`` and asked for when a message goes out; ``email``/``phone`` keep only what older
# events carried themselves. Erased: blanked, and nothing later brings them back but a new profile.
members = Table(
    "members",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("email", String, nullable=True),
    Column("phone", String, nullable=True),
    Column("held", JSONB, nullable=False, server_default="[]"),
    Column("locale", String(2), nullable=False),
    Column("timezone", String, nullable=False),
    Column("consents", JSONB, nullable=False),
)

# One row per (event, channel): a redelivered event finds its row and sends nothing twice.
deliveries = Table(
    "deliveries",
    metadata,
    Column("source_event_id", Uuid, nullable=False),
    Column("channel", String(80), nullable=False),  # email | sms | webhook:<name>
    Column("member_id", String, nullable=False),
    Column("source_type", String, nullable=False),
    Column("status", String(16), nullable=False),  # queued | sent | failed | suppressed
    Column("reason", String, nullable=False, server_default=""),
    Column("address", String, nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("send_after", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("source_event_id", "channel"),
    Index("ix_deliveries_member_day", "member_id", "send_after"),
    Index("ix_deliveries_created_at", "created_at"),  # the retention job deletes by it
)
