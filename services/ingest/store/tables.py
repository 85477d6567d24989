"""The tables ingest owns."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

# Only a digest of each secret is kept; the prefix finds the row without revealing anything.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("kind", String(16), nullable=False),  # chain | partner | admin
    Column("chain_id", String, nullable=True),
    Column("store_id", String, nullable=True),
    Column("partner_id", String, nullable=True),
    Column("label", String, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # What the key may do (shared/identity.py SCOPES) and until when.
    Column("scopes", ARRAY(String), nullable=False, server_default="{events:send}"),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

# People who run the program: a name, roles, and only an argon2 hash of the password.
operators = Table(
    "operators",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("password_argon2", String, nullable=False),
    Column("roles", ARRAY(String), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

# One row per accepted submission: a retried receipt is recognised, whichever way it came in.
receipts = Table(
    "receipts",
    metadata,
    # event_id is derived from the natural key (chain/store/receipt, ...), so it identifies it.
    Column("event_id", Uuid, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("content_sha256", LargeBinary, nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # For a purchase: what it sold and what returns have refunded of it so far (refunds never exceed
    # the sale). Null total: recorded before ingest kept it, so its returns are not capped.
    Column("currency", String(3), nullable=True),
    Column("total_amount", Numeric(20, 4), nullable=True),
    Column("refunded_amount", Numeric(20, 4), nullable=False, server_default="0"),
)

# The answer given to each (key, Idempotency-Key): a retried request gets it again, verbatim.
idempotency = Table(
    "idempotency",
    metadata,
    Column("key_id", Uuid, nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("request_sha256", LargeBinary, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("key_id", "idempotency_key"),
    Index("ix_idempotency_created_at", "created_at"),  # the retention job deletes by it
)

# The chain that enrolled each member (the first enrolment wins): profile changes are scoped by it.
members = Table(
    "members",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("chain_id", String(64), nullable=False),
)

# What reaches a member (the only copy in Vafa: events name the fields, not their values), until the
# member is erased.
member_contacts = Table(
    "member_contacts",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("email", String, nullable=True),
    Column("phone", String, nullable=True),
    Column("card_no", String, nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Support staff find a member by phone or email: by the value's keyed hash, never the value.
contact_index = Table(
    "contact_index",
    metadata,
    Column("field", String(8), nullable=False),  # email | phone | card_no
    Column("digest", LargeBinary, nullable=False),
    Column("member_id", String, nullable=False),
    PrimaryKeyConstraint("field", "digest", "member_id"),
    Index("ix_contact_index_member", "member_id"),
)

# One-time sign-in codes sent to members (only a keyed hash of each), used once, within minutes.
member_codes = Table(
    "member_codes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("code_digest", LargeBinary, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_member_codes_member", "member_id", "expires_at"),
)
