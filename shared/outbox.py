"""The transactional outbox: rows written with the state change, published by one relay per database.

Rows get their ids in commit order (``append``) and are published in id order by an idempotent
producer (acks=all), one record batch per partition a round, then deleted. Each record carries its
database's source id and its outbox id, so on any partition a source's ids only rise, except for a
record published again: a relay killed between publish and delete publishes those rows again on
restart. Delivery is at least once, and a consumer's high-water mark per source and partition (or its
inbox, for records from elsewhere) makes the effect exactly once. A transaction-scoped advisory lock
keeps one relay active per database, so two replicas of a service never interleave and per-key order
holds.

A row Kafka refuses for good (larger than the broker takes, say) would block every row behind it: it is
moved to ``outbox_parked`` with the reason instead. The relay's loop is supervised: whatever kills a
round (Kafka away at start, a bug) is logged and the relay starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, delete, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_only

from shared.config import ServiceSettings
from shared.contracts import Contract, Envelope
from shared.failpoints import failpoint
from shared.metrics import CoreMetrics
from shared.store.bulk import one_of
from shared.store.core_tables import OUTBOX, OUTBOX_CLOCK, OUTBOX_PARKED
from shared.store.db import json_text

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "vafa" in ASCII, one relay per database.
RELAY_LOCK_KEY = 0x76616661

# What Kafka says of a record that no retry will get through; anything else is retried in order.
_REFUSED_FOR_GOOD = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)


_BATCH_BYTES = 512 * 1024
_MAX_REQUEST_BYTES = 1024 * 1024  # aiokafka's default; a record larger is parked


@dataclass
class _Batch:
    builder: BatchBuilder
    ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, topic: str, envelope: Envelope[Any]) -> OutboxMessage:
        return cls(
            topic=topic,
            value=envelope.to_bytes(),
            key=envelope.key.encode(),
            headers={"content-type": "application/json", "event-type": envelope.type},
        )


def emitted(
    settings: ServiceSettings,
    contract: Contract[Any],
    key: str,
    payload: BaseModel,
    cause: Envelope[Any] | None = None,
    occurred_at: datetime | None = None,
) -> OutboxMessage:
    """An event this service emits, as an outbox message: on the contract's topic (with the
    deployment's prefix), from this service, caused by ``cause`` when there is one."""
    fields: dict[str, Any] = cause.caused() if cause else {}
    if occurred_at:
        fields["occurred_at"] = occurred_at
    envelope = contract.envelope(key=key, producer=settings.service_name, payload=payload, **fields)
    return OutboxMessage.of(settings.topic_prefix + contract.topic, envelope)


_COPIED = ("id", "topic", "key", "value", "headers")  # created_at is the table's own

# Where a transaction's messages wait for its commit (a connection's ``info`` outlives its transactions).
_PENDING = "vafa.outbox_pending"
# Marks a connection whose transaction wrote to the outbox.
_APPENDED = "vafa.outbox_appended"

# Headers the relay gives every record: the database it came from and its outbox id. A consumer drops a
# record whose id is not above the last it took from that source on that partition (``shared.consumer``).
SOURCE_HEADER = "vafa-source"
ID_HEADER = "vafa-outbox-id"


async def append(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Add messages to the outbox inside the caller's transaction.

    They are written when the transaction commits, just before (``_write_pending``): their ids come from
    ``outbox_clock``, whose row the transaction then holds until it has committed, so ids are given in
    commit order and the relay, publishing in id order, never publishes an id below one it already
    published. Taken at the commit, the clock is the transaction's last lock: no other lock can wait
    behind it, so it adds no deadlock."""
    if messages:
        if not conn.in_transaction():
            await conn.begin()  # a connection that has not begun would commit nothing, and lose them
        conn.info.setdefault(_PENDING, []).extend(messages)
        conn.info[_APPENDED] = True


def appended(conn: AsyncConnection) -> bool:
    """Whether ``append`` wrote on ``conn`` since this was last asked (and forget it)."""
    return bool(conn.info.pop(_APPENDED, False))


@event.listens_for(Engine, "commit")
def _write_pending(conn: Connection) -> None:
    """Every engine's commit: the transaction's outbox messages, numbered by the clock, by binary COPY
    (no conflict to resolve, nothing returned; envelopes' bytes sent as they are: 10.0 against 30.2 µs
    of PostgreSQL's CPU a row than an INSERT of JSON, ``make bench-writes``, writes-20261203T075839Z).
    Runs inside SQLAlchemy's greenlet, so the driver's coroutines are awaited with ``await_only``; an
    error here fails the commit, and the transaction rolls back."""
    messages: list[OutboxMessage] | None = conn.info.pop(_PENDING, None)
    if not messages:
        return
    driver = conn.connection.driver_connection
    last = await_only(driver.fetchval(_TAKE_IDS, len(messages)))  # type: ignore[union-attr]
    if last is None:
        raise RuntimeError("outbox_clock has no row: the store's migrations have not run")
    first = last - len(messages) + 1
    await_only(
        driver.copy_records_to_table(  # type: ignore[union-attr]
            OUTBOX.name,
            records=[
                (first + i, m.topic, m.key, m.value, json_text(m.headers)) for i, m in enumerate(messages)
            ],
            columns=_COPIED,
        )
    )


@event.listens_for(Engine, "rollback")
@event.listens_for(Engine, "begin")
def _forget_pending(conn: Connection) -> None:
    # A rolled-back transaction's messages are never written. A connection the server dropped has
    # no info left to clear (SQLAlchemy clears it with the connection), and asking for it would raise
    # in place of the failure that is being rolled back.
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


_TAKE_IDS = f"UPDATE {OUTBOX_CLOCK.name} SET last_id = last_id + $1 RETURNING last_id"


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        kafka: Mapping[str, Any],
        metrics: CoreMetrics,
        *,
        batch_size: int = 1000,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._engine = engine
        self._kafka = dict(kafka)  # aiokafka client options: servers, and SASL/TLS where set
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._gauged_at = float("-inf")
        self._live: AIOKafkaProducer | None = None
        self._source: bytes | None = None  # this database's id as a source (outbox_clock)
        self._more = False  # the last round left rows to send at once (a batch was full, or refused)
        self._one_a_partition = False  # after Kafka refused a batch of several for good
        self._partitioner = DefaultPartitioner()  # what ``send`` would choose: the key's murmur2

    def wake(self) -> None:
        """Called after a transaction that wrote to the outbox: publish now rather than at next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="outbox-relay")

    async def _supervise(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self._metrics.outbox_errors.inc()
                log.exception("outbox relay stopped; starting it again in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task

    async def _producer(self) -> AIOKafkaProducer:
        if self._live is None:
            # A round's records for one partition go as one batch (``_batches``), up to 512 KiB.
            producer = AIOKafkaProducer(
                **self._kafka,
                enable_idempotence=True,
                acks="all",
                max_batch_size=_BATCH_BYTES,
                max_request_size=_MAX_REQUEST_BYTES,
            )
            await producer.start()
            self._live = producer
        return self._live

    async def _close(self) -> None:
        if self._live is not None:
            producer, self._live = self._live, None
            await producer.stop()

    async def drain(self) -> int:
        """Publish everything waiting, then return (for commands that write events and exit)."""
        total = 0
        try:
            while (published := await self.publish_once()) or self._more:
                total += published
        finally:
            await self._close()
        return total

    async def _run(self) -> None:
        backoff = 0.1
        try:
            while True:
                # Cleared before publishing, not after: a commit that wakes us while we publish must
                # not be lost (it was, and cost up to a poll interval of latency under steady load).
                self._wake.clear()
                try:
                    published = await self.publish_once()
                    backoff = 0.1
                except Exception:
                    self._metrics.outbox_errors.inc()
                    log.exception("outbox publish failed; retrying in %.1fs", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if published == self._batch_size or self._more:
                    continue  # more is waiting
                if self._stopping:
                    return  # drained
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
        finally:
            await self._close()

    async def publish_once(self) -> int:
        async with self._engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))):
                return 0  # another replica's relay is publishing this database's outbox
            if self._source is None:
                self._source = str(await conn.scalar(select(OUTBOX_CLOCK.c.source))).encode()
            rows = (
                await conn.execute(
                    select(
                        OUTBOX.c.id,
                        OUTBOX.c.topic,
                        OUTBOX.c.key,
                        OUTBOX.c.value,
                        OUTBOX.c.headers,
                        OUTBOX.c.created_at,
                    )
                    .order_by(OUTBOX.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            refused: dict[int, str] = {}
            self._more = False
            if rows:
                producer = await self._producer()
                batches, taken = await self._batches(producer, rows, refused)
                self._more, rows = len(taken) < len(rows), taken
                # send_batch only enqueues; awaiting the futures waits for every partition's ack.
                sent = [
                    (batch, await producer.send_batch(batch.builder, topic, partition=partition))
                    for (topic, partition), batch in batches.items()
                ]
                alone = False
                try:
                    for batch, ack in sent:
                        try:
                            await ack
                        except _REFUSED_FOR_GOOD as error:
                            if len(batch.ids) > 1:
                                alone = True  # which record Kafka refused is not said: each goes alone
                            else:
                                refused[batch.ids[0]] = repr(error)
                except BaseException:
                    await self._close()
                    raise
                if alone or refused:
                    # An idempotent producer numbers its next batch on a partition after the refused one,
                    # which Kafka then refuses as out of order: a new producer starts a new numbering.
                    await self._close()
                self._one_a_partition = alone
                if alone:
                    self._more = True
                    return 0  # the round is sent again, a record a partition; what it delivered, twice
                failpoint("relay_after_publish")
                if refused:
                    await self._park(conn, [row for row in rows if row.id in refused], refused)
                await conn.execute(delete(OUTBOX).where(one_of(OUTBOX.c.id, [row.id for row in rows])))
            # The gauges, at most once a second: not two more statements after every batch.
            if (now := time.monotonic()) >= self._gauged_at + 1.0:
                self._gauged_at = now
                self._metrics.outbox_backlog.set(
                    await conn.scalar(select(func.count()).select_from(OUTBOX)) or 0
                )
                self._metrics.outbox_oldest.set(await oldest_waiting(conn))
        for row in rows:
            if row.id not in refused:
                self._metrics.outbox_published.labels(row.topic).inc()
        return len(rows)

    async def _batches(
        self, producer: AIOKafkaProducer, rows: Sequence[Any], refused: dict[int, str]
    ) -> tuple[dict[tuple[str, int], _Batch], Sequence[Any]]:
        """The rows as ONE record batch per partition, and the rows they hold (a prefix of ``rows``).

        One batch a partition, because Kafka writes or refuses a batch whole: a partition's records of a
        round are all on Kafka or none is, and the next round starts after this one's acks. So a record
        is never on a partition above an id of the same source that is not (a consumer, having taken
        the higher id, would drop the lower one as a duplicate). aiokafka's ``send`` batches by size
        and time, and a batch left to expire unsent would let the one behind it through."""
        batches: dict[tuple[str, int], _Batch] = {}
        partitions: dict[str, list[int]] = {}
        assert self._source is not None
        taken = len(rows)
        for i, row in enumerate(rows):
            headers = [*_headers(row), (SOURCE_HEADER, self._source), (ID_HEADER, str(row.id).encode())]
            size = DefaultRecordBatchBuilder.estimate_size_in_bytes(row.key, row.value, headers)
            if size > _MAX_REQUEST_BYTES:
                refused[row.id] = repr(MessageSizeTooLargeError(f"{size} bytes"))
                continue
            if row.topic not in partitions:
                partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
            ours = partitions[row.topic]
            if row.key is None:
                partition = self._partitioner(None, ours, ours)
            else:
                partition = ours[key_hash(row.key) % len(ours)]
            batch = batches.get((row.topic, partition))
            if batch is None:
                batch = batches[row.topic, partition] = _Batch(producer.create_batch())
            elif self._one_a_partition:
                taken = i
                break
            if batch.builder.append(timestamp=None, key=row.key, value=row.value, headers=headers) is None:
                taken = i  # full: this row and the rest go in the next round
                break
            batch.ids.append(row.id)
        for batch in batches.values():
            batch.builder.close()
        return batches, rows[:taken]

    async def _park(self, conn: AsyncConnection, rows: Sequence[Any], reasons: Mapping[int, str]) -> None:
        await conn.execute(
            insert(OUTBOX_PARKED),
            [
                {
                    "id": row.id,
                    "topic": row.topic,
                    "key": row.key,
                    "value": row.value,
                    "headers": row.headers,
                    "reason": reasons[row.id],
                    "created_at": row.created_at,
                }
                for row in rows
            ],
        )
        for row in rows:
            self._metrics.outbox_parked.labels(row.topic).inc()
            log.error(
                "outbox row %s for %s refused by Kafka for good, parked: %s",
                row.id,
                row.topic,
                reasons[row.id],
            )


@lru_cache(maxsize=16384)
def key_hash(key: bytes) -> int:
    """The key's murmur2, as Kafka's default partitioner takes it (``DefaultPartitioner``): the relay
    picks the partition ``send`` would. aiokafka's murmur2 is pure Python, 3 µs a key, and a member's key
    comes back with each event about them: kept, the hash is looked up in 0.15."""
    return int(murmur2(key)) & 0x7FFFFFFF


async def oldest_waiting(conn: AsyncConnection) -> float:
    """Seconds the oldest outbox row has waited (0 when none waits)."""
    age = await conn.scalar(select(func.extract("epoch", func.now() - func.min(OUTBOX.c.created_at))))
    return float(age or 0)


def _headers(row: Any) -> list[tuple[str, bytes]]:
    # A dead letter keeps its record's headers: not the position the record had, which the relay gives.
    return [(k, v.encode()) for k, v in row.headers.items() if k not in (SOURCE_HEADER, ID_HEADER)]
