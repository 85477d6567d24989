"""loyalty programs: a standing, a history and qualifying activity per (program, member); the programs
points runs (as it told them), a ladder per program an operator sets, and the audit log of those writes.
What was here before is main's.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared.store.core_tables import create_audit_log_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1()
    for table in ("activity_events", "standings", "history"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN program_id varchar(64) NOT NULL DEFAULT 'main'")
    # One purchase counts once in each program it belongs to; a member stands once in each.
    for table, key in (("activity_events", "event_id, program_id"), ("standings", "program_id, member_id")):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")
    op.execute("DROP INDEX ix_activity_events_member")
    op.execute(
        "CREATE INDEX ix_activity_events_member ON activity_events (program_id, member_id, occurred_at)"
    )
    op.execute("DROP INDEX ix_history_member_id")
    op.execute("CREATE INDEX ix_history_member_id ON history (program_id, member_id)")
    op.execute(
        "CREATE TABLE loyalty_programs (program_id varchar(64) PRIMARY KEY, config jsonb NOT NULL, "
        "told_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute(
        "CREATE TABLE ladders (program_id varchar(64) PRIMARY KEY, ladder jsonb NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    raise NotImplementedError("forward only")
