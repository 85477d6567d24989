"""The outbox relay killed mid-publish: every event reaches Kafka, and downstream applies it once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import ServiceSettings
from shared.consumer import BatchResult, ContractDecoder, ReliableConsumer
from shared.contracts import POINTS_EARNED, Envelope
from shared.metrics import CoreMetrics
from shared.store.core_tables import CORE_METADATA
from shared.store.db import make_engine
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, decode, eventually, purchase

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
    await stack.create("points", "downstream")
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
    settings = ServiceSettings(
        service_name="downstream",
        kafka_bootstrap_servers=stack.infra.kafka,
        kafka_security_protocol=kafka.kafka_security_protocol,
        kafka_sasl_mechanism=kafka.kafka_sasl_mechanism,
        kafka_sasl_username=kafka.kafka_sasl_username,
        kafka_sasl_password=kafka.kafka_sasl_password,
        topic_prefix=stack.prefix,
        pg_host=stack.infra.pg_host,
        pg_port=stack.infra.pg_port,
        pg_user=stack.infra.pg_user,
        pg_password=stack.infra.pg_password,
        pg_database=stack.database("downstream"),
    )
    engine = make_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(CORE_METADATA.create_all)
        await conn.run_sync(effects_metadata.create_all)
    broker = KafkaBroker(stack.infra.kafka, security=settings.kafka_security())
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
    finally:
        await broker.stop()
        await engine.dispose()
    assert len(rows) == 30
    assert sum(p for _, p in rows) == sum(20 + i for i in range(30))
