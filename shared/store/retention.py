"""Retention: rows past their keep are deleted in bounded batches, so a year of traffic does not bloat
a store and no delete holds its locks for long. What each table keeps is stated in README
(Reliability: what each store keeps)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, delete, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

BATCH = 10_000


async def prune(
    conn: AsyncConnection,
    table: Table,
    column: str,
    before: datetime,
    *,
    where: ColumnElement[bool] | None = None,
    batch: int = BATCH,
) -> int:
    """Delete up to ``batch`` rows whose ``column`` is before ``before`` (and ``where``); how many went.
    By physical address (ctid), so a table needs no key of its own for it."""
    ctid: ColumnElement[object] = literal_column(f'"{table.name}".ctid')
    old = select(ctid).where(table.c[column] < before, where if where is not None else true()).limit(batch)
    result = await conn.execute(delete(table).where(ctid == func.any(func.array(old.scalar_subquery()))))
    return int(result.rowcount or 0)
