"""The outbox relay killed mid-publish: every event reaches Kafka, and downstream applies it once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.config import ServiceSettings
from shared.consumer import BatchResult, ContractDecoder, ReliableConsumer
from shared.contracts import POINTS_EARNED, Envelope, PointsEarned
from shared.metrics import CoreMetrics
from shared.outbox import OutboxMessage
from shared.store.core_tables import CORE_METADATA, INBOX, OUTBOX
from shared.store.db import make_engine
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, decode, eventually, purchase, store_settings

effects_metadata = MetaData()
effects = Table(
    "effects",
    effects_metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("points", Integer, nullable=False),
)


async def record_effects(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
    """A downstream service's handler: one row per points.earned it applies."""
    await conn.execute(
        effects.insert(),
        [{"event_id": e.event_id, "member_id": e.key, "points": e.payload.points} for e in events],
    )
    return BatchResult()


async def test_relay_killed_after_publish_before_delete_loses_nothing_and_doubles_nothing(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    purchases = [purchase(f"m{i % 5}", f"{20 + i}.75") for i in range(30)]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in purchases])

    service = ServiceProcess("services.points", stack.env("points"), log_dir)
    services.append(service)
    service.start(VAFA_FAILPOINTS="relay_after_publish")
    assert await service.wait_exit() == -9
    published_before_crash = len(await stack.read_all(Topic.POINTS))
    assert published_before_crash > 0
    assert await stack.scalar("points", "SELECT count(*) FROM outbox") > 0  # not yet marked sent

    service.start()
    await service.wait_ready()
    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 0 FROM outbox"), what="drained")

    records = await stack.read_all(Topic.POINTS)
    ids = [decode(r)["event_id"] for r in records]
    assert len(set(ids)) == 30, "every earned event reached Kafka"
    assert len(ids) > 30, "the relay published some twice (at least once delivery)"

    # A downstream service on the same consumer core applies each event exactly once.
    # A consumer of the test's own, as the admin (the services' principals have no group "downstream").
    kafka = stack.infra.kafka_settings()
    settings, engine = await downstream(
        stack,
        kafka_bootstrap_servers=stack.infra.kafka,
        kafka_security_protocol=kafka.kafka_security_protocol,
        kafka_sasl_mechanism=kafka.kafka_sasl_mechanism,
        kafka_sasl_username=kafka.kafka_sasl_username,
        kafka_sasl_password=kafka.kafka_sasl_password,
        # Small batches: a source's first batch on a partition is claimed in the inbox, the rest (and
        # the copies the relay published again) by the source's high-water mark.
        consumer_max_records=3,
    )
    broker = KafkaBroker(stack.infra.kafka, security=settings.kafka_security(), apply_types=False)
    ReliableConsumer(
        settings=settings,
        engine=engine,
        decoder=ContractDecoder([POINTS_EARNED]),
        handler=record_effects,
        metrics=CoreMetrics(CollectorRegistry()),
    ).subscribe(broker)
    await broker.start()
    try:
        end = await stack.end_offsets(Topic.POINTS)

        async def all_consumed() -> bool:
            return await stack.committed_offsets("downstream", Topic.POINTS) == end

        await eventually(all_consumed, what="downstream consumed every record, duplicates too")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(effects.c.member_id, effects.c.points))).all()
            claimed_by_event = int(await conn.scalar(select(func.count()).select_from(INBOX)) or 0)
    finally:
        await broker.stop()
        await engine.dispose()
    assert len(rows) == 30
    assert sum(p for _, p in rows) == sum(20 + i for i in range(30))
    assert claimed_by_event < 30, "the later batches were claimed by the marks"


async def downstream(stack: Stack, **settings_too: Any) -> tuple[ServiceSettings, AsyncEngine]:
    """A downstream service's settings (and ``settings_too``: Kafka's, batch sizes) and store (the core
    tables and ``effects``)."""
    await stack.create("downstream")
    settings = store_settings(stack, "downstream").model_copy(
        update={"topic_prefix": stack.prefix, **settings_too}
    )
    engine = make_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(CORE_METADATA.create_all)
        await conn.run_sync(effects_metadata.create_all)
    return settings, engine


def earned(member: str, points: int) -> Envelope[Any]:
    payload = PointsEarned(
        member_id=member,
        purchase_event_id=uuid.uuid4(),
        points=points,
        balance=points,
        currency="IRR",
        amount=Decimal(points * 100),
        rules=[],
    )
    return POINTS_EARNED.envelope(key=member, producer="points", payload=payload)


class _Commits:
    """The Kafka consumer's part in ``process``: offsets committed, nothing else."""

    async def commit(self, offsets: Any) -> None:
        pass

    def highwater(self, tp: Any) -> None:
        return None


async def test_the_relay_is_woken_after_a_batch_that_emitted_and_not_after_one_that_did_not(
    stack: Stack,
) -> None:
    """Each wake is a relay round (a transaction, a lock, a read of the outbox): a service that emits
    for few of the events it consumes (notify, analytics) paid one after every batch."""
    settings, engine = await downstream(stack)

    async def echo_the_big_ones(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        await record_effects(conn, events)
        return BatchResult(outgoing=[OutboxMessage.of("echo", e) for e in events if e.payload.points >= 100])

    wakes: list[int] = []
    core = ReliableConsumer(
        settings=settings,
        engine=engine,
        decoder=ContractDecoder([POINTS_EARNED]),
        handler=echo_the_big_ones,
        metrics=CoreMetrics(CollectorRegistry()),
        on_committed=lambda: wakes.append(1),
    )

    def batch(points: int, offset: int) -> list[Any]:
        key, value = as_record(earned(f"m{offset}", points))
        return [ConsumerRecord(stack.topic(Topic.POINTS), 0, offset, 0, 0, key, value, None, 0, 0, [])]

    try:
        await core.process(batch(5, 0), _Commits())
        assert wakes == []
        await core.process(batch(500, 1), _Commits())
        assert wakes == [1]
        await core.process([*batch(7, 2), *batch(8, 3)], _Commits())
        assert wakes == [1]
        async with engine.connect() as conn:
            waiting = (await conn.execute(select(OUTBOX.c.topic))).scalars().all()
            applied = (await conn.execute(select(effects.c.points))).scalars().all()
    finally:
        await engine.dispose()
    assert waiting == ["echo"] and sorted(applied) == [5, 7, 8, 500]
