from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.config import ServiceSettings


def make_engine(settings: ServiceSettings, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size,
        pool_pre_ping=True,
        # An error's text goes to logs and dead letters: it must not carry members' emails and phones.
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "application_name": f"vafa-{settings.service_name}",
                "lock_timeout": str(settings.pg_lock_timeout_ms),
            }
        },
    )
