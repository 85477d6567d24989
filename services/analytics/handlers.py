"""Thin handler: every event becomes its one row of fact (replays add nothing twice: the inbox and the
event id as the key)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.domain.facts import fact_of
from services.analytics.store.tables import FACT_TABLES
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import ALL_CONTRACTS, SEGMENT_CHANGED, Contract, Envelope

# Everything on the bus but its own output.
CONSUMES: list[Contract[Any]] = [c for c in ALL_CONTRACTS if c is not SEGMENT_CHANGED]


def facts_handler() -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            if (fact := fact_of(event)) is not None:
                rows[fact.table].append(fact.row)
        for table, values in rows.items():
            await conn.execute(insert(FACT_TABLES[table]).on_conflict_do_nothing(), values)
        return BatchResult()

    return handle
