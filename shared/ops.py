"""The ops API every consuming service mounts (``shared/service.py``), which the console's Operations
page reads with the operator's token: how far behind the service's consumer group is on each partition,
what it has consumed, its outbox backlog and its dead letters counted by reason; and the re-drive
(``ops:repair``, admins) of one reason's dead letters, by ``shared/repair.py``'s redrive, audited under
the operator's name in the service's ``audit_log``. The audit log is also what says which dead letters
were re-driven already, so a second press sends none twice (the command line keeps its own record)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import repair
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.config import ServiceSettings
from shared.deadletter import AT, MAX_REASON_CHARS, REASON, SOURCE_TOPIC
from shared.errors import NotFound, Unavailable
from shared.identity import Caller, Permission, secured
from shared.metrics import CoreMetrics
from shared.outbox import oldest_waiting
from shared.store.core_tables import AUDIT_LOG, OUTBOX
from shared.wire import Out

REDRIVE_ACTION = "ops.redrive"
# Throughput is measured between two reads of the status at most this far apart.
RATE_WINDOW_S = 300.0


class PartitionLag(Out):
    topic: str
    partition: int
    committed: int | None = Field(description="the group's committed offset (null: none yet)")
    end: int = Field(description="the partition's high watermark")
    lag: int


class Throughput(Out):
    outcomes: dict[str, int] = Field(description="events consumed since the process started, by outcome")
    per_second: float | None = Field(
        description="events consumed per second between the previous status read and this one "
        "(null on the first)"
    )
    window_s: float | None


class DeadLetterReason(Out):
    reason: str
    count: int
    waiting: int = Field(description="not yet re-driven from the ops API")
    source_topics: list[str] = Field(description="where they came from (none: not a refused record)")
    last_at: datetime | None


class OpsStatus(Out):
    service: str
    group: str
    lag: list[PartitionLag]
    total_lag: int
    throughput: Throughput
    outbox_backlog: int
    outbox_oldest_s: float
    dead_letters: list[DeadLetterReason]
    redrive_available: bool = Field(description="a repair principal is set for Kafka (or none is needed)")


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]


class Redriven(Out):
    reason: str
    redriven: list[str] = Field(description="the dead letters sent back (topic:partition:offset)")
    skipped: int = Field(description="dead letters with no topic to go back to")


class _Rate:
    """Events per second between status reads, from the consumer's own counter."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def observe(self, total: int) -> tuple[float | None, float | None]:
        now = time.monotonic()
        while self.samples and now - self.samples[0][0] > RATE_WINDOW_S:
            self.samples.popleft()
        self.samples.append((now, total))
        then, before = self.samples[0]
        window = now - then
        return ((total - before) / window, window) if window >= 1 else (None, None)


def _outcomes(metrics: CoreMetrics) -> dict[str, int]:
    counted: dict[str, int] = {}
    for family in metrics.events.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                outcome = sample.labels["outcome"]
                counted[outcome] = counted.get(outcome, 0) + int(sample.value)
    return counted


async def _lag(settings: ServiceSettings, topics: Sequence[str]) -> list[PartitionLag]:
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.consumer_group)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**settings.kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    found = []
    for tp in partitions:
        done = committed.get(tp)
        at = done.offset if done is not None and done.offset >= 0 else None
        found.append(PartitionLag(topic=tp.topic, partition=tp.partition, committed=at, end=ends[tp],
                                  lag=max(ends[tp] - (at or 0), 0)))  # fmt: skip
    return found


async def _redriven(conn: AsyncConnection) -> set[str]:
    """The dead letters re-driven from this API (the audit log's entries say which)."""
    rows = await conn.execute(select(AUDIT_LOG.c.after).where(AUDIT_LOG.c.action == REDRIVE_ACTION))
    return {position for (after,) in rows for position in (after or {}).get("redriven", [])}


def _by_reason(letters: Sequence[Any], redriven: set[str]) -> list[DeadLetterReason]:
    grouped: dict[str, dict[str, Any]] = {}
    for letter in letters:
        headers = repair.headers_of(letter)
        reason = headers.get(REASON, "")
        group = grouped.setdefault(reason, {"count": 0, "waiting": 0, "topics": set(), "at": None})
        group["count"] += 1
        group["waiting"] += repair.position_of(letter) not in redriven
        if source := headers.get(SOURCE_TOPIC):
            group["topics"].add(source)
        if at := headers.get(AT):
            group["at"] = max(group["at"] or at, at)
    return [
        DeadLetterReason(
            reason=reason,
            count=g["count"],
            waiting=g["waiting"],
            source_topics=sorted(g["topics"]),
            last_at=g["at"],
        )
        for reason, g in sorted(grouped.items(), key=lambda item: -item[1]["count"])
    ]


def ops_router(
    settings: ServiceSettings, engine: AsyncEngine, metrics: CoreMetrics, topics: Sequence[str]
) -> APIRouter:
    """``topics``: what the service's consumer reads (with the deployment's prefix)."""
    router = APIRouter(prefix="/v1/ops", tags=["ops"], route_class=GuardedRoute)
    rate = _Rate()

    @router.get("/status", response_model=OpsStatus, **secured(Permission.OPS_READ))
    async def status() -> OpsStatus:
        """Consumer lag per partition, events consumed, outbox backlog, dead letters by reason."""
        try:
            lag = await _lag(settings, topics)
            letters = await repair.dead_letters(settings)
        except KafkaError as error:
            raise Unavailable(f"Kafka did not answer: {error!r}", title="Kafka unavailable") from error
        async with engine.connect() as conn:
            backlog = int(await conn.scalar(select(func.count()).select_from(OUTBOX)) or 0)
            oldest = await oldest_waiting(conn)
            redriven = await _redriven(conn)
        outcomes = _outcomes(metrics)
        per_second, window = rate.observe(sum(outcomes.values()))
        return OpsStatus(
            service=settings.service_name,
            group=settings.consumer_group,
            lag=lag,
            total_lag=sum(p.lag for p in lag),
            throughput=Throughput(outcomes=outcomes, per_second=per_second, window_s=window),
            outbox_backlog=backlog,
            outbox_oldest_s=oldest,
            dead_letters=_by_reason(letters, redriven),
            redrive_available=settings.repairing() is not None,
        )

    @router.post("/redrive", response_model=Redriven, **secured(Permission.OPS_REPAIR))
    async def redrive(body: RedriveIn, caller: Caller) -> Redriven:
        """After a fix: the dead letters refused for exactly ``reason``, not re-driven yet, sent back to
        the topics they came from (``vafa-redriven-from`` / ``vafa-redriven-for`` headers: this
        service applies them again, the others ignore them); audited as ``ops.redrive``."""
        repairing = settings.repairing()
        if repairing is None:
            raise Unavailable(
                "re-drive writes to other services' topics: set VAFA_REPAIR_KAFKA_SASL_USERNAME and "
                "_PASSWORD (a principal that may), or use `python -m shared.repair redrive`",
                title="No repair principal",
            )
        async with engine.connect() as conn:
            done = await _redriven(conn)
        result = await repair.redrive(repairing, reason_is=body.reason, skip=done)
        sent = [line["dead_letter"] for line in result["redriven"]]
        if not sent and not result["skipped"]:
            raise NotFound(
                f"no dead letter waits with the reason {body.reason!r}", title="Nothing to re-drive"
            )
        # Recorded once sent: an entry for what went back, never for what did not.
        async with engine.begin() as conn:
            what = {"reason": body.reason, "redriven": sent, "skipped": len(result["skipped"])}
            await record(conn, caller, REDRIVE_ACTION, f"deadletters:{settings.service_name}", after=what)
        return Redriven(reason=body.reason, redriven=sent, skipped=len(result["skipped"]))

    return router
