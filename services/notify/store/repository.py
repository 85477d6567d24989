"""Reads of notify's own tables that more than one part of the service needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notify.store.tables import members
from shared.store.bulk import one_of


async def profiles_of(conn: AsyncConnection, member_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The contact profile (addresses, locale, zone, consents) of each of these members notify knows."""
    wanted = sorted(set(member_ids))
    if not wanted:
        return {}
    rows = await conn.execute(select(members).where(one_of(members.c.member_id, wanted)))
    return {r.member_id: dict(r._mapping) for r in rows}
