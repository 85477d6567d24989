"""The transactional outbox: rows written with the state change, published by one relay per database.

Rows are published in id order by an idempotent producer (acks=all), then deleted. A relay killed
between publish and delete publishes those rows again on restart: delivery is at least once, and every
consumer's inbox makes the effect exactly once. A transaction-scoped advisory lock keeps one relay
active per database, so two replicas of a service never interleave and per-key order holds.

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
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)
from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.config import ServiceSettings
from shared.contracts import Contract, Envelope
from shared.failpoints import failpoint
from shared.metrics import CoreMetrics
from shared.store.bulk import one_of
from shared.store.core_tables import OUTBOX, OUTBOX_PARKED
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


_COPIED = ("topic", "key", "value", "headers")  # the rest are the table's own: id, created_at

# Marks a connection whose transaction wrote to the outbox (its ``info`` outlives the transaction).
_APPENDED = "vafa.outbox_appended"


async def append(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Add messages to the outbox inside the caller's transaction.

    By binary COPY on the transaction's own connection: the outbox takes plain rows (no conflict, nothing
    returned), and COPY sends the envelopes' bytes as they are, where ``rows_insert`` base64-encoded them
    into a JSON document PostgreSQL parsed back: 10.0 against 30.2 µs of PostgreSQL's CPU a row, 8.3
    against 14.4 of ours, at batches of 500 (``make bench-writes``, writes-20261203T075839Z.json)."""
    if messages:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            OUTBOX.name,
            records=[(m.topic, m.key, m.value, json_text(m.headers)) for m in messages],
            columns=_COPIED,
        )
        conn.info[_APPENDED] = True


def appended(conn: AsyncConnection) -> bool:
    """Whether ``append`` wrote on ``conn`` since this was last asked (and forget it)."""
    return bool(conn.info.pop(_APPENDED, False))


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

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self._kafka, enable_idempotence=True, acks="all", linger_ms=2)

    async def drain(self) -> int:
        """Publish everything waiting, then return (for commands that write events and exit)."""
        producer = self._producer()
        await producer.start()
        total = 0
        try:
            while published := await self.publish_once(producer):
                total += published
        finally:
            await producer.stop()
        return total

    async def _run(self) -> None:
        producer = self._producer()
        await producer.start()
        backoff = 0.1
        try:
            while True:
                # Cleared before publishing, not after: a commit that wakes us while we publish must
                # not be lost (it was, and cost up to a poll interval of latency under steady load).
                self._wake.clear()
                try:
                    published = await self.publish_once(producer)
                    backoff = 0.1
                except Exception:
                    self._metrics.outbox_errors.inc()
                    log.exception("outbox publish failed; retrying in %.1fs", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if published == self._batch_size:
                    continue  # more is waiting
                if self._stopping:
                    return  # drained
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
        finally:
            await producer.stop()

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        async with self._engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))):
                return 0  # another replica's relay is publishing this database's outbox
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
            if rows:
                # send() only enqueues, in order; awaiting the futures waits for every ack.
                acks = []
                for row in rows:
                    try:
                        acks.append(
                            await producer.send(row.topic, row.value, key=row.key, headers=_headers(row))
                        )
                    except _REFUSED_FOR_GOOD as error:  # refused before it was sent (too large)
                        refused[row.id] = repr(error)
                for row, ack in zip([r for r in rows if r.id not in refused], acks, strict=True):
                    try:
                        await ack
                    except _REFUSED_FOR_GOOD as error:
                        refused[row.id] = repr(error)
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


async def oldest_waiting(conn: AsyncConnection) -> float:
    """Seconds the oldest outbox row has waited (0 when none waits)."""
    age = await conn.scalar(select(func.extract("epoch", func.now() - func.min(OUTBOX.c.created_at))))
    return float(age or 0)


def _headers(row: Any) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in row.headers.items()]
