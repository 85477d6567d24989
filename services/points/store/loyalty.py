"""The loyalty programs this deployment runs side by side."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import LoyaltyProgram
from services.points.store.tables import loyalty_programs as table
from shared.store.settled import Cached, Stamps

_KEPT: Cached[str, dict[str, LoyaltyProgram]] = Cached("loyalty_programs")


async def loyalty_programs(conn: AsyncConnection, seen: Stamps | None = None) -> dict[str, LoyaltyProgram]:
    """The registry (with ``seen``, a batch's stamps: kept while unchanged; do not modify it)."""

    async def load() -> dict[str, LoyaltyProgram]:
        rows = await conn.execute(select(table.c.program_id, table.c.config).order_by(table.c.program_id))
        return {program_id: LoyaltyProgram.model_validate(config) for program_id, config in rows}

    return await _KEPT.get(conn, seen, "all", load)


async def put_loyalty_program(conn: AsyncConnection, program_id: str, program: LoyaltyProgram) -> None:
    upsert = insert(table).values(program_id=program_id, config=program.model_dump(mode="json"))
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.program_id], set_={"config": upsert.excluded.config}
        )
    )


async def loyalty_program(conn: AsyncConnection, program_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(table.c.config, table.c.created_at).where(table.c.program_id == program_id))
    ).first()
    return None if row is None else {"program_id": program_id, **row.config, "created_at": row.created_at}
