"""Time-limited programs: when each ends, the reminders sent before, and when its balances were settled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.programs.sunset.domain import ProgramEnd
from services.points.store.tables import balances, metadata

program_ends = Table(
    "program_ends",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)

program_reminders = Table(
    "program_reminders",
    metadata,
    Column("program_id", String(64), nullable=False),
    Column("days", Integer, nullable=False),
    Column("member_id", String, nullable=False),
    PrimaryKeyConstraint("program_id", "days", "member_id"),
)


async def upsert_program_end(conn: AsyncConnection, program_id: str, end: ProgramEnd) -> bool:
    """Set (or move) a program's end; False once it is closed: a settled program stays settled."""
    values = {"config": end.model_dump(mode="json"), "ends_at": end.ends_at}
    upsert = insert(program_ends).values(program_id=program_id, **values)
    done = await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[program_ends.c.program_id], set_=values, where=program_ends.c.closed_at.is_(None)
        )
    )
    return bool(done.rowcount)


async def program_end_of(conn: AsyncConnection, program_id: str) -> Any:
    return (await conn.execute(select(program_ends).where(program_ends.c.program_id == program_id))).first()


async def program_ends_at(conn: AsyncConnection, loyalty_program: str = MAIN) -> datetime | None:
    """When a loyalty program ends (the earliest, were several ends set for it), or None."""
    of_it = func.coalesce(program_ends.c.config["loyalty_program"].astext, MAIN) == loyalty_program
    ends: datetime | None = await conn.scalar(select(func.min(program_ends.c.ends_at)).where(of_it))
    return ends


async def all_program_ends(conn: AsyncConnection) -> list[Any]:
    """Every time-limited program, settled or not, the one ending first first."""
    return list(
        await conn.execute(select(program_ends).order_by(program_ends.c.ends_at, program_ends.c.program_id))
    )


async def open_programs(conn: AsyncConnection) -> list[tuple[str, ProgramEnd]]:
    rows = await conn.execute(
        select(program_ends).where(program_ends.c.closed_at.is_(None)).order_by(program_ends.c.program_id)
    )
    return [(r.program_id, ProgramEnd.model_validate(r.config)) for r in rows]


async def holders_not_reminded(
    conn: AsyncConnection, program_id: str, days: int, limit: int, loyalty_program: str = MAIN
) -> list[tuple[str, int]]:
    """Members holding points in the loyalty program who have not had this reminder yet."""
    reminded = select(program_reminders.c.member_id).where(
        program_reminders.c.program_id == program_id, program_reminders.c.days == days
    )
    rows = await conn.execute(
        select(balances.c.member_id, balances.c.balance)
        .where(
            balances.c.program_id == loyalty_program,
            balances.c.balance > 0,
            balances.c.member_id.not_in(reminded),
        )
        .order_by(balances.c.member_id)
        .limit(limit)
    )
    return [(r.member_id, int(r.balance)) for r in rows]


async def mark_program_reminded(
    conn: AsyncConnection, program_id: str, days: int, members: Sequence[str]
) -> None:
    rows = [{"program_id": program_id, "days": days, "member_id": m} for m in members]
    if rows:
        await conn.execute(insert(program_reminders).on_conflict_do_nothing(), rows)


async def close_program(conn: AsyncConnection, program_id: str, now: datetime) -> None:
    await conn.execute(
        program_ends.update().where(program_ends.c.program_id == program_id).values(closed_at=now)
    )
