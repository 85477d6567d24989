"""`python -m bench.handlers`: each consuming service's core (decode, inbox, handler, outbox) over the
same purchases (for ingest, the POS items they come from, on ``pos.raw``), in this process, against
PostgreSQL but without Kafka: CPU per event at a batch size, with the time each statement kept the
database. No broker, no other service on the CPU: the figures
move only with the code, which is what a change to a handler or a store needs to be judged by.

    python -m bench.handlers --events 5500 --batch 500 --batch 50
    python -m bench.handlers --service tiers --history-months 36  # members with three years behind them
    python -m bench.handlers --service tiers --earned-lag 3000  # points.earned 3,000 purchases behind
    python -m bench.handlers --service analytics --segments  # then one round of the segments job
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry
from sqlalchemy import event, text

from bench.domain import best
from shared.config import ServiceSettings
from shared.consumer import BatchHandler, ContractDecoder, Decoder, ReliableConsumer
from shared.contracts import (
    MEMBER_ENROLLED,
    POINTS_EARNED,
    PURCHASE_RECORDED,
    Envelope,
    MemberEnrolled,
    PointsEarned,
    PurchaseRecorded,
    contract_named,
)
from shared.contracts.envelope import utcnow
from shared.dates import add_months
from shared.metrics import CoreMetrics
from shared.outbox import ID_HEADER, SOURCE_HEADER
from shared.run import tune_gc
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async
from shared.topics import Topic
from sim.harness import Infra, Stack, infra_from_env
from sim.pos import PosSimulator

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Service:
    settings: ServiceSettings
    migrations: Path
    decoder: Decoder
    handler: BatchHandler


def service(name: str) -> Service:
    """The service's consumer parts, with its settings from the environment (``VAFA_*``)."""
    if name == "ingest":
        from services.ingest.handlers import RawIntakeDecoder, raw_intake_handler
        from services.ingest.settings import IngestSettings
        from services.ingest.store import MIGRATIONS as INGEST

        ingest = IngestSettings()
        return Service(ingest, INGEST, RawIntakeDecoder(ingest), raw_intake_handler(ingest))
    if name == "points":
        from services.points.handlers import consumes, ledger_handler
        from services.points.programs import PROGRAMS
        from services.points.settings import PointsSettings
        from services.points.store import MIGRATIONS as POINTS

        points = PointsSettings(earn_rate="0.0001")
        return Service(points, POINTS, ContractDecoder(consumes(PROGRAMS)), ledger_handler(points, PROGRAMS))
    if name == "tiers":
        from services.tiers.handlers import CONSUMES as TIERS_CONSUME
        from services.tiers.handlers import standings_handler
        from services.tiers.settings import TiersSettings
        from services.tiers.store import MIGRATIONS as TIERS

        tiers = TiersSettings()
        return Service(tiers, TIERS, ContractDecoder(TIERS_CONSUME), standings_handler(tiers))
    if name == "notify":
        from services.notify.domain import environment
        from services.notify.handlers import CONSUMES as NOTIFY_CONSUME
        from services.notify.handlers import deliveries_handler
        from services.notify.settings import NotifySettings
        from services.notify.store import MIGRATIONS as NOTIFY

        notify = NotifySettings()
        return Service(
            notify, NOTIFY, ContractDecoder(NOTIFY_CONSUME), deliveries_handler(notify, environment())
        )
    from services.analytics.handlers import CONSUMES as ANALYTICS_CONSUME
    from services.analytics.handlers import facts_handler
    from services.analytics.settings import AnalyticsSettings
    from services.analytics.store import MIGRATIONS as ANALYTICS

    return Service(AnalyticsSettings(), ANALYTICS, ContractDecoder(ANALYTICS_CONSUME), facts_handler())


def records(
    events: int, prefix: str, service: str = "points", earned_lag: int = 0
) -> list[ConsumerRecord[bytes, bytes]]:
    """``events`` purchases of the POS simulator (lines, tenders) as ingest forwards them, 7 seconds
    apart and all in the past, as the consumer receives them; for ingest, as POS systems write them to
    ``pos.raw`` (ingest refuses a purchase from the future); for tiers, each followed by the points it
    earned, at its instant, as tiers gets them in the pipeline (``events`` records, half as many
    purchases), or ``earned_lag`` purchases later: tiers reads purchases and points from two topics,
    and while it catches up one runs ahead of the other (by days of the bench's purchases)."""
    start = utcnow() - timedelta(seconds=7 * events + 60)
    pos = PosSimulator(seed=7, members=100_000, run=uuid.uuid4().hex[:8], start=start)
    if service == "ingest":  # no headers: the consumer marks pos.raw records by their offsets
        raw = prefix + Topic.POS_RAW
        return [
            ConsumerRecord(raw, i % 6, i, 0, 0, b"", orjson.dumps(sale), None, 0, 0, [])
            for i, sale in enumerate(pos.purchases(events))
        ]
    if service == "notify":  # what it tells members of: each purchase's points.earned
        return _enveloped(prefix, [_earned(sale) for sale in pos.purchases(events)])
    sales = list(pos.purchases(events // 2 if service == "tiers" else events))
    if service != "tiers":
        return _enveloped(prefix, [_purchase(sale) for sale in sales])
    made: list[Envelope[Any]] = []
    for i in range(len(sales) + earned_lag):  # as in the pipeline: each purchase, then its points
        if i < len(sales):
            made.append(_purchase(sales[i]))
        if 0 <= i - earned_lag < len(sales):
            made.append(_earned(sales[i - earned_lag]))
    return _enveloped(prefix, made)


def _enveloped(prefix: str, made: Sequence[Envelope[Any]]) -> list[ConsumerRecord[bytes, bytes]]:
    """The events as the consumer receives them from the relay of one source: the consumer keeps
    marks, not inbox rows."""
    source = str(uuid.uuid4()).encode()
    return [
        ConsumerRecord(
            prefix + contract_named(e.type).topic,
            i % 6,
            i,
            0,
            0,
            e.key.encode(),
            e.to_bytes(),
            None,
            0,
            0,
            [(SOURCE_HEADER, source), (ID_HEADER, str(i + 1).encode())],
        )
        for i, e in enumerate(made)
    ]


def _purchase(sale: dict[str, Any]) -> Envelope[PurchaseRecorded]:
    fields = PurchaseRecorded.model_fields
    return PURCHASE_RECORDED.envelope(
        key=sale["member_id"],
        producer="ingest",
        occurred_at=datetime.fromisoformat(sale["occurred_at"]),
        payload=PurchaseRecorded.model_validate({k: v for k, v in sale.items() if k in fields}),
    )


def _earned(sale: dict[str, Any]) -> Envelope[PointsEarned]:
    amount = Decimal(sale["total_amount"])
    payload = PointsEarned(
        member_id=sale["member_id"], purchase_event_id=uuid.uuid4(), points=int(amount / 10_000),
        balance=int(amount / 10_000), currency=sale["currency"], amount=amount, rules=[],
    )  # fmt: skip
    at = datetime.fromisoformat(sale["occurred_at"])
    return POINTS_EARNED.envelope(key=sale["member_id"], producer="points", occurred_at=at, payload=payload)


def setup(
    name: str, given: Sequence[ConsumerRecord[bytes, bytes]], prefix: str, history_months: int = 0
) -> list[ConsumerRecord[bytes, bytes]]:
    """What the service holds before the measured events: for notify, every member enrolled (most
    members of a program are), with consent to email, so each message is addressed and queued; for
    tiers with ``history_months``, each member's purchase (and the points it earned) once a month for
    that many months before, in time order, as tiers would have had them."""
    members = sorted({r.key.decode() for r in given if r.key})
    if name == "tiers" and history_months:
        start = utcnow() - timedelta(days=1)  # before the measured purchases (the last hours)
        made: list[Envelope[Any]] = []
        for month in range(history_months, 0, -1):
            at = add_months(start, -month).isoformat()
            for member in members:
                sale = {
                    "chain_id": "hyperstar", "store_id": "s1", "receipt_no": f"h{month}-{member}",
                    "member_id": member, "total_amount": "2500000", "currency": "IRR", "occurred_at": at,
                }  # fmt: skip
                made += [_purchase(sale), _earned(sale)]
        return _enveloped(prefix, made)
    if name != "notify":
        return []
    enrolled = [
        MemberEnrolled(member_id=m, chain_id="hyperstar", email=f"{m}@mail.example", consents={"email": True})
        for m in members
    ]
    return _enveloped(
        prefix, [MEMBER_ENROLLED.envelope(key=e.member_id, producer="ingest", payload=e) for e in enrolled]
    )


async def measure(
    infra: Infra,
    name: str,
    events: int,
    batch: int,
    history_months: int = 0,
    earned_lag: int = 0,
    segments: bool = False,
) -> dict[str, Any]:
    stack = Stack(infra)
    await stack.create(name)
    os.environ.update(stack.env(name))
    parts = service(name)
    await upgrade_async(parts.migrations, parts.settings.database_url)
    engine = make_engine(parts.settings)
    held: Counter[str] = Counter()
    ran: Counter[str] = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def started(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["at"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def ended(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        name = " ".join(statement.split())[:90]
        held[name] += time.perf_counter() - conn.info["at"]
        ran[name] += 1

    core = ReliableConsumer(
        settings=parts.settings,
        engine=engine,
        decoder=parts.decoder,
        handler=parts.handler,
        metrics=CoreMetrics(CollectorRegistry()),
    )
    given = records(events + batch, parts.settings.topic_prefix, name, earned_lag)
    held_before = setup(name, given, parts.settings.topic_prefix, history_months)
    for start in range(0, len(held_before), 500):
        await core._apply([i for i in map(core._decode, held_before[start : start + 500]) if i])
    await engine.dispose()  # its sessions report what the setup wrote as they close
    before = await rows_written(make_engine(parts.settings))
    await core._apply([i for i in map(core._decode, given[:batch]) if i])  # warm: compile, prepare
    held.clear()
    ran.clear()
    cpu, wall, decoding = time.process_time(), time.perf_counter(), 0.0
    for start in range(batch, len(given), batch):
        decoded = time.process_time()
        items = [i for i in map(core._decode, given[start : start + batch]) if i]
        decoding += time.process_time() - decoded
        await core._apply(items)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # The decoder alone, the best of five passes over the same records: the fastest pass is the one
    # the machine disturbed least, so this figure holds still where CPU per event drifts with the box.
    decoder_best = best(5, given, parts.decoder)
    job = await segments_round(engine, parts.settings) if segments else None
    await engine.dispose()  # its sessions report their counts as they close
    after = await rows_written(make_engine(parts.settings))
    await stack.drop()
    return {
        **({"segments_job": job} if job else {}),
        "service": name,
        "batch": batch,
        "events": events,
        "history_months": history_months,
        "earned_lag": earned_lag,
        "cpu_ms_per_event": 1000 * cpu / events,
        "decode_ms_per_event": 1000 * decoding / events,
        "decoder_us_per_record_best_of_5": decoder_best,
        "wall_ms_per_event": 1000 * wall / events,
        "statements_ms_per_event": {k: 1000 * v / events for k, v in held.most_common(8)},
        "statements_per_batch": {k: v * batch / events for k, v in ran.most_common()},
        # Rows inserted, updated or deleted per event, by table: a count, so it moves only with the code.
        "rows_per_event": {
            # Over the warm-up batch too: a session's counts are reported when it is idle or closes.
            t: (n - before.get(t, 0)) / (events + batch)
            for t, n in sorted(after.items())
            if n > before.get(t, 0)
        },
    }


async def segments_round(engine: Any, settings: Any) -> dict[str, float]:
    """Analytics' segments job over what the events wrote, as its first round after a start runs (every
    customer's segment is new), with the most memory Python held for it at once (tracemalloc, which
    slows it); then a round that finds nothing changed, as most do, untraced: its CPU here and its wall
    time (PostgreSQL's work is in the wall time)."""
    from services.analytics.jobs import analytics_jobs
    from shared.service import run_job_round

    job = next(j for j in analytics_jobs(settings) if j.name == "segments")
    tracemalloc.start()
    cpu, wall = time.process_time(), time.perf_counter()
    changed = await run_job_round(engine, job, utcnow())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    unchanged, unchanged_wall = time.process_time(), time.perf_counter()
    await run_job_round(engine, job, utcnow())
    return {
        "members_changed": changed,
        "traced_peak_mb": peak / 2**20,
        "cpu_s_traced": cpu,
        "wall_s_traced": wall,
        "cpu_s_unchanged_round": time.process_time() - unchanged,
        "wall_s_unchanged_round": time.perf_counter() - unchanged_wall,
    }


async def rows_written(engine: Any) -> dict[str, int]:
    """Rows inserted, updated and deleted so far in the service's tables (PostgreSQL's statistics)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = await conn.execute(
            text("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
        )
        rows = {str(table): int(n) for table, n in found}
    await engine.dispose()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.handlers", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (default 500 and 50)")
    parser.add_argument(
        "--service", action="append", choices=["ingest", "points", "tiers", "notify", "analytics"]
    )
    parser.add_argument(
        "--history-months", type=int, default=0, help="tiers: each member's monthly purchases before, kept"
    )
    parser.add_argument(
        "--earned-lag", type=int, default=0, help="tiers: each points.earned this many purchases late"
    )
    parser.add_argument(
        "--segments", action="store_true", help="analytics: then one round of the segments job, measured"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    infra = infra_from_env()  # before a service's settings go into the environment
    tune_gc()  # as a service does when it starts
    runs = [
        await measure(infra, name, args.events, batch, args.history_months, args.earned_lag, args.segments)
        for name in args.service or ["ingest", "points", "tiers", "notify", "analytics"]
        for batch in args.batch or [500, 50]
    ]
    for run in runs:
        print(
            f"{run['service']:<10} batch {run['batch']:>4}: {run['cpu_ms_per_event']:.3f} ms CPU/event "
            f"(decode {run['decode_ms_per_event']:.3f}; "
            f"decoder best {run['decoder_us_per_record_best_of_5']:.1f} µs), "
            f"{run['wall_ms_per_event']:.3f} ms wall/event, "
            f"{sum(run['statements_per_batch'].values()):.1f} statements a batch"
        )
        if job := run.get("segments_job"):
            print(
                f"{'':<10} segments job: {job['members_changed']:.0f} members changed, Python's peak "
                f"{job['traced_peak_mb']:.1f} MB (traced, {job['wall_s_traced']:.1f} s); a round with none "
                f"changed {job['cpu_s_unchanged_round']:.2f} s CPU, "
                f"{job['wall_s_unchanged_round']:.2f} s wall"
            )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"handlers-{utcnow().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:4]}.json"
    out.write_text(json.dumps(runs, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    # On uvloop, as the services run (``shared.run``): their socket and TLS writes are uvloop's.
    uvloop.run(main())
