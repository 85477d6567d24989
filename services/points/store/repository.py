"""Set-based reads and writes of the points store, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain import Earning
from services.points.store.tables import balances, ledger


@dataclass(frozen=True)
class LedgerEntry:
    earning: Earning
    source_event_id: uuid.UUID
    occurred_at: datetime


async def record_earnings(conn: AsyncConnection, entries: Sequence[LedgerEntry]) -> list[int]:
    """Append the entries to the ledger and move balances; returns each entry's balance after it."""
    await conn.execute(
        ledger.insert(),
        [
            {
                "member_id": e.earning.member_id,
                "kind": "earn",
                "points": e.earning.points,
                "source_event_id": e.source_event_id,
                "occurred_at": e.occurred_at,
                "details": {"rules": [r.model_dump() for r in e.earning.rules]},
            }
            for e in entries
        ],
    )
    totals: dict[str, int] = defaultdict(int)
    for e in entries:
        totals[e.earning.member_id] += e.earning.points
    upsert = insert(balances).values([{"member_id": m, "balance": p} for m, p in sorted(totals.items())])
    rows = await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[balances.c.member_id],
            set_={"balance": balances.c.balance + upsert.excluded.balance, "updated_at": func.now()},
        ).returning(balances.c.member_id, balances.c.balance)
    )
    final: dict[str, int] = {member: balance for member, balance in rows}
    # Walk back from each member's final balance to the balance right after each entry.
    after: list[int] = [0] * len(entries)
    running = dict(final)
    for i in range(len(entries) - 1, -1, -1):
        member = entries[i].earning.member_id
        after[i] = running[member]
        running[member] -= entries[i].earning.points
    return after


async def balance_of(conn: AsyncConnection, member_id: str) -> int | None:
    return await conn.scalar(select(balances.c.balance).where(balances.c.member_id == member_id))


async def ledger_of(conn: AsyncConnection, member_id: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(
            ledger.c.kind, ledger.c.points, ledger.c.source_event_id, ledger.c.occurred_at, ledger.c.details
        )
        .where(ledger.c.member_id == member_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]
