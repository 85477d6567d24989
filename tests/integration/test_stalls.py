"""What cannot go through is set aside, and what is stuck is reported: the outbox relay parks a row
Kafka refuses for good and publishes the rows behind it; a consumer held up by the database shows on
/readyz and the stall metric, and goes on when the database does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import httpx
import orjson

from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, at_least, decode, eventually, purchase, running


async def _ready(process: ServiceProcess) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{process.url}/readyz", timeout=10)).status_code


async def test_a_row_kafka_refuses_for_good_is_parked_and_the_rows_behind_it_flow(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    topic = stack.topic(Topic.POINTS)
    admin = await stack.pg(stack.database("points"))
    try:
        # Two MiB: past what the producer (and the broker) take in one record.
        await admin.executemany(
            "WITH clock AS (UPDATE outbox_clock SET last_id = last_id + 1 RETURNING last_id) "
            "INSERT INTO outbox (id, topic, key, value, headers) SELECT last_id, $1, $2, $3, '{}' FROM clock",
            [(topic, b"m-1", b"x" * (2 << 20)), (topic, b"m-2", orjson.dumps({"behind": "it"}))],
        )
    finally:
        await admin.close()
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-3", "5000"))])

    records = await eventually(
        lambda: at_least(stack.read_all(Topic.POINTS), 2), what="the rows behind the refused one"
    )
    assert {r.key for r in records} == {b"m-2", b"m-3"}
    assert decode(next(r for r in records if r.key == b"m-2")) == {"behind": "it"}
    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 0 FROM outbox"), what="outbox empty")
    (parked,) = await stack.query("points", "SELECT topic, length(value) AS size, reason FROM outbox_parked")
    assert parked["topic"] == topic and parked["size"] == 2 << 20
    assert "MessageSizeTooLarge" in parked["reason"]
    assert await points.metric("vafa_outbox_parked_total") == 1
    assert await _ready(points) == 204


async def test_a_consumer_held_up_by_a_lock_is_reported_stalled_and_goes_on_after(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(
        stack, services, log_dir, "points", VAFA_PG_LOCK_TIMEOUT_MS="300", VAFA_STALL_AFTER_S="2"
    )
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-1", "1000"))])
    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 1 FROM balances"), what="first")

    locker = await stack.pg(stack.database("points"))
    try:
        held = locker.transaction()
        await held.start()
        await locker.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
        await stack.produce(Topic.PURCHASES, [as_record(purchase("m-2", "2000"))])
        await eventually(lambda: _is(_ready(points), 503), timeout=30, what="/readyz says stalled")
        assert await points.metric("vafa_consumer_stalled_seconds") > 2
        assert await points.metric("vafa_consumer_retries_total", kind="busy") > 0
        await asyncio.sleep(3)  # a lock held long is waited out, never a reason to dead-letter
        await held.rollback()
    finally:
        await locker.close()

    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 2 FROM balances"), what="second")
    await eventually(lambda: _is(_ready(points), 204), what="ready again")
    assert await points.metric("vafa_consumer_stalled_seconds") == 0
    assert await points.metric("vafa_events_total", outcome="dead_lettered") == 0


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
