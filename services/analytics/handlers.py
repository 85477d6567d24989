"""Thin handler: every event becomes its one row of fact (replays add nothing twice: the inbox and the
event id as the key); a loyalty program's definition replaces the one it follows in the registry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.domain.facts import Fact, fact_of
from services.analytics.store.tables import FACT_TABLES, loyalty_programs
from services.analytics.views import PointsMoved, PurchaseFigures
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    ALL_CONTRACTS,
    POINTS_EARNED,
    PURCHASE_RECORDED,
    SEGMENT_CHANGED,
    Contract,
    Envelope,
)
from shared.store.bulk import rows_insert

# Everything on the bus but its own output; the two that come with every purchase through views of what
# the facts take from them (``views``).
_READ_AS: dict[Contract[Any], Contract[Any]] = {
    PURCHASE_RECORDED: PURCHASE_RECORDED.read_as(PurchaseFigures),
    POINTS_EARNED: POINTS_EARNED.read_as(PointsMoved),
}
CONSUMES: list[Contract[Any]] = [_READ_AS.get(c, c) for c in ALL_CONTRACTS if c is not SEGMENT_CHANGED]
# Tables whose rows a later one of the same key replaces, and the column that orders them.
REGISTRIES = {loyalty_programs.name: (loyalty_programs, "defined_at")}


def facts_handler() -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        latest: dict[str, dict[Any, Fact]] = defaultdict(dict)
        for event in events:
            if (fact := fact_of(event)) is None:
                continue
            if fact.replaces is None:
                rows[fact.table].append(fact.row)
            else:  # one row per key in a statement: the batch's last definition of it
                latest[fact.table][fact.row[fact.replaces]] = fact
        for table, values in rows.items():
            kept, parameters = rows_insert(
                FACT_TABLES[table], values, finish=lambda new: new.on_conflict_do_nothing()
            )
            await conn.execute(kept, parameters)
        for name, facts in latest.items():
            await _replace(conn, name, list(facts.values()))
        return BatchResult()

    return handle


async def _replace(conn: AsyncConnection, name: str, facts: list[Fact]) -> None:
    """Upsert where the newer definition wins, so a replay from offset 0 ends where it ended before."""
    table, order = REGISTRIES[name]
    key = str(facts[0].replaces)
    upsert, values = rows_insert(table, [f.row for f in facts])
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[key],
            set_={c.name: upsert.excluded[c.name] for c in table.c if c.name != key},
            where=table.c[order] <= upsert.excluded[order],
        ),
        values,
    )
