"""Alembic wiring shared by every service: one env.py body, one upgrade entry point."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


# pg_advisory_lock key: replicas of a service starting together migrate one after the other.
_MIGRATION_LOCK = 0x76616D67


async def upgrade_async(migrations_dir: Path, database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                # Alembic's env runs its own event loop; keep it off the caller's.
                await asyncio.to_thread(upgrade, migrations_dir, database_url)
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
    finally:
        await engine.dispose()


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode, asyncpg)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by shared.store.migrate.alembic_config"

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())
