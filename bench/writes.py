"""`python -m bench.writes`: one append-only write two ways — the outbox's rows through ``rows_insert``
(one ``INSERT ... SELECT FROM jsonb_to_recordset($1)``, the rows one JSON document, bytes as base64)
and through COPY (asyncpg's ``copy_records_to_table``, binary) — alternating, in one transaction a
batch as a consumer writes them, against PostgreSQL in this process. Per row: this process's CPU, the
PostgreSQL backend's CPU, and the wall time.

    python -m bench.writes --rows 20000 --batch 500 --batch 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.handlers import records
from services.notify.store import MIGRATIONS
from shared.config import ServiceSettings
from shared.contracts.envelope import utcnow
from shared.outbox import OutboxMessage, append
from shared.run import tune_gc
from shared.store.bulk import rows_insert
from shared.store.core_tables import OUTBOX
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async
from sim.harness import Infra, Stack, infra_from_env

RESULTS = Path(__file__).resolve().parent / "results"


async def insert_append(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """The outbox's rows as ``append`` wrote them before COPY: one INSERT of a JSON document (their ids
    from the outbox's clock, as ``append``'s are)."""
    clock = text("UPDATE outbox_clock SET last_id = last_id + :n RETURNING last_id")
    first = int(await conn.scalar(clock, {"n": len(messages)}) or 0) - len(messages) + 1
    rows = [
        {"id": first + i, "topic": m.topic, "key": m.key, "value": m.value, "headers": m.headers}
        for i, m in enumerate(messages)
    ]
    await conn.execute(*rows_insert(OUTBOX, rows))


WAYS: dict[str, Callable[[AsyncConnection, Sequence[OutboxMessage]], Awaitable[None]]] = {
    "rows_insert": insert_append,
    "copy": append,  # the outbox's own
}


def messages(count: int, prefix: str) -> list[OutboxMessage]:
    """The purchases ingest emits, as outbox rows: what every service's outbox mostly holds."""
    return [
        OutboxMessage(
            topic=prefix + "pos.purchases",
            value=r.value,
            key=r.key,
            headers={"content-type": "application/json", "event-type": "purchase.recorded"},
        )
        for r in records(count, prefix)
    ]


async def measure(infra: Infra, rows: int, batches: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    stack = Stack(infra)
    await stack.create("notify")  # any service's database: each has the same outbox
    os.environ.update(stack.env("notify"))
    settings = ServiceSettings()
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    given = messages(rows, settings.topic_prefix)
    results = []
    try:
        async with engine.connect() as conn:
            backend = psutil.Process(int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0))
        for batch in batches:
            for n in range(repeats):
                ways = list(WAYS) if n % 2 == 0 else list(reversed(WAYS))
                for way in ways:
                    async with engine.begin() as conn:
                        await conn.execute(text("TRUNCATE outbox"))
                        await WAYS[way](conn, given[:batch])  # warm: compile, prepare
                    server = sum(backend.cpu_times()[:2])
                    cpu, wall = time.process_time(), time.perf_counter()
                    for start in range(0, rows, batch):
                        async with engine.begin() as conn:
                            await WAYS[way](conn, given[start : start + batch])
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    server = sum(backend.cpu_times()[:2]) - server
                    async with engine.connect() as conn:
                        written = await conn.scalar(text("SELECT count(*) FROM outbox"))
                        # The backend measured is the one that did the writes (one pooled connection).
                        assert await conn.scalar(text("SELECT pg_backend_pid()")) == backend.pid
                    assert written == rows + batch, (way, written)
                    results.append(
                        {
                            "way": way,
                            "batch": batch,
                            "repeat": n,
                            "rows": rows,
                            "client_us_per_row": cpu / rows * 1e6,
                            "server_us_per_row": server / rows * 1e6,
                            "wall_us_per_row": wall / rows * 1e6,
                        }
                    )
                    print(
                        f"batch {batch} {way:<12} client {cpu / rows * 1e6:6.1f} µs/row, "
                        f"PostgreSQL {server / rows * 1e6:6.1f}, wall {wall / rows * 1e6:6.1f}",
                        flush=True,
                    )
    finally:
        await engine.dispose()
        await stack.drop()
    return results


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = sorted({(r["batch"], r["way"]) for r in results})
    return [
        {
            "batch": batch,
            "way": way,
            **{
                k: statistics.median(r[k] for r in results if (r["batch"], r["way"]) == (batch, way))
                for k in ("client_us_per_row", "server_us_per_row", "wall_us_per_row")
            },
        }
        for batch, way in keys
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, action="append", help="rows per transaction (repeatable)")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    tune_gc()
    results = await measure(infra_from_env(), args.rows, args.batch or [500, 50], args.repeats)
    summary = medians(results)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"writes-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps({"medians": summary, "runs": results}, indent=2))
    print(f"{'batch':>6} {'way':<12}{'client µs/row':>15}{'PostgreSQL':>12}{'wall':>8}")
    for s in summary:
        print(
            f"{s['batch']:>6} {s['way']:<12}{s['client_us_per_row']:>15.1f}"
            f"{s['server_us_per_row']:>12.1f}{s['wall_us_per_row']:>8.1f}"
        )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
