from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.config import ServiceSettings


def make_engine(settings: ServiceSettings, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size,
        # No ping before each use: SQLAlchemy's asyncpg ping is three round trips (BEGIN, a statement,
        # ROLLBACK) on every checkout, every batch and relay round. A connection the server dropped
        # fails its first statement instead; SQLAlchemy then discards every pooled connection as old
        # as it, and the failure is BUSY (``shared.store.failures``): retried, or answered 503.
        pool_pre_ping=False,
        # An error's text goes to logs and dead letters: it must not carry members' emails and phones.
        hide_parameters=True,
        # JSONB columns in C rather than the standard library's encoder (int keys kept as text, as json did).
        json_serializer=json_text,
        json_deserializer=orjson.loads,
        connect_args={
            "server_settings": {
                "application_name": f"vafa-{settings.service_name}",
                "lock_timeout": str(settings.pg_lock_timeout_ms),
                # Every statement here runs once per batch with different values: planned for its own
                # values, an array parameter (``one_of``) is a constant PostgreSQL can hash; a generic
                # plan would compare it element by element with each row a stale estimate lets through.
                "plan_cache_mode": "force_custom_plan",
            }
        },
    )


def json_text(value: object) -> str:
    """A JSONB column's value as PostgreSQL is sent it."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
