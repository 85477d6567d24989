"""Kafka ACLs on vafactl's broker (StandardAuthorizer): each principal may do what shared/kafka_acls.py
derives from the code and nothing more. A POS writes only pos.raw; a service writes only its own topics
and reads only what it consumes; a client without credentials gets nothing at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from shared.kafka_acls import POS, principal_of
from shared.topics import Topic
from tests.support import Infra, Stack, as_record, decode, eventually, purchase


@pytest.fixture
def acls(infra: Infra) -> Infra:
    if not infra.authorized:
        pytest.skip("this broker applies no ACLs (vafactl's does; a container's does not)")
    return infra


@asynccontextmanager
async def producer_as(infra: Infra, principal: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**infra.kafka_client(principal), acks="all", request_timeout_ms=10_000)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_pos_may_produce_to_pos_raw_and_nowhere_else(stack: Stack, acls: Infra) -> None:
    await stack.create()
    key, value = as_record(purchase("m-pos", "1000"))
    async with producer_as(acls, POS) as pos:
        await pos.send_and_wait(stack.topic(Topic.POS_RAW), value, key=key)
        with pytest.raises(TopicAuthorizationFailedError):
            await pos.send_and_wait(stack.topic(Topic.PURCHASES), value, key=key)
        with pytest.raises(TopicAuthorizationFailedError):
            await pos.send_and_wait(stack.topic(Topic.POINTS), value, key=key)
    (record,) = await stack.read_all(Topic.POS_RAW)
    assert decode(record)["payload"]["member_id"] == "m-pos"
    assert await stack.read_all(Topic.PURCHASES) == []


async def test_a_service_writes_its_own_topics_only(stack: Stack, acls: Infra) -> None:
    await stack.create("tiers")
    key, value = as_record(purchase("m-tiers", "1000"))
    async with producer_as(acls, principal_of("tiers")) as tiers:
        await tiers.send_and_wait(stack.topic(Topic.TIERS), value, key=key)
        await tiers.send_and_wait(stack.topic("deadletter.tiers"), value, key=key)
        for foreign in (Topic.POINTS, Topic.PURCHASES, Topic.POS_RAW, "deadletter.points"):
            with pytest.raises(TopicAuthorizationFailedError):
                await tiers.send_and_wait(stack.topic(foreign), value, key=key)
    assert await stack.read_all(Topic.POINTS) == []


async def test_a_service_reads_what_it_consumes_only(stack: Stack, acls: Infra) -> None:
    """Notify consumes points.events (in its group) but not purchases."""
    await stack.create("notify")
    await stack.produce(Topic.POINTS, [as_record(purchase("m-r", "1"))])
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-r", "1"))])
    options = {**acls.kafka_client(principal_of("notify")), "auto_offset_reset": "earliest"}

    allowed = AIOKafkaConsumer(stack.topic(Topic.POINTS), **options, group_id=f"{stack.prefix}vafa-notify")
    await allowed.start()
    try:
        got = await eventually(lambda: _records(allowed), what="notify reads points.events")
        assert len(got) == 1
    finally:
        await allowed.stop()

    refused = AIOKafkaConsumer(stack.topic(Topic.PURCHASES), **options, group_id=f"{stack.prefix}vafa-notify")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await refused.start()
            for _ in range(40):
                await refused.getmany(timeout_ms=250)
    finally:
        await refused.stop()


async def _records(consumer: AIOKafkaConsumer) -> list[object]:
    return [r for rs in (await consumer.getmany(timeout_ms=500)).values() for r in rs]


async def test_a_client_without_credentials_is_not_let_in(acls: Infra) -> None:
    """No anonymous listener: a PLAINTEXT client cannot even fetch metadata."""
    anonymous = AIOKafkaProducer(bootstrap_servers=acls.kafka, request_timeout_ms=5_000)
    with pytest.raises(KafkaConnectionError):
        await anonymous.start()
    await anonymous.stop()
