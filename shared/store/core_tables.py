"""The inbox and outbox every consuming service keeps in its own database.

inbox: one row per event already handled, so a redelivered event has no second effect; for events
    another Vafa service published (they carry their outbox's source and sequence), one high-water mark
    per source, topic and partition instead (``inbox_high_water``).
outbox: events to publish, written in the same transaction as the state change they describe, numbered
    in commit order by ``outbox_clock``.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

CORE_METADATA = MetaData()

INBOX = Table(
    "inbox",
    CORE_METADATA,
    Column("event_id", Uuid, primary_key=True),
    Column("topic", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | dead_lettered
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_inbox_processed_at", "processed_at"),
)

OUTBOX = Table(
    "outbox",
    CORE_METADATA,
    # From outbox_clock, in commit order (a sequence's numbers are taken in one order and committed in
    # another): the relay publishes by id, so a consumer may take a lower id after a higher one for a
    # duplicate.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("topic", String, nullable=False),
    Column("key", LargeBinary, nullable=True),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row: this database's identity as a source of events (a rebuilt database is a new source, so its
# numbering starting again is not taken for duplicates) and the last outbox id given out. A transaction
# takes its ids from it just before it commits and holds its row until then, so ids are given in
# commit order.
OUTBOX_CLOCK = Table(
    "outbox_clock",
    CORE_METADATA,
    Column("one", Boolean, primary_key=True, server_default=text("true")),
    Column("source", Uuid, nullable=False, server_default=func.gen_random_uuid()),
    Column("last_id", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("one", name="outbox_clock_one_row"),
)
event.listen(OUTBOX_CLOCK, "after_create", DDL("INSERT INTO outbox_clock DEFAULT VALUES"))  # type: ignore[no-untyped-call]

# The last outbox id applied (or dead-lettered) of each source on each topic partition: a record at or
# below it is a duplicate. A source publishes its outbox in id order and a partition keeps that order.
INBOX_HIGH_WATER = Table(
    "inbox_high_water",
    CORE_METADATA,
    Column("source", Uuid, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    # What last_id was before the transaction that last moved it (NULL: that transaction created the
    # row), so one upsert both moves the marks and returns them as they were.
    Column("previous_id", BigInteger, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Rows Kafka refused for good (too large for the broker, a topic that cannot exist): set aside with the
# reason so the rows behind them flow, and kept for an operator to inspect or publish by hand.
OUTBOX_PARKED = Table(
    "outbox_parked",
    CORE_METADATA,
    Column("id", BigInteger, primary_key=True),  # the outbox id it had
    Column("topic", String, nullable=False),
    Column("key", LargeBinary, nullable=True),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("reason", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


# Every operator write, append-only: who (the credential's principal), what, on what, when, and the
# state before and after. Kept in the database the write changed, in the same transaction.
AUDIT_LOG = Table(
    "audit_log",
    CORE_METADATA,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target", String, nullable=False),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=True),
    Index("ix_audit_log_actor_at", "actor", "at"),
    Index("ix_audit_log_action_at", "action", "at"),
)


def create_core_tables_v1() -> None:
    """Called from each service's first Alembic migration; spelled out so later changes to the
    table objects above arrive through new migrations, never by rewriting this one."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def create_core_tables_v2() -> None:
    """Each service's migration after its last: the relay's parking table, and the index the inbox's
    retention job deletes by."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox_parked",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def create_core_tables_v3() -> None:
    """Each service's migration after its last: outbox ids given in commit order from ``outbox_clock``
    (after every id the identity gave, parked ones included), and the inbox's high-water marks."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox_clock",
        sa.Column("one", sa.Boolean, primary_key=True, server_default=sa.text("true")),
        sa.Column("source", sa.Uuid, nullable=False, server_default=sa.func.gen_random_uuid()),
        sa.Column("last_id", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint("one", name="outbox_clock_one_row"),
    )
    op.execute(
        "INSERT INTO outbox_clock (last_id) SELECT GREATEST("
        "(SELECT coalesce(max(id), 0) FROM outbox), (SELECT coalesce(max(id), 0) FROM outbox_parked), "
        "coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'id')), 0))"
    )
    op.execute("ALTER TABLE outbox ALTER COLUMN id DROP IDENTITY")
    op.create_table(
        "inbox_high_water",
        sa.Column("source", sa.Uuid, primary_key=True),
        sa.Column("topic", sa.String, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("previous_id", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def create_audit_log_v1() -> None:
    """The migration of a service whose operators write (points, ingest): its audit log, which no role
    may change (a trigger refuses UPDATE and DELETE, so an append-only log stays one)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
