"""The rewards catalog and the redemptions that reserve, confirm or release its stock."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.store.tables import redemptions, rewards


async def upsert_reward(conn: AsyncConnection, reward_id: str, values: dict[str, Any]) -> None:
    upsert = insert(rewards).values(reward_id=reward_id, **values)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[rewards.c.reward_id], set_={k: upsert.excluded[k] for k in values}
        )
    )


async def catalog(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(rewards).order_by(rewards.c.cost_points, rewards.c.reward_id))
    return [dict(r._mapping) for r in rows]


async def reward_for_update(conn: AsyncConnection, reward_id: str) -> Any:
    return (
        await conn.execute(select(rewards).where(rewards.c.reward_id == reward_id).with_for_update())
    ).first()


async def move_stock(conn: AsyncConnection, reward_id: str, by: int) -> None:
    await conn.execute(
        rewards.update()
        .where(rewards.c.reward_id == reward_id, rewards.c.stock.is_not(None))
        .values(stock=rewards.c.stock + by)
    )


async def redemption_for_update(conn: AsyncConnection, redemption_id: uuid.UUID) -> Any:
    return (
        await conn.execute(
            select(redemptions).where(redemptions.c.redemption_id == redemption_id).with_for_update()
        )
    ).first()


async def redemption_member(conn: AsyncConnection, redemption_id: uuid.UUID) -> str | None:
    """Whose redemption this is (None: there is no such redemption)."""
    found: str | None = await conn.scalar(
        select(redemptions.c.member_id).where(redemptions.c.redemption_id == redemption_id)
    )
    return found


async def add_redemption(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(redemptions.insert().values(**values))


async def settle_redemption(
    conn: AsyncConnection, redemption_id: uuid.UUID, status: str, code: str | None = None
) -> None:
    await conn.execute(
        redemptions.update()
        .where(redemptions.c.redemption_id == redemption_id)
        .values(status=status, code=code, settled_at=func.now())
    )


async def held_past(conn: AsyncConnection, now: datetime | None, limit: int) -> list[uuid.UUID]:
    """Reservations still open whose hold ended by ``now``; with None, every reservation still open."""
    query = select(redemptions.c.redemption_id).where(redemptions.c.status == "reserved")
    if now is not None:
        query = query.where(redemptions.c.hold_until <= now)
    return list((await conn.execute(query.limit(limit))).scalars())
