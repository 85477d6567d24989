"""Faults while purchases flow: a group that rebalances under load, a database that goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from shared.topics import Topic
from tests.pointsflow import (
    all_committed,
    assert_ledger_matches,
    points,
    stream,
)
from tests.support import ServiceProcess, Stack, as_record, bearer, eventually, operator


async def produce_steadily(stack: Stack, purchases: list, per_second: int) -> None:  # type: ignore[type-arg]
    chunk = max(per_second // 10, 1)
    for start in range(0, len(purchases), chunk):
        await stack.produce(Topic.PURCHASES, [as_record(p) for p in purchases[start : start + chunk]])
        await asyncio.sleep(0.1)


async def test_rebalances_under_load_apply_every_purchase_exactly_once(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """A second instance joins, the first is SIGKILLed mid-stream and comes back: two rebalances,
    and partitions whose last batch was applied but not committed move to the other member."""
    await stack.create("points")
    purchases = stream(600)
    first = points(stack, services, log_dir).start()
    await first.wait_ready()
    flow = asyncio.create_task(produce_steadily(stack, purchases, per_second=100))

    await asyncio.sleep(1.5)
    second = points(stack, services, log_dir).start()
    await second.wait_ready()
    await asyncio.sleep(1.5)
    first.kill()
    await asyncio.sleep(1.0)
    first.start()
    await flow

    await eventually(lambda: all_committed(stack), timeout=90, what="every partition committed")
    await assert_ledger_matches(stack, purchases)


async def test_database_outage_is_retried_and_nothing_is_lost_or_doubled(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    before, during = stream(40)[:20], stream(40)[20:]
    service = points(stack, services, log_dir).start()
    await service.wait_ready()
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in before])
    await eventually(lambda: all_committed(stack), what="first purchases applied")

    database = stack.database("points")
    admin = await stack.pg("postgres")
    try:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        await stack.produce(Topic.PURCHASES, [as_record(p) for p in during])
        await eventually(
            lambda: service.metric("vafa_consumer_retries_total"), what="retries while the DB is away"
        )
        assert await stack.committed_offsets("points", Topic.PURCHASES) != await stack.end_offsets(
            Topic.PURCHASES
        )
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        await admin.close()

    await eventually(lambda: all_committed(stack), what="purchases applied after the outage")
    await assert_ledger_matches(stack, before + during)
    assert await service.metric("vafa_events_total", outcome="dead_lettered") == 0


async def test_a_request_on_a_dropped_connection_is_answered_503_and_the_next_on_a_new_one(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """No connection is pinged before use: when the database drops every connection (a restart, a
    failover), a request that meets a dropped one is answered 503 with Retry-After, never 500, and
    the pool is renewed, so the request sent again is answered."""
    await stack.create("points")
    service = points(stack, services, log_dir).start()
    await service.wait_ready()
    token = bearer(operator("test-ops", "admin"))
    async with httpx.AsyncClient(base_url=service.url, timeout=30, headers=token) as client:
        # Several at once, so the pool holds several connections for the database to drop. (No one
        # has earned yet: the answer the database gives is 404, an unknown member.)
        answers = await asyncio.gather(*(client.get(f"/v1/members/m{i}/balance") for i in range(5)))
        assert {a.status_code for a in answers} == {404}
        admin = await stack.pg("postgres")
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = 'vafa-points'",
                stack.database("points"),
            )
        finally:
            await admin.close()
        first = await client.get("/v1/members/m0/balance")
        assert first.status_code in (404, 503), first.text
        if first.status_code == 503:
            assert first.headers["content-type"] == "application/problem+json"
            assert first.headers["retry-after"] == "2"
        again = await client.get("/v1/members/m0/balance")
        assert again.status_code == 404, again.text
