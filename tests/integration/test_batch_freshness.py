"""What a batch holds when batches run back to back (shared/consumer.py, ``ReliableConsumer.caught_up``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.consumer import BatchHandler, BatchResult
from shared.contracts import Envelope
from shared.topics import Topic
from tests.integration.test_high_water import consumer
from tests.integration.test_outbox_relay import downstream, earned, record_effects
from tests.support import Stack, as_record, eventually


async def subscribed(
    stack: Stack, handler: BatchHandler, fresh_fetch_ms: int
) -> tuple[KafkaBroker, AsyncEngine]:
    """A downstream service's consumer core on a real faststream broker (not started), with ``handler``."""
    kafka = stack.infra.kafka_settings()
    settings, engine = await downstream(
        stack,
        consumer_fresh_fetch_ms=fresh_fetch_ms,
        **{name: getattr(kafka, name) for name in _KAFKA_SETTINGS},
    )
    core = consumer(settings, engine, handler=handler)
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers, security=settings.kafka_security(), apply_types=False
    )
    core.subscribe(broker)
    return broker, engine


_KAFKA_SETTINGS = (
    "kafka_bootstrap_servers",
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
)


async def test_what_arrives_while_a_batch_runs_is_in_the_next_batch_not_the_one_after(stack: Stack) -> None:
    """aiokafka had fetched one record during the first batch; five more reached the broker after that.
    All six are the second batch, in order; before, the second held one and the five waited for a third."""
    batches: list[list[int]] = []
    first_may_end = asyncio.Event()

    async def slow_first_batch(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        batches.append([e.payload.points for e in events])
        if len(batches) == 1:
            await first_may_end.wait()
        return await record_effects(conn, events)

    # Generous: a loaded CI machine answers the fetch late.
    broker, engine = await subscribed(stack, slow_first_batch, fresh_fetch_ms=2000)
    # One member: one partition, so the order within it is the order produced.
    await broker.start()
    try:
        await stack.produce(Topic.POINTS, [as_record(earned("m", 1))])
        await eventually(lambda: batches == [[1]], what="the first batch under way")
        await stack.produce(Topic.POINTS, [as_record(earned("m", 2))])
        await asyncio.sleep(1.0)  # aiokafka's prefetch answers with record 2 and keeps it
        await stack.produce(Topic.POINTS, [as_record(earned("m", n)) for n in (3, 4, 5, 6)])
        await asyncio.sleep(0.5)
        first_may_end.set()
        await eventually(lambda: sum(map(len, batches)) == 6, what="six events applied")
        assert batches == [[1], [2, 3, 4, 5, 6]]
    finally:
        first_may_end.set()
        await broker.stop()
        await engine.dispose()


async def test_a_batch_after_an_idle_wait_goes_at_once(stack: Stack) -> None:
    """Only a batch that follows the last one at once waits for the fetch: one the consumer waited for
    was fetched just now, and waiting again would only add latency."""
    applied = asyncio.Event()

    async def apply(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        applied.set()
        return await record_effects(conn, events)

    broker, engine = await subscribed(stack, apply, fresh_fetch_ms=5000)
    await broker.start()
    try:
        await asyncio.sleep(2.0)  # joined, assigned, and waiting
        await stack.produce(Topic.POINTS, [as_record(earned("m", 1))])
        # A wait for the fetch would hold this batch the full 5 s.
        await asyncio.wait_for(applied.wait(), 3.0)
    finally:
        await broker.stop()
        await engine.dispose()
