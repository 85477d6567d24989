"""Reads and writes of the tiers store, inside the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import Activity, Change, Standing
from services.tiers.store.tables import activity_daily, history, standings


async def add_activity(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Add each event's spend, points and visits to its member's day (the inbox saw to duplicates)."""
    days: dict[tuple[str, date], list[Any]] = {}
    for row in rows:
        day = days.setdefault((row["member_id"], row["occurred_at"].astimezone(UTC).date()), [0, 0, 0])
        day[0] += row["spend"]
        day[1] += row["points"]
        day[2] += row["visits"]
    if not days:
        return
    upsert = insert(activity_daily)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[activity_daily.c.member_id, activity_daily.c.day],
            set_={
                "spend": activity_daily.c.spend + upsert.excluded.spend,
                "points": activity_daily.c.points + upsert.excluded.points,
                "visits": activity_daily.c.visits + upsert.excluded.visits,
            },
        ),
        [
            {"member_id": m, "day": d, "spend": v[0], "points": v[1], "visits": v[2]}
            for (m, d), v in sorted(days.items())
        ],
    )


async def activity_between(
    conn: AsyncConnection, members: Iterable[str], start: datetime, end: datetime
) -> dict[str, list[Activity]]:
    a = activity_daily.c
    rows = await conn.execute(
        select(a.member_id, a.day, a.spend, a.points, a.visits)
        .where(a.member_id.in_(sorted(set(members))), a.day >= start.date(), a.day <= end.date())
        .order_by(a.day)
    )
    found: dict[str, list[Activity]] = defaultdict(list)
    for member, day, spend, points, visits in rows:
        found[member].append(Activity(day, spend, points, visits))
    return found


async def load_standings(conn: AsyncConnection, members: Iterable[str]) -> dict[str, Standing]:
    rows = await conn.execute(
        select(standings)
        .where(standings.c.member_id.in_(sorted(set(members))))
        .order_by(standings.c.member_id)
        .with_for_update()
    )
    return {r.member_id: Standing(r.tier, r.since, r.review_at, r.vip_until, r.nudged_for) for r in rows}


async def save_standings(conn: AsyncConnection, found: dict[str, Standing], plans: dict[str, str]) -> None:
    if not found:
        return
    upsert = insert(standings)
    values = ["tier", "since", "review_at", "vip_until", "nudged_for"]
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[standings.c.member_id],
            set_={
                **{k: upsert.excluded[k] for k in values},
                **({"vip_plan": upsert.excluded.vip_plan} if plans else {}),
            },
        ),
        [
            {
                "member_id": m,
                "tier": s.tier,
                "since": s.since,
                "review_at": s.review_at,
                "vip_until": s.vip_until,
                "nudged_for": s.nudged_for,
                **({"vip_plan": plans.get(m)} if plans else {}),
            }
            for m, s in sorted(found.items())
        ],
    )


async def add_history(conn: AsyncConnection, changes: Sequence[tuple[str, Change]]) -> None:
    if changes:
        await conn.execute(
            history.insert(),
            [
                {
                    "member_id": m,
                    "from_tier": c.from_tier,
                    "to_tier": c.to_tier,
                    "reason": c.reason,
                    "at": c.at,
                }
                for m, c in changes
            ],
        )


async def due_for_review(conn: AsyncConnection, reviewed_before: datetime, limit: int) -> list[str]:
    rows = await conn.execute(
        select(standings.c.member_id).where(standings.c.review_at <= reviewed_before).limit(limit)
    )
    return list(rows.scalars())


async def memberships_ended(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, str | None]]:
    rows = await conn.execute(
        select(standings.c.member_id, standings.c.vip_plan).where(standings.c.vip_until <= now).limit(limit)
    )
    return [(m, p) for m, p in rows]


async def memberships_ending(
    conn: AsyncConnection, now: datetime, until: datetime, limit: int
) -> list[tuple[str, str | None, datetime]]:
    rows = await conn.execute(
        select(standings.c.member_id, standings.c.vip_plan, standings.c.vip_until)
        .where(
            standings.c.vip_until > now, standings.c.vip_until <= until, standings.c.vip_reminded_at.is_(None)
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(m, p, u) for m, p, u in rows]


async def mark_vip_reminded(conn: AsyncConnection, members: list[str], now: datetime) -> None:
    await conn.execute(
        standings.update().where(standings.c.member_id.in_(members)).values(vip_reminded_at=now)
    )


async def standing_of(conn: AsyncConnection, member: str) -> Any:
    return (await conn.execute(select(standings).where(standings.c.member_id == member))).first()


async def history_of(
    conn: AsyncConnection, member: str, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(history.c.from_tier, history.c.to_tier, history.c.reason, history.c.at)
        .where(history.c.member_id == member)
        .order_by(history.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def activity_row(
    member: str, at: datetime, *, spend: Decimal = Decimal(0), points: int = 0, visits: int = 0
) -> dict[str, Any]:
    return {"member_id": member, "occurred_at": at, "spend": spend, "points": points, "visits": visits}
