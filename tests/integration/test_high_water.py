"""Duplicates caught by each source's high-water mark instead of an inbox row per event, and the order the
relay publishes in, which the marks rely on (shared/consumer.py, shared/outbox.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import ServiceSettings
from shared.consumer import BatchHandler, ContractDecoder, Decoder, ReliableConsumer
from shared.contracts import POINTS_EARNED, Envelope
from shared.metrics import CoreMetrics
from shared.outbox import ID_HEADER, SOURCE_HEADER, OutboxMessage, OutboxRelay, append
from shared.repair import REDRIVEN_FOR
from shared.store.core_tables import INBOX, OUTBOX_PARKED
from shared.topics import Topic
from tests.integration.test_outbox_relay import _Commits, downstream, earned, effects, record_effects
from tests.support import Stack, as_record, decode


def consumer(
    settings: ServiceSettings,
    engine: AsyncEngine,
    decoder: Decoder | None = None,
    handler: BatchHandler = record_effects,
) -> ReliableConsumer:
    return ReliableConsumer(
        settings=settings,
        engine=engine,
        decoder=decoder or ContractDecoder([POINTS_EARNED]),
        handler=handler,
        metrics=CoreMetrics(CollectorRegistry()),
    )


class Published:
    """Records as a relay publishes them: each with its source and outbox id, offsets counting up."""

    def __init__(self, topic: str, source: uuid.UUID | None = None, partition: int = 0) -> None:
        self.topic, self.partition = topic, partition
        self.source = str(source or uuid.uuid4())
        self.offset = 0

    def record(self, outbox_id: int, event: Envelope[Any], *extra: tuple[str, bytes]) -> Any:
        key, value = as_record(event)
        headers = [(SOURCE_HEADER, self.source.encode()), (ID_HEADER, str(outbox_id).encode()), *extra]
        self.offset += 1
        return ConsumerRecord(self.topic, self.partition, self.offset, 0, 0, key, value, None, 0, 0, headers)


async def applied(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(select(effects.c.points))).scalars())


async def inbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(INBOX)) or 0)


async def test_a_record_published_again_is_a_duplicate_by_its_sources_mark(stack: Stack) -> None:
    settings, engine = await downstream(stack)
    core = consumer(settings, engine)
    relay = Published(stack.topic(Topic.POINTS))
    events = [earned(f"m{i}", i) for i in range(1, 9)]
    try:
        # A source's first records on a partition are claimed in the inbox (what was applied before the
        # marks existed is there); after that its mark decides, and no inbox row is written.
        await core.process([relay.record(i, events[i - 1]) for i in (1, 2, 3)], _Commits())
        assert await inbox_rows(engine) == 3
        await core.process([relay.record(i, events[i - 1]) for i in (4, 5, 6)], _Commits())
        assert await applied(engine) == [1, 2, 3, 4, 5, 6]
        assert await inbox_rows(engine) == 3

        # A relay restarted between publish and delete sends 5 and 6 again, then 7; within one batch,
        # 7's second copy too; ids with gaps are fine (other topics, rolled-back transactions).
        await core.process(
            [relay.record(i, events[i - 1]) for i in (5, 6, 7, 7)] + [relay.record(9, events[7])], _Commits()
        )
        assert await applied(engine) == [1, 2, 3, 4, 5, 6, 7, 8]
        # Redelivered whole after a crash before the offset commit: nothing twice.
        await core.process([relay.record(i, events[i - 1]) for i in (4, 5, 6, 7)], _Commits())
        assert await applied(engine) == [1, 2, 3, 4, 5, 6, 7, 8]
        assert await inbox_rows(engine) == 3

        # Another source (a rebuilt database is one: a new source id) numbers from 1 again.
        rebuilt = Published(stack.topic(Topic.POINTS))
        await core.process(
            [rebuilt.record(1, earned("m9", 100)), rebuilt.record(2, earned("m9", 200))], _Commits()
        )
        # So does the same source on another partition: marks are per partition.
        other = Published(stack.topic(Topic.POINTS), uuid.UUID(relay.source), partition=1)
        await core.process([other.record(1, earned("m10", 1000))], _Commits())
        assert await applied(engine) == [1, 2, 3, 4, 5, 6, 7, 8, 100, 200, 1000]
    finally:
        await engine.dispose()


async def test_two_consumers_of_one_partition_during_a_rebalance_apply_a_batch_once(stack: Stack) -> None:
    """The member losing a partition may still be finishing a batch the new owner was handed again: the
    mark's row lock makes the second wait for the first, then find its records below the mark."""
    settings, engine = await downstream(stack)
    relay = Published(stack.topic(Topic.POINTS))
    events = [earned(f"m{i}", i) for i in range(1, 60)]
    try:
        await consumer(settings, engine).process([relay.record(1, events[0])], _Commits())
        batch = [relay.record(i, events[i - 1]) for i in range(2, 60)]
        await asyncio.gather(*(consumer(settings, engine).process(batch, _Commits()) for _ in range(2)))
        assert await applied(engine) == list(range(1, 60))
    finally:
        await engine.dispose()


async def test_outbox_headers_are_not_believed_where_pos_systems_write(stack: Stack) -> None:
    """A POS system could otherwise send a high id and have every later record of that source skipped."""
    settings, engine = await downstream(stack)
    forged = Published(stack.topic(Topic.POS_RAW))

    class FromPos(ContractDecoder):
        topics = (str(Topic.POS_RAW),)

    try:
        core = consumer(settings, engine, FromPos([POINTS_EARNED]))
        await core.process([forged.record(10**17, earned("m1", 1))], _Commits())
        await core.process(
            [forged.record(10**17, earned("m2", 2)), forged.record(5, earned("m3", 3))], _Commits()
        )
        assert await applied(engine) == [1, 2, 3]
        # On a topic only Vafa's relays write, hostile values are not ids: the inbox decides.
        odd = Published(stack.topic(Topic.POINTS))
        values = [b"-1", b"1e9", b"9" * 19, b"\xff", b""]
        records = [odd.record(1, earned(f"n{i}", 10 + i)) for i in range(len(values))]
        for record, value in zip(records, values, strict=True):
            record.headers[1] = (ID_HEADER, value)
        records[-1].headers[0] = (SOURCE_HEADER, b"not-a-uuid")
        records[-1].headers[1] = (ID_HEADER, b"7")
        await consumer(settings, engine).process(records, _Commits())
        assert await applied(engine) == [1, 2, 3, 10, 11, 12, 13, 14]
    finally:
        await engine.dispose()


async def test_a_redriven_record_is_claimed_in_the_inbox_not_by_its_mark(stack: Stack) -> None:
    settings, engine = await downstream(stack)
    relay = Published(stack.topic(Topic.POINTS))
    first, later = earned("m1", 1), earned("m2", 2)
    try:
        core = consumer(settings, engine)
        await core.process([relay.record(1, first)], _Commits())
        await core.process([relay.record(2, later)], _Commits())
        # An operator re-drives an event the service dead-lettered (here: one it never saw): its mark is
        # past it, but the inbox, which has no row of it, applies it, once.
        redriven = earned("m3", 3)
        again = relay.record(1, redriven, (REDRIVEN_FOR, b"downstream"))
        await core.process([again], _Commits())
        await core.process([again], _Commits())
        assert await applied(engine) == [1, 2, 3]
    finally:
        await engine.dispose()


async def test_the_relay_numbers_transactions_in_commit_order(stack: Stack) -> None:
    """The transaction that appended first but committed last is published last, with the higher id: a
    consumer holding the higher id never receives a lower one it has not seen."""
    _, engine = await downstream(stack)
    topic = stack.topic(Topic.POINTS)
    slow_may_commit = asyncio.Event()

    async def slow() -> None:
        async with engine.begin() as conn:
            await append(conn, [OutboxMessage.of(topic, earned("m1", 1))])
            await slow_may_commit.wait()

    async def quick() -> None:
        async with engine.begin() as conn:
            await append(
                conn, [OutboxMessage.of(topic, earned("m1", 2)), OutboxMessage.of(topic, earned("m1", 3))]
            )

    try:
        first = asyncio.create_task(slow())
        await asyncio.sleep(0.1)
        await quick()
        slow_may_commit.set()
        await first
        async with engine.begin() as conn:
            # A transaction that appended and rolled back takes no id; the clock's row lock is released.
            await append(conn, [OutboxMessage.of(topic, earned("m1", 999))])
            await conn.rollback()
        assert await relay(stack, engine).drain() == 3
    finally:
        await engine.dispose()
    records = await stack.read_all(Topic.POINTS)
    published = [(decode(r)["payload"]["points"], dict(r.headers)[ID_HEADER]) for r in records]
    assert [points for points, _ in published] == [2, 3, 1]
    assert [int(i) for _, i in published] == [1, 2, 3]
    assert len({dict(r.headers)[SOURCE_HEADER] for r in records}) == 1


async def test_a_round_larger_than_a_batch_goes_on_in_the_next_round_in_order(stack: Stack) -> None:
    """A round sends one record batch per partition (Kafka writes or refuses a batch whole, so no record
    of a round is on a partition above one that is not); what a batch cannot hold waits for the next."""
    _, engine = await downstream(stack)
    topic = stack.topic(Topic.POINTS)
    try:
        async with engine.begin() as conn:
            # 300 records of 4 KB for one key, one partition: more than a 512 KiB batch holds.
            await append(
                conn, [OutboxMessage(topic, i.to_bytes(2) * 2048, b"one member") for i in range(300)]
            )
        assert await relay(stack, engine).drain() == 300
    finally:
        await engine.dispose()
    records = await stack.read_all(Topic.POINTS)
    assert [int.from_bytes(r.value[:2]) for r in records] == list(range(300))
    assert [int(dict(r.headers)[ID_HEADER]) for r in records] == list(range(1, 301))


async def test_a_batch_kafka_refuses_for_good_is_sent_again_a_record_at_a_time_and_the_culprit_parked(
    stack: Stack,
) -> None:
    """Kafka does not say which record of a refused batch it refused: the next round sends one record a
    partition, the one refused alone is parked, the rest flow in order."""
    _, engine = await downstream(stack)
    topic = stack.topic(Topic.POINTS)
    admin = AIOKafkaAdminClient(**stack.infra.kafka_client())
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "20000"})]
        )
    finally:
        await admin.close()
    sizes = [100, 100, 50_000, 100, 100]
    try:
        async with engine.begin() as conn:
            await append(
                conn, [OutboxMessage(topic, bytes([i]) * n, b"one member") for i, n in enumerate(sizes)]
            )
        assert await relay(stack, engine).drain() == 5
        async with engine.connect() as conn:
            parked = (await conn.execute(select(OUTBOX_PARKED.c.id, OUTBOX_PARKED.c.reason))).all()
    finally:
        await engine.dispose()
    records = await stack.read_all(Topic.POINTS)
    assert [r.value[0] for r in records] == [0, 1, 3, 4]
    assert [(row.id, "TooLarge" in row.reason) for row in parked] == [(3, True)]


def relay(stack: Stack, engine: AsyncEngine) -> OutboxRelay:
    return OutboxRelay(engine, stack.infra.kafka_client(), CoreMetrics(CollectorRegistry()))
