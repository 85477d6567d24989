"""Database plumbing every service shares: engine, the inbox/outbox tables, Alembic wiring."""
