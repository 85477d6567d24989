"""The birthday tables: each member's birthday and zone, the birthday bonus each tier step carried, and
the bonuses the ledger already paid."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Index, SmallInteger, String, Table, Uuid, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.programs.birthday.domain import Birthday
from services.points.store.tables import ledger, metadata, tier_steps
from shared.store.bulk import one_of

birthdays = Table(
    "birthdays",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("month", SmallInteger, nullable=True),  # null: the member gave no birthday (yet)
    Column("day", SmallInteger, nullable=True),
    Column("timezone", String, nullable=False),
    Column("paid_on", Date, nullable=True),  # the local day of the last bonus paid: the job's bookmark
    Index("ix_birthdays_day", "month", "day"),
)

# tier.changed's benefits.birthday_bonus, by the event that told it (tier_steps.event_id); a step
# without a row carries none. Kept here, not on tier_steps: the ledger never needs it.
birthday_tier_bonuses = Table(
    "birthday_tier_bonuses",
    metadata,
    Column("tier_event_id", Uuid, primary_key=True),
    Column("points", BigInteger, nullable=False),
)


def _birthday(row: Any) -> Birthday:
    return Birthday(row.member_id, row.month, row.day, row.timezone)


async def birthdays_of(conn: AsyncConnection, members: Iterable[str]) -> dict[str, Birthday]:
    rows = await conn.execute(select(birthdays).where(one_of(birthdays.c.member_id, sorted(set(members)))))
    return {r.member_id: _birthday(r) for r in rows}


async def save(conn: AsyncConnection, after: dict[str, Birthday | None]) -> None:
    gone = sorted(m for m, b in after.items() if b is None)
    kept = [
        {"member_id": b.member_id, "month": b.month, "day": b.day, "timezone": b.timezone}
        for b in after.values()
        if b is not None
    ]
    if gone:
        await conn.execute(birthdays.delete().where(one_of(birthdays.c.member_id, gone)))
    if kept:
        upsert = insert(birthdays)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[birthdays.c.member_id],
                set_={c: upsert.excluded[c] for c in ("month", "day", "timezone")},
            ),
            kept,
        )


async def keep_tier_bonuses(conn: AsyncConnection, bonuses: dict[uuid.UUID, int]) -> None:
    rows = [{"tier_event_id": k, "points": v} for k, v in bonuses.items() if v > 0]
    if rows:
        await conn.execute(insert(birthday_tier_bonuses).on_conflict_do_nothing(), rows)


async def born_on(
    conn: AsyncConnection, days: set[tuple[int, int]], unpaid_since: date, after: str, limit: int
) -> list[Birthday]:
    """A page of members whose birthday is one of ``days`` and who were not paid on or after
    ``unpaid_since``, by member, locked (another instance running the job skips them)."""
    rows = await conn.execute(
        select(birthdays)
        .where(
            tuple_(birthdays.c.month, birthdays.c.day).in_(sorted(days)),
            (birthdays.c.paid_on.is_(None)) | (birthdays.c.paid_on < unpaid_since),
            birthdays.c.member_id > after,
        )
        .order_by(birthdays.c.member_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [_birthday(r) for r in rows]


async def bonuses_of(conn: AsyncConnection, members: Iterable[str]) -> dict[int, int]:
    """The birthday bonus of each of these members' tier steps that carried one: step seq -> points."""
    rows = await conn.execute(
        select(tier_steps.c.seq, birthday_tier_bonuses.c.points)
        .join(birthday_tier_bonuses, birthday_tier_bonuses.c.tier_event_id == tier_steps.c.event_id)
        .where(one_of(tier_steps.c.member_id, sorted(set(members))))
    )
    return {r.seq: int(r.points) for r in rows}


async def paid(conn: AsyncConnection, sources: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.execute(
        select(ledger.c.source_event_id).where(
            ledger.c.kind == "birthday", one_of(ledger.c.source_event_id, sorted(set(sources)))
        )
    )
    return set(rows.scalars())


async def mark_paid(conn: AsyncConnection, paid_on: dict[str, date]) -> None:
    for member_id, day in sorted(paid_on.items()):
        await conn.execute(birthdays.update().where(birthdays.c.member_id == member_id).values(paid_on=day))


async def birthday_of(conn: AsyncConnection, member_id: str) -> str | None:
    found = (await birthdays_of(conn, [member_id])).get(member_id)
    if found is None or found.month is None or found.day is None:
        return None
    return f"--{found.month:02d}-{found.day:02d}"
