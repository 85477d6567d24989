"""How every service is assembled: a FastAPI app that owns a faststream KafkaBroker.

Each service gets, the same way: its migrations applied and topics ensured at start, the reliable
consumer (when it consumes), the outbox relay, ``/metrics`` (the core's metrics and faststream's
Prometheus middleware on one registry), ``/healthz``, ``/readyz`` and the AsyncAPI document that
faststream generates at ``/asyncapi.json``. (faststream 0.7 deprecates its FastAPI router, so the
broker's start and stop sit in the app's lifespan here.)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import problems
from shared.audit import audit_router
from shared.boundary import BodyLimit
from shared.config import ServiceSettings
from shared.consumer import BatchHandler, Decoder, ReliableConsumer
from shared.contracts import Contract, Envelope
from shared.contracts.envelope import utcnow
from shared.errors import Unavailable
from shared.identity import PUBLIC, Permission, SigningKeys, secured
from shared.kafka_acls import service_access, topic_specs
from shared.metrics import CoreMetrics
from shared.ops import ops_router
from shared.outbox import OutboxRelay, oldest_waiting
from shared.store.core_tables import INBOX
from shared.store.db import make_engine
from shared.store.failures import is_transient
from shared.store.migrate import upgrade_async
from shared.store.retention import prune
from shared.topics import ensure_topics
from shared.wire import OpenOut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Work a service does on a clock (expiry, reminders, releasing holds): ``run`` does one round in
    a transaction and returns how much it did; rounds repeat while there is work, then wait."""

    name: str
    interval_s: float
    run: Callable[[AsyncConnection, datetime], Awaitable[int]]


def retention_job(
    name: str,
    table: Table,
    column: str,
    keep_days: float,
    interval_s: float,
    where: ColumnElement[bool] | None = None,
) -> Job:
    """A job deleting the rows of ``table`` whose ``column`` is older than ``keep_days``, in batches."""

    async def run(conn: AsyncConnection, now: datetime) -> int:
        return await prune(conn, table, column, now - timedelta(days=keep_days), where=where)

    return Job(name, interval_s, run)


async def run_job_round(engine: AsyncEngine, job: Job, now: datetime) -> int:
    done = 0
    while True:
        async with engine.begin() as conn:
            did = await job.run(conn, now)
        done += did
        if not did:
            return done


async def run_jobs_once(
    settings: ServiceSettings, migrations: Path, jobs: Sequence[Job], now: datetime
) -> dict[str, int]:
    """Every job's round at ``now``, then publish what they emitted: the jobs command of a service."""
    settings.refuse_known_defaults()
    await upgrade_async(migrations, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        done = {job.name: await run_job_round(engine, job, now) for job in jobs}
        relay = OutboxRelay(engine, settings.kafka_options(), CoreMetrics(CollectorRegistry()))
        done["events-published"] = await relay.drain()
        return done
    finally:
        await engine.dispose()


def jobs_command(prog: str, run: Callable[[datetime], Coroutine[Any, Any, dict[str, int]]]) -> None:
    """``python -m services.<name>.jobs [--now ISO-TIME]``: one round of the service's jobs."""
    parser = argparse.ArgumentParser(prog=prog, description="Run one round of the scheduled jobs.")
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=None, help="e.g. 2027-12-01T00:00:00+00:00"
    )
    now = parser.parse_args().now or utcnow()
    if now.tzinfo is None:
        raise SystemExit("--now needs a time zone, e.g. 2027-12-01T00:00:00+00:00")
    for name, done in asyncio.run(run(now)).items():
        print(f"{name}: {done}")


class AsyncApiDocument(OpenOut):
    """An AsyncAPI 3 document (https://www.asyncapi.com/docs/reference/specification/v3.0.0)."""

    asyncapi: str
    info: Any
    channels: Any = None
    operations: Any = None
    components: Any = None


@dataclass(frozen=True)
class Consumes:
    """What a consuming service reads (its decoder names the topics) and the handler that applies it."""

    decoder: Decoder
    handler: BatchHandler


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    migrations: Path | None = None,
    consumes: Consumes | None = None,
    emits: Sequence[Contract[Any]] = (),
    api: APIRouter | None = None,
    jobs: Sequence[Job] = (),
    registry: CollectorRegistry | None = None,
    audited: bool = False,
    kafka: bool = True,
) -> FastAPI:
    """``audited``: operators write here, and ``GET /v1/audit`` reads what they did. ``kafka=False``:
    a service that neither reads nor writes topics (the console, which only calls the others' APIs)
    gets no broker, creates no topic and is ready without one."""
    assert kafka or not (consumes or emits or migrations), "what consumes, emits or stores uses Kafka"
    settings.refuse_known_defaults()
    registry = registry or CollectorRegistry()  # a service passes its own to add metrics of its own
    if consumes is not None and settings.inbox_retention_days > 0:
        # The dedupe window: an event redelivered within it is still recognised (README, retention).
        keep, every = settings.inbox_retention_days, settings.retention_interval_s
        jobs = [*jobs, retention_job("prune-inbox", INBOX, "processed_at", keep, every)]
    metrics = CoreMetrics(registry)
    # What this service may do on Kafka follows from what it reads and emits (shared/kafka_acls.py).
    access = service_access(settings.service_name, consumes.decoder.topics if consumes else (), emits)
    engine: AsyncEngine | None = make_engine(settings) if migrations else None
    relay = (
        OutboxRelay(
            engine,
            settings.kafka_options(),
            metrics,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        if engine is not None
        else None
    )
    broker = (
        None
        if not kafka
        else KafkaBroker(
            settings.kafka_bootstrap_servers,
            security=settings.kafka_security(),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=10_000,
            graceful_timeout=30.0,
            client_id=f"vafa-{settings.service_name}",
            # Topics come from the catalog only: a service creates what it writes (below, in the lifespan),
            # never what it reads (its principal may not; faststream would create them with its defaults).
            allow_auto_create_topics=False,
            # The one subscriber (``ReliableConsumer``) takes the message as its decoder hands it over:
            # nothing to inject or cast.
            apply_types=False,
            middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name)],
        )
    )

    async def _every(job: Job) -> None:
        assert engine is not None and relay is not None, "a service with jobs owns a database"
        while True:
            try:
                if await run_job_round(engine, job, utcnow()):
                    relay.wake()
            except Exception:
                log.exception("job %s failed; next round in %.0fs", job.name, job.interval_s)
            await asyncio.sleep(job.interval_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Runs around the broker's own start/stop (faststream's router wraps it).
        deadline = asyncio.get_running_loop().time() + settings.startup_timeout_s
        if migrations is not None:
            await _until_up("migrations", lambda: upgrade_async(migrations, settings.database_url), deadline)
        if broker is not None:
            # Only the topics it writes: its principal may create nothing else (the rest are created
            # by the admin, `python -m shared.kafka_acls apply`, or by the service that writes them).
            topics = topic_specs(access.writes)
            await _until_up(
                "topics",
                lambda: ensure_topics(settings.kafka_options(), topics, prefix=settings.topic_prefix),
                deadline,
            )
        if relay is not None:
            await _until_up("outbox relay", relay.start, deadline)
        if broker is not None:
            await _until_up("broker", broker.start, deadline)
        clocks = [asyncio.create_task(_every(job), name=job.name) for job in jobs]
        yield
        for clock in clocks:
            clock.cancel()
        await asyncio.gather(*clocks, return_exceptions=True)
        if broker is not None:
            await broker.stop()  # waits for the in-flight batch to commit (graceful_timeout)
        # Drain what the last batches wrote to the outbox.
        if relay is not None:
            await relay.stop()
        if engine is not None:
            await engine.dispose()

    # One faststream publisher per emitted contract: it documents the topic's schema in AsyncAPI, and
    # a service that publishes directly (ingest) sends through it. Outbox rows go out via the relay.
    publishers: dict[str, DefaultPublisher] = {
        c.name: broker.publisher(
            settings.topic_prefix + c.topic,
            title=c.name,
            schema=Envelope[c.payload],  # type: ignore[name-defined]
            description=f"{c.name} v{c.version}, keyed by member id",
        )
        for c in emits
        if broker is not None
    }
    consumer: ReliableConsumer | None = None
    if consumes is not None:
        assert engine is not None and relay is not None, "a consuming service owns a database"
        assert broker is not None
        consumer = ReliableConsumer(
            settings=settings,
            engine=engine,
            decoder=consumes.decoder,
            handler=consumes.handler,
            metrics=metrics,
            on_committed=relay.wake,
        )
        consumer.subscribe(broker)

    docs = settings.http_open_docs
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(BodyLimit, limit=settings.http_max_body_bytes)
    app.state.settings = settings
    app.state.kafka_access = access
    app.state.engine = engine
    app.state.broker = broker
    app.state.publishers = publishers
    app.state.wake_relay = relay.wake if relay else (lambda: None)
    app.state.registry = registry
    app.state.signing_keys = SigningKeys(settings.auth_signing_keys)
    app.state.refused = metrics.http_refused
    app.include_router(_probes(settings, broker, engine, consumer))
    problems.install(app)
    if broker is not None:
        _asyncapi_route(app, broker, title, docs)

    if not docs:

        @app.get("/openapi.json", include_in_schema=False, **_open_or(docs))
        async def openapi_document() -> Any:
            return app.openapi()

    if api is not None:
        app.include_router(api)
    if audited:
        app.include_router(audit_router())
    if consumer is not None and engine is not None:
        app.include_router(ops_router(settings, engine, metrics, consumer.topics))

    @app.get("/metrics", include_in_schema=False, **_open_or(settings.http_open_metrics))
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _asyncapi_route(app: FastAPI, broker: KafkaBroker, title: str, docs: bool) -> None:
    asyncapi = AsyncAPI(broker, title=title)
    app.state.asyncapi = asyncapi

    @app.get(
        "/asyncapi.json",
        tags=["docs"],
        response_model=AsyncApiDocument,
        response_model_exclude_unset=True,
        **_open_or(docs),
    )
    async def asyncapi_document() -> Any:
        """The AsyncAPI document of the topics this service reads and writes."""
        return asyncapi.to_specification().to_jsonable()


def _open_or(open_: bool) -> dict[str, Any]:
    """A route anyone may read when ``open_``, else one needing ops:read."""
    return PUBLIC if open_ else secured(Permission.OPS_READ)


async def _until_up(what: str, step: Callable[[], Awaitable[Any]], deadline: float) -> None:
    """A service started while Kafka or PostgreSQL is away waits for them (until ``deadline``)
    instead of exiting, so starting everything at once, or during an outage, just works."""
    delay = 0.5
    while True:
        try:
            await step()
            return
        except Exception as error:
            if not (is_transient(error) or isinstance(error, KafkaError)):
                raise
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning("startup: %s waits for its dependency (%s); again in %.1fs", what, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _probes(
    settings: ServiceSettings,
    broker: KafkaBroker | None,
    engine: AsyncEngine | None,
    consumer: ReliableConsumer | None,
) -> APIRouter:
    probes = APIRouter(tags=["probes"])

    @probes.get("/healthz", status_code=204, **PUBLIC)
    async def healthz() -> Response:
        """The process is up and serving."""
        return Response(status_code=204)

    @probes.get("/readyz", status_code=204, **PUBLIC)
    async def readyz() -> Response:
        """Kafka and this service's database answer, and neither the consumer nor the outbox relay
        has been stuck for longer than ``VAFA_STALL_AFTER_S``."""
        if broker is not None and not await broker.ping(timeout=3.0):
            raise Unavailable("kafka unreachable", title="Not ready")
        if consumer is not None and (stalled := consumer.stalled_for()) > settings.stall_after_s:
            raise Unavailable(f"consumer stalled: retrying one batch for {stalled:.0f}s", title="Not ready")
        if engine is not None:
            try:
                async with engine.connect() as conn:
                    waited = await oldest_waiting(conn)
            except Exception as error:
                raise Unavailable("database unreachable", title="Not ready") from error
            if waited > settings.stall_after_s:
                raise Unavailable(
                    f"outbox relay stalled: oldest row waiting {waited:.0f}s", title="Not ready"
                )
        return Response(status_code=204)

    return probes
