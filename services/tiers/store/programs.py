"""The loyalty programs points told of, and each program's ladder, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import Ladder
from services.tiers.programs import MAIN, Program, registry
from services.tiers.store.tables import ladders, loyalty_programs
from shared.contracts import LoyaltyProgramDefined
from shared.store.settled import Cached, Stamps


async def keep_programs(conn: AsyncConnection, told: Sequence[LoyaltyProgramDefined]) -> None:
    """What points said of each program, the last word kept (a redelivery says the same again)."""
    rows = {p.program_id: p.model_dump(mode="json", exclude={"program_id"}) for p in told}
    if rows:
        upsert = insert(loyalty_programs)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[loyalty_programs.c.program_id],
                set_={"config": upsert.excluded.config, "told_at": func.now()},
            ),
            [{"program_id": k, "config": v} for k, v in sorted(rows.items())],
        )


_PROGRAMS: Cached[str, dict[str, Program]] = Cached("loyalty_programs")
_LADDERS: Cached[str, dict[str, Ladder]] = Cached("ladders")


async def programs(conn: AsyncConnection, seen: Stamps | None = None) -> dict[str, Program]:
    """Every program this deployment runs: main and those told of (with ``seen``, a batch's stamps:
    kept while unchanged; do not modify it)."""

    async def load() -> dict[str, Program]:
        rows = await conn.execute(select(loyalty_programs.c.program_id, loyalty_programs.c.config))
        return registry({program_id: Program.model_validate(config) for program_id, config in rows})

    return await _PROGRAMS.get(conn, seen, "all", load)


async def ladders_of(conn: AsyncConnection, main: Ladder, seen: Stamps | None = None) -> dict[str, Ladder]:
    """Each program's ladder: main's (the deployment's setting), and the others as operators set them."""

    async def load() -> dict[str, Ladder]:
        rows = await conn.execute(select(ladders.c.program_id, ladders.c.ladder))
        return {program_id: Ladder.model_validate(ladder) for program_id, ladder in rows}

    return {**await _LADDERS.get(conn, seen, "all", load), MAIN: main}


async def put_ladder(conn: AsyncConnection, program_id: str, ladder: Ladder) -> dict[str, Any] | None:
    """Set a program's ladder; returns the one it replaces (for the audit log)."""
    before = (
        await conn.execute(
            select(ladders.c.ladder).where(ladders.c.program_id == program_id).with_for_update()
        )
    ).scalar()
    upsert = insert(ladders).values(program_id=program_id, ladder=ladder.model_dump(mode="json"))
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[ladders.c.program_id],
            set_={"ladder": upsert.excluded.ladder, "updated_at": func.now()},
        )
    )
    return before
