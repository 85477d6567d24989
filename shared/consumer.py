"""The reliable consumer core every service uses.

For each batch faststream hands over (records of several partitions, in order per partition):

1. decode each record into its versioned contract; what cannot be decoded becomes a dead letter;
2. in ONE PostgreSQL transaction: claim the events (a redelivered event is skipped), let the service
   apply the fresh ones, write its outgoing events and the dead letters to the outbox;
3. only then commit, per partition, the offset after the batch's last record.

Claiming: a record another Vafa service's relay published carries its source database and outbox id,
and a source's ids only rise on a partition except when a record is published again (``shared.outbox``);
so the transaction raises one high-water mark per source, topic and partition, and a record at or
below its mark is a duplicate: a relay's re-publish after a crash, a batch redelivered after a crash or
a rebalance (the mark's row lock also makes a second consumer of the same partition wait, then skip).
Where systems outside Vafa write (``pos.raw``: their headers are not believed) the mark is the Kafka
offset itself: it catches the same record delivered again, and what a POS sends again at a new offset
is the service's to judge (ingest's receipts). A topic deleted and created again numbers its offsets
from 0 again: a mark at or past a partition's end is dropped before its first batch (README,
"Recreating pos.raw").
Everything else — what an operator re-drives, what tests and tools produce, and a source's first
records on a partition (events applied before the marks existed are in the inbox) — is claimed by
event_id in the inbox.

A crash before step 2 commits redelivers the batch; a crash between 2 and 3 redelivers events the marks
or the inbox already hold. Either way each event has exactly one effect. Transient database errors retry with
backoff; a handler bug is isolated by retrying event by event and dead-lettering the one that fails.
faststream's own batch ``ack()`` is not used: it commits every assigned partition's position.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningInsert

from shared.config import ServiceSettings
from shared.contracts import ALL_CONTRACTS, Contract, Envelope
from shared.contracts.common import control_character_in_json
from shared.contracts.envelope import utcnow
from shared.deadletter import REDRIVEN_FOR, dead_letter
from shared.failpoints import failpoint
from shared.metrics import CoreMetrics
from shared.outbox import ID_HEADER, SOURCE_HEADER, OutboxMessage, append, appended
from shared.store.bulk import rows_insert
from shared.store.core_tables import INBOX, INBOX_HIGH_WATER
from shared.store.failures import RETRY, WRONG, classify, sqlstate, why
from shared.topics import WRITTEN_OUTSIDE, dead_letter_topic

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]

# A batch handed over this soon after the last one finished, whose newest record is older than _KEPT_MS,
# came from aiokafka's buffer (``caught_up``). The margins: faststream's turn between batches on a busy
# event loop; a direct fetch's round trip on a busy machine (a skewed producer clock errs either way:
# at worst a batch waits consumer_fresh_fetch_ms, or goes without what is waiting).
_BACK_TO_BACK_S = 0.02
_KEPT_MS = 20

# Undecodable records have no event_id of their own: key their inbox row by where they sit.
_POSITION_NAMESPACE = uuid.UUID("5b0e8f5e-3c1a-4f8e-9a51-7a1f0d6c2b11")
# The "source" of marks that are Kafka offsets (topics written outside Vafa): no outbox has this id.
KAFKA_OFFSETS = str(uuid.uuid5(_POSITION_NAMESPACE, "kafka offsets"))
# Source headers read once each: a source is a database (one per service), so a consumer sees a few;
# past this many (a hostile producer inventing sources) each is read again, not kept.
_SOURCES_KEPT = 1024


@dataclass
class BatchResult:
    """What a service's handler returns: events to emit, events it refuses (with the reason), and events
    it found it had applied before (sent again at another position: counted as duplicates)."""

    outgoing: list[OutboxMessage] = field(default_factory=list)
    rejected: dict[uuid.UUID, str] = field(default_factory=dict)
    repeats: set[uuid.UUID] = field(default_factory=set)


BatchHandler = Callable[[AsyncConnection, Sequence[Envelope[Any]]], Awaitable[BatchResult]]


@dataclass(frozen=True)
class _Event:
    record: Record
    envelope: Envelope[Any]


@dataclass(frozen=True)
class _Poison:
    record: Record
    reason: str
    event_id: uuid.UUID


_Item = _Event | _Poison


class Decoder(Protocol):
    """Turns a record into the event it carries, or says why it cannot (the dead letter's reason)."""

    @property
    def topics(self) -> Sequence[str]:
        """The topics it reads, without the deployment's topic prefix."""

    @property
    def description(self) -> str: ...

    def __call__(self, record: Record) -> Envelope[Any] | str | None:
        """The event; or why it is refused (a dead letter); or None: a valid event of a kind this
        service has no use for (topics carry several kinds), skipped."""


def topics_of(contracts: Sequence[Contract[Any]]) -> list[str]:
    """The topics that carry these contracts, without the deployment's topic prefix."""
    return sorted({str(c.topic) for c in contracts})


class ContractDecoder:
    """Decodes enveloped events of the given versioned contracts."""

    def __init__(self, contracts: Sequence[Contract[Any]]) -> None:
        # Parametrised once per contract: pydantic builds each Envelope[Payload] validator here.
        self._models: dict[tuple[Any, Any], Any] = {
            (c.name, c.version): Envelope[c.payload]  # type: ignore[name-defined]
            for c in contracts
        }
        self._others = {(c.name, c.version) for c in ALL_CONTRACTS} - set(self._models)
        self.topics: Sequence[str] = topics_of(contracts)
        self.description = ", ".join(f"{c.name} v{c.version}" for c in contracts) + " (the Envelope)"

    def __call__(self, record: Record) -> Envelope[Any] | str | None:
        if (written := self._as_written(record)) is not None:
            return written
        try:
            raw = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError as error:
            return f"not JSON: {error}"
        if not isinstance(raw, dict):
            return f"not a JSON object but {type(raw).__name__}"
        if refused := control_character_in_json(record.value or b""):
            return refused
        model = self._models.get((raw.get("type"), raw.get("schema_version")))
        if model is None and (raw.get("type"), raw.get("schema_version")) in self._others:
            return None
        if model is None:
            return (
                f"unknown event type {raw.get('type')!r} version {raw.get('schema_version')!r}"
                f" on topic {record.topic}"
            )
        try:
            # Validating the bytes again beats validating the parsed dict: pydantic parses in Rust.
            envelope: Envelope[Any] = model.model_validate_json(record.value or b"")
        except ValidationError as error:
            details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
            return f"invalid {raw.get('type')}: {details}"
        return envelope

    def _as_written(self, record: Record) -> Envelope[Any] | None:
        """The envelope, when the record reads as Vafa writes one (its type and version among its first
        fields, as pydantic orders them) and validates as that contract; None for anything else, which
        the full way (``__call__``) decodes and explains. Parsing the whole record just to learn its
        type took a sixth of a purchase's decode. The envelope's own type and version must be the ones
        read here, so a record that only seems to say them is decoded the full way too."""
        value = record.value or b""
        said = _TYPE_AS_WRITTEN.search(value, 0, 200)
        # NaN and Infinity are not JSON: pydantic's parser takes them (into fields a view skips), orjson
        # refuses the record, so such a record goes the full way and is refused as not JSON.
        if said is None or b"NaN" in value or b"Infinity" in value or control_character_in_json(value):
            return None
        kind, version = said.group(1).decode(), int(said.group(2))
        model = self._models.get((kind, version))
        if model is None:
            return None
        try:
            envelope: Envelope[Any] = model.model_validate_json(value)
        except ValidationError:
            return None
        return envelope if (envelope.type, envelope.schema_version) == (kind, version) else None


# How Vafa's own envelopes begin after their event id (pydantic writes fields in order, no spaces).
_TYPE_AS_WRITTEN = re.compile(rb'"type":"([a-z0-9._]{1,100})","schema_version":([0-9]{1,9})[,}]')


class ReliableConsumer:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        engine: AsyncEngine,
        decoder: Decoder,
        handler: BatchHandler,
        metrics: CoreMetrics,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._handler = handler
        self._metrics = metrics
        self._on_committed = on_committed
        self._decoder = decoder
        self.topics = sorted({settings.topic_prefix + t for t in decoder.topics})
        self._marked_by_id = {settings.topic_prefix + t for t in decoder.topics if t not in WRITTEN_OUTSIDE}
        self._marked_by_offset = {settings.topic_prefix + t for t in decoder.topics if t in WRITTEN_OUTSIDE}
        self._offsets_checked: set[tuple[str, int]] = set()
        self._check_ends: dict[tuple[str, int], int] = {}
        self._sources: dict[bytes, str] = {}  # a source header as read, to its id written as a UUID
        self.dead_letter_topic = settings.topic_prefix + dead_letter_topic(settings.service_name)
        self._idle = asyncio.Event()
        self._idle.set()
        self._wrote_outbox = False
        self._stalled_since: float | None = None
        self._finished_at = float("-inf")
        metrics.consumer_stalled.set_function(self.stalled_for)

    def stalled_for(self) -> float:
        """Seconds this consumer has been retrying the same batch without committing (0 when not)."""
        return time.monotonic() - self._stalled_since if self._stalled_since is not None else 0.0

    def subscribe(self, broker: KafkaBroker) -> None:
        """Register this consumer as a faststream batch subscriber on ``broker``, which is built with
        ``apply_types=False`` (faststream refuses the handler's plain ``KafkaMessage`` otherwise)."""
        settings = self._settings

        # ``Any`` for faststream's AsyncAPI, which describes a handler's argument as the payload: what
        # the payload is, the decoder says (``description``), and this is its KafkaMessage.
        async def consume(batch: Any) -> None:
            message: KafkaMessage = batch
            records = await self.caught_up(message.raw_message, message.consumer)
            await self.process(records, message.consumer)

        broker.subscriber(
            *self.topics,
            group_id=settings.consumer_group,
            batch=True,
            max_records=settings.consumer_max_records,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            listener=_DrainOnRevoke(self),
            decoder=_the_message,
            title=f"{settings.service_name}-consumer",
            description=f"Consumes {self._decoder.description}; what it refuses goes to "
            f"{self.dead_letter_topic} with the reason",
        )(consume)

    async def caught_up(self, records: Sequence[Record], consumer: AIOKafkaConsumer) -> Sequence[Record]:
        """The batch, and what reached the broker while the last batch ran.

        aiokafka fetches a partition again only once its buffered records are taken. So when batches run
        back to back, what faststream hands over was fetched near the start of the last batch, and what
        arrived after that waits at the broker for one more whole batch: records waited about two
        batches under steady load. Taking the buffer started a fetch; its answer joins this batch.
        A batch after an idle wait was fetched just now and goes as it is.
        """
        wait_ms, room = self._settings.consumer_fresh_fetch_ms, self._settings.consumer_max_records
        room -= len(records)
        if wait_ms <= 0 or room <= 0 or not records:
            return records
        back_to_back = time.monotonic() - self._finished_at < _BACK_TO_BACK_S
        # Kept in the buffer a while: a fetch straight from the broker answers within milliseconds.
        kept = time.time() * 1000 - max(r.timestamp for r in records) > _KEPT_MS
        if not (back_to_back and kept):
            return records
        try:
            # getmany waits unbounded while a rebalance is under way, and the rebalance waits for this
            # batch (``_DrainOnRevoke``): hence the outer bound. Nothing is taken from the buffer
            # before getmany's last step, so cancelling it takes nothing.
            fresh = await asyncio.wait_for(
                consumer.getmany(timeout_ms=wait_ms, max_records=room), wait_ms / 1000 + 0.05
            )
        except Exception as error:  # the batch in hand goes on; the next fetch reports a lasting error
            log.warning("fetching more for the batch failed: %r", error)
            return records
        return [*records, *itertools.chain.from_iterable(fresh.values())]

    async def process(self, records: Sequence[Record], consumer: AIOKafkaConsumer) -> None:
        self._idle.clear()
        started = time.perf_counter()
        self._wrote_outbox = False
        now_ms = time.time() * 1000
        for record in records:
            self._metrics.record_wait.observe(max(now_ms - record.timestamp, 0) / 1000)
        try:
            self._check_ends = self._ends_to_check(consumer, records)
            items = [item for item in map(self._decode, records) if item is not None]
            try:
                if items:
                    await self._apply_with_retry(items)
            except Exception as error:
                log.warning("batch failed (%s); isolating the event that fails", why(error))
                for item in items:
                    await self._apply_alone(item)
            failpoint("after_db_commit")
            # The relay publishes only what is committed, so it need not wait for the offset commit: a
            # broker round trip (7 ms a batch at 100 purchases/s) that every hop's latency paid.
            if self._wrote_outbox:  # a relay round costs a transaction: none for a batch that emitted nothing
                self._on_committed()
            await self._commit_offsets(consumer, records)
        except BaseException:
            # Never let the fetch position run past records whose effect is not committed.
            _rewind(consumer, records)
            raise
        finally:
            self._idle.set()
            self._finished_at = time.monotonic()
        self._metrics.batch_size.observe(len(records))
        self._metrics.batch_seconds.observe(time.perf_counter() - started)

    def _ends_to_check(
        self, consumer: AIOKafkaConsumer, records: Sequence[Record]
    ) -> dict[tuple[str, int], int]:
        """The partitions of offset marks not yet checked since their assignment, with their ends."""
        if not self._marked_by_offset:
            return {}
        unchecked = {(r.topic, r.partition) for r in records if r.topic in self._marked_by_offset}
        ends = {
            where: consumer.highwater(TopicPartition(*where)) for where in unchecked - self._offsets_checked
        }
        return {where: end for where, end in ends.items() if end is not None}

    def forget_offset_checks(self) -> None:
        """Partitions were assigned: each is checked again before its first batch."""
        self._offsets_checked.clear()

    async def wait_idle(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("batch still running after %.0fs of rebalance; its commit may be refused", timeout)

    def _decode(self, record: Record) -> _Item | None:
        redriven_for = _header(record, REDRIVEN_FOR)
        if redriven_for is not None and redriven_for != self._settings.service_name:
            self._metrics.events.labels(record.topic, "ignored").inc()
            return None  # sent back for another service's sake: this one applied it the first time
        try:
            decoded = self._decoder(record)
        except Exception as error:
            # A decoder bug on one odd record must not block its partition forever: dead-letter it
            # with the error, like any record the decoder refuses.
            log.exception("decoder failed on %s:%s:%s", record.topic, record.partition, record.offset)
            decoded = f"decoder failed: {type(error).__name__}: {error}"
        if decoded is None:
            self._metrics.events.labels(record.topic, "ignored").inc()
            return None
        if isinstance(decoded, str):
            position = f"{record.topic}:{record.partition}:{record.offset}"
            return _Poison(record, decoded, uuid.uuid5(_POSITION_NAMESPACE, position))
        return _Event(record, decoded)

    async def _apply_with_retry(self, items: Sequence[_Item]) -> None:
        delay, attempts = 0.05, 0
        while True:
            try:
                await self._apply(items)
                self._stalled_since = None
                return
            except Exception as error:
                kind = classify(error)
                attempts += kind == RETRY
                if kind == WRONG or attempts >= self._settings.consumer_max_attempts:
                    raise
                self._stalled_since = self._stalled_since or time.monotonic()
                self._metrics.retries.labels(kind).inc()
                log.warning("%s: retrying %d event(s) in %.2fs: %s", kind, len(items), delay, why(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _apply_alone(self, item: _Item) -> None:
        try:
            await self._apply_with_retry([item])
        except Exception as error:
            log.warning(
                "event at %s:%s:%s dead-lettered: %s",
                item.record.topic,
                item.record.partition,
                item.record.offset,
                why(error),
                exc_info=not sqlstate(error),  # a handler bug: its traceback is what to fix
            )
            await self._apply_with_retry(
                [_Poison(item.record, f"not applied: {why(error)}", _event_id(item))]
            )

    async def _apply(self, items: Sequence[_Item]) -> None:
        async with self._engine.begin() as conn:
            appended(conn)  # what an earlier transaction on this pooled connection wrote is not ours
            claimed = await self._claim(conn, items)
            fresh: dict[uuid.UUID, _Event] = {}
            for item in items:
                # The same event twice in one batch is claimed once: its first copy is the one.
                if isinstance(item, _Event) and item.envelope.event_id in claimed:
                    fresh.setdefault(item.envelope.event_id, item)
            envelopes = [e.envelope for e in fresh.values()]
            result = await self._handler(conn, envelopes) if envelopes else BatchResult()
            dead = [(i.record, i.reason) for i in items if isinstance(i, _Poison) and i.event_id in claimed]
            dead += [(fresh[eid].record, reason) for eid, reason in result.rejected.items()]
            if result.rejected:
                await conn.execute(
                    INBOX.update()
                    .where(INBOX.c.event_id.in_(list(result.rejected)))
                    .values(outcome="dead_lettered")
                )
            letters = [
                dead_letter(
                    record,
                    reason,
                    topic=self.dead_letter_topic,
                    service=self._settings.service_name,
                )
                for record, reason in dead
            ]
            await append(conn, [*result.outgoing, *letters])
            self._wrote_outbox |= appended(conn)  # handlers append too (points' ledger writes its own)
            failpoint("before_db_commit")
        self._offsets_checked |= set(self._check_ends)
        self._check_ends = {}
        self._observe(items, fresh, claimed, result)

    def _observe(
        self,
        items: Sequence[_Item],
        fresh: dict[uuid.UUID, _Event],
        claimed: set[uuid.UUID],
        result: BatchResult,
    ) -> None:
        now = utcnow()
        # Counted per (topic, outcome), then added once each: a labelled child's lookup and lock per
        # record cost more than the batch's other bookkeeping.
        counts: Counter[tuple[str, str]] = Counter()
        for item in items:
            if isinstance(item, _Poison):
                outcome = "dead_lettered" if item.event_id in claimed else "duplicate"
            elif fresh.get(item.envelope.event_id) is not item or item.envelope.event_id in result.repeats:
                outcome = "duplicate"
            elif item.envelope.event_id in result.rejected:
                outcome = "dead_lettered"
            else:
                outcome = "applied"
                self._metrics.event_latency.observe((now - item.envelope.occurred_at).total_seconds())
            counts[item.record.topic, outcome] += 1
        for (topic, outcome), n in counts.items():
            self._metrics.events.labels(topic, outcome).inc(n)

    async def _claim(self, conn: AsyncConnection, items: Sequence[_Item]) -> set[uuid.UUID]:
        if self._check_ends:
            await _drop_stale_offset_marks(conn, self._check_ends)
        claimed: set[uuid.UUID] = set()
        marked: list[tuple[_Item, _Mark]] = []
        unmarked: list[_Item] = []
        for item in items:
            mark = self._mark(item.record)
            if mark is None:
                unmarked.append(item)
            else:
                marked.append((item, mark))
        if marked:
            last = await _raise_marks(conn, [mark for _, mark in marked])
            for item, (where, outbox_id) in marked:
                before = last[where]
                if before is None:
                    unmarked.append(item)  # the source's first records here: the inbox decides
                elif outbox_id > before:
                    claimed.add(_event_id(item))
                    last[where] = outbox_id
        redriven = [i for i in unmarked if _header(i.record, REDRIVEN_FOR) is not None]
        first_time = [i for i in unmarked if _header(i.record, REDRIVEN_FOR) is None]
        if first_time:
            fresh, values = rows_insert(
                INBOX,
                _inbox_rows(first_time),
                finish=lambda new: new.on_conflict_do_nothing().returning(INBOX.c.event_id),
            )
            claimed |= set((await conn.execute(fresh, values)).scalars())
        if redriven:
            # Re-driven to this service after a fix: an event it dead-lettered is applied now; one it
            # applied (the dead letter was another copy's) stays a duplicate.
            again, values = rows_insert(INBOX, _inbox_rows(redriven), finish=_applied_now)
            claimed |= set((await conn.execute(again, values)).scalars())
        return claimed

    def _mark(self, record: Record) -> _Mark | None:
        """Where the record stands in its source's outbox, if it is believed to have one; on a topic
        written outside Vafa, where it stands in the partition."""
        source = outbox_id = None
        for key, value in record.headers or ():
            if key == REDRIVEN_FOR:
                return None  # sent back by an operator after a fix: the inbox says whether to apply it
            if key == SOURCE_HEADER:
                source = value
            elif key == ID_HEADER:
                outbox_id = value
        if record.topic in self._marked_by_offset:
            return (KAFKA_OFFSETS, record.topic, record.partition), record.offset
        if record.topic not in self._marked_by_id:
            return None
        if source is None or outbox_id is None or not outbox_id.isdigit() or len(outbox_id) > 18:
            return None
        name = self._sources.get(source)
        if name is None:
            try:
                name = str(uuid.UUID(source.decode()))
            except (ValueError, UnicodeDecodeError):
                return None
            if len(self._sources) < _SOURCES_KEPT:  # a source is a database: a handful per topic
                self._sources[source] = name
        return (name, record.topic, record.partition), int(outbox_id)

    async def _commit_offsets(self, consumer: AIOKafkaConsumer, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # The partitions moved to another member, which will redeliver; the inbox dedupes.
            self._metrics.commit_failures.inc()
            log.warning("offset commit refused, records will be redelivered: %r", error)
            return
        for tp, offset in offsets.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.lag.labels(tp.topic, str(tp.partition)).set(max(highwater - offset, 0))


_Where: TypeAlias = tuple[str, str, int]  # source, topic, partition
_Mark: TypeAlias = tuple[_Where, int]  # and the outbox id


async def _raise_marks(
    conn: AsyncConnection, marks: Sequence[_Mark]
) -> dict[tuple[str, str, int], int | None]:
    """Raise each (source, topic, partition)'s mark to the batch's highest id there, in ONE statement;
    the marks as they were before (None: not kept until now). Locked in key order: two consumers of one
    partition during a rebalance wait for each other instead of deadlocking."""
    top: dict[_Where, int] = {}
    for where, outbox_id in marks:
        top[where] = max(top.get(where, 0), outbox_id)
    rows = [
        {"source": s, "topic": t, "partition": p, "last_id": i, "previous_id": None}
        for (s, t, p), i in sorted(top.items())
    ]
    raised, values = rows_insert(INBOX_HIGH_WATER, rows, finish=_raised)
    return {(str(r.source), r.topic, r.partition): r.previous_id for r in await conn.execute(raised, values)}


async def _drop_stale_offset_marks(conn: AsyncConnection, ends: dict[tuple[str, int], int]) -> None:
    """An offset mark at or past its partition's end was kept for a topic since deleted and created
    again (its offsets start from 0 again). Dropped, it leaves the inbox and the service to judge the
    new records, instead of taking them for ones already seen."""
    marks = INBOX_HIGH_WATER.c
    for (topic, partition), end in sorted(ends.items()):
        dropped = await conn.scalar(
            INBOX_HIGH_WATER.delete()
            .where(
                marks.source == uuid.UUID(KAFKA_OFFSETS),
                marks.topic == topic,
                marks.partition == partition,
                marks.last_id >= end,
            )
            .returning(marks.last_id)
        )
        if dropped is not None:
            log.warning(
                "%s:%s ends at offset %s but its mark was %s: the topic was created again; mark dropped, "
                "its records are claimed afresh",
                topic, partition, end, dropped,
            )  # fmt: skip


def _raised(upsert: Insert) -> ReturningInsert[Any]:
    marks = INBOX_HIGH_WATER.c
    return upsert.on_conflict_do_update(
        index_elements=[marks.source, marks.topic, marks.partition],
        set_={
            "last_id": func.greatest(marks.last_id, upsert.excluded.last_id),
            "previous_id": marks.last_id,
            "updated_at": func.now(),
        },
    ).returning(marks.source, marks.topic, marks.partition, marks.previous_id)


def _applied_now(again: Insert) -> ReturningInsert[Any]:
    """Re-driven events: one dead-lettered before is claimed again, one applied stays a duplicate."""
    return again.on_conflict_do_update(
        index_elements=[INBOX.c.event_id],
        set_={c: again.excluded[c] for c in ("topic", "partition", "offset", "outcome", "processed_at")},
        where=INBOX.c.outcome == "dead_lettered",
    ).returning(INBOX.c.event_id)


def _event_id(item: _Item) -> uuid.UUID:
    return item.envelope.event_id if isinstance(item, _Event) else item.event_id


def _inbox_rows(items: Sequence[_Item]) -> list[dict[str, Any]]:
    first: dict[uuid.UUID, _Item] = {}  # one statement cannot claim one event twice: its first copy
    for item in items:
        first.setdefault(_event_id(item), item)
    now = utcnow()
    return [
        {
            "event_id": event_id,
            "topic": item.record.topic,
            "partition": item.record.partition,
            "offset": item.record.offset,
            "outcome": "applied" if isinstance(item, _Event) else "dead_lettered",
            "processed_at": now,
        }
        for event_id, item in first.items()
    ]


def _rewind(consumer: AIOKafkaConsumer, records: Sequence[Record]) -> None:
    first: dict[TopicPartition, int] = {}
    for r in records:
        first.setdefault(TopicPartition(r.topic, r.partition), r.offset)
    for tp, offset in first.items():
        # A partition no longer ours needs nothing: its new owner starts from the committed offset.
        with contextlib.suppress(IllegalStateError, KafkaError, AssertionError):
            consumer.seek(tp, offset)


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode("utf-8", "replace"))
    return None


async def _the_message(message: KafkaMessage) -> KafkaMessage:
    """The handler's argument is faststream's message itself: the core decodes each record, so one bad
    record cannot fail the batch. Async, and with no ``Context`` to resolve: faststream runs a sync
    decoder, and fast_depends a ``Context`` parameter, in a worker thread, two thread hops a batch."""
    return message


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Let the in-flight batch commit before its partitions go; never holds a lock the fetch loop needs."""

    def __init__(self, core: ReliableConsumer) -> None:
        self._core = core

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._core.wait_idle(timeout=20.0)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._core.forget_offset_checks()
