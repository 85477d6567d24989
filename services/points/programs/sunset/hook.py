"""What is bought after a time-limited program's end earns nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.program import Batch, PurchaseHook
from services.points.programs.sunset.store import program_ends_at
from shared.store.settled import Cached


@dataclass
class ProgramEndHook(PurchaseHook):
    ends_at: datetime | None

    def closed(self, at: datetime) -> bool:
        return self.ends_at is not None and at >= self.ends_at


_ENDS: Cached[str, datetime | None] = Cached("program_ends")


async def load(conn: AsyncConnection, batch: Batch) -> PurchaseHook:
    ends_at = await _ENDS.get(
        conn, batch.stamps, batch.program_id, lambda: program_ends_at(conn, batch.program_id)
    )
    return ProgramEndHook(ends_at)
