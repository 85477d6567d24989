"""loyalty programs side by side: a program id on rules, the ledger and what it projects

Every existing row is the ``main`` program's, so every balance, lot and rule set stays as it was.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TABLES = ("ledger", "balances", "lots", "daily_earnings", "rule_sets", "tier_steps", "tier_earns")


def upgrade() -> None:
    op.execute(
        "CREATE TABLE loyalty_programs (program_id varchar(64) PRIMARY KEY, config jsonb NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute("""INSERT INTO loyalty_programs (program_id, config) VALUES ('main', '{"name": "main"}')""")
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN program_id varchar(64) NOT NULL DEFAULT 'main'")
    # The same purchase earns once in each program it belongs to.
    op.execute("ALTER TABLE ledger DROP CONSTRAINT uq_ledger_source_kind")
    op.execute(
        "ALTER TABLE ledger ADD CONSTRAINT uq_ledger_program_source_kind "
        "UNIQUE (program_id, source_event_id, kind)"
    )
    for table, key in (
        ("balances", "program_id, member_id"),
        ("daily_earnings", "program_id, member_id, day"),
        ("tier_earns", "program_id, purchase_event_id"),
    ):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")


def downgrade() -> None:
    raise NotImplementedError("forward only")
