"""`make bench`: the whole pipeline measured against this machine's own ceiling, in one run.

1. The ceiling: the same number of records, of the same size, produced to and consumed from a topic
   with the same layout by bare aiokafka — no processing. What the broker and a Python client do here.
2. The pipeline: POS records on ``pos.raw`` -> ingest (validate, dedupe, forward) -> points (rules,
   lots, ledger), tiers (qualification), notify (a message per event) and analytics (facts), each with
   its own PostgreSQL database, all running as real processes. Throughput is events fully processed
   by every service per second.
3. Latency at a fixed offered load: purchase created -> ``points.earned`` on Kafka; -> ``tier.changed``;
   -> the notification logged. And the same over a range of offered loads (``--curve``): the latency
   curve, and the highest load at which p99 to ``points.earned`` stays under a second.
4. With ``--profile``: one more pipeline run under py-spy, a flame graph per service and, in the JSON,
   the share of samples each package is on the stack and the functions with the most self time.

Medians over repeats; CPU seconds and peak RSS per process; PostgreSQL rows written per event;
consumer lag over time. Writes bench/results/<time>.json and .png and prints a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from aiokafka import AIOKafkaConsumer

from services.ingest.domain import purchase_event_id
from shared.contracts.envelope import utcnow
from shared.kafka_acls import POS
from shared.topics import Topic, TopicSpec, ensure_topics
from sim.harness import REPO, Infra, Probe, ServiceProcess, Stack, infra_from_env, ingest_cli, produce
from sim.pos import PosSimulator
from sim.services import READS, SERVICES

RESULTS = Path(__file__).resolve().parent / "results"


def simulator(count: int, members: int, seed: int) -> PosSimulator:
    """A POS stream of ``count`` events, 7 s apart, ending now (ingest refuses the future)."""
    start = utcnow() - timedelta(seconds=7 * count + 60)
    return PosSimulator(seed=seed, members=members, run=uuid.uuid4().hex[:8], start=start)


def workload(count: int, members: int, seed: int) -> list[bytes]:
    sim = simulator(count, members, seed)
    return [orjson.dumps(item) for item in sim.mixed(count)]


async def ceiling(infra: Infra, values: Sequence[bytes]) -> dict[str, float]:
    """Bare aiokafka, same partitions: produce all, consume all in a group, no processing."""
    stack = Stack(infra)  # its prefix names the topic, and its drop removes it
    topic = stack.topic("bench.ceiling")
    await ensure_topics(infra.kafka_client(), [TopicSpec(topic, partitions=6, key="member")])
    consumer = AIOKafkaConsumer(
        topic,
        **infra.kafka_client(),
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    started = time.perf_counter()
    producing = asyncio.create_task(produce(infra.kafka_client(), topic, values))
    seen = 0
    while seen < len(values):
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        seen += sum(len(records) for records in batch.values())
        if batch:
            await consumer.commit()
    seconds = time.perf_counter() - started
    await producing
    await consumer.stop()
    await stack.drop()
    return {"events": len(values), "seconds": seconds, "per_second": len(values) / seconds}


@dataclass
class Sampler:
    """RSS and CPU of every process, and each consumer group's lag, sampled while a run goes on."""

    probe: Probe
    processes: dict[str, psutil.Process]
    interval: float = 0.5
    peak_rss: dict[str, int] = field(default_factory=dict)
    cpu_start: dict[str, float] = field(default_factory=dict)
    lag: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, proc in self.processes.items():
            times = proc.cpu_times()
            self.cpu_start[name] = times.user + times.system

    async def run(self, started: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rss: dict[str, float] = {}
            for name, proc in self.processes.items():
                with contextlib.suppress(psutil.Error):  # a process that just exited
                    held = proc.memory_info().rss
                    rss[name] = held / 2**20
                    self.peak_rss[name] = max(self.peak_rss.get(name, 0), held)
            # RSS over the run, not only its peak: a plateau and a leak can have the same peak.
            self.lag.append({"t": time.perf_counter() - started, **await self.probe.lags(), "rss_mb": rss})
            await asyncio.sleep(self.interval)

    def cpu_seconds(self) -> dict[str, float]:
        used = {}
        for name, proc in self.processes.items():
            try:
                times = proc.cpu_times()
                used[name] = times.user + times.system - self.cpu_start[name]
            except psutil.Error:
                used[name] = float("nan")
        return used


def expected_outputs(values: Sequence[bytes]) -> dict[str, int]:
    """How many records each stage writes for this input: what "all processed" means."""
    kinds = [orjson.loads(v)["kind"] for v in values]
    sales = sum(k in ("purchase", "return") for k in kinds)
    partner = sum(k == "partner_purchase" for k in kinds)
    return {
        Topic.PURCHASES: sales,
        Topic.PARTNERS: partner,
        Topic.MEMBERSHIPS: sum(k.startswith("vip_") for k in kinds),
        # one points.earned per purchase and partner purchase, one points.reversed per return
        Topic.POINTS: sales + partner,
    }


async def finished(
    probe: Probe, outputs: dict[str, int], started: float, timeout: float = 600
) -> dict[str, float]:
    """When each service had done everything: its outputs all on Kafka and its own lag at zero."""
    done: dict[str, float] = {}
    needs = {
        "ingest": [Topic.PURCHASES, Topic.PARTNERS, Topic.MEMBERSHIPS],
        "points": [Topic.POINTS],
        "tiers": [],
        "notify": [],  # the stream enrols nobody: each message is logged as suppressed, no SMTP
        "analytics": [],
    }
    while len(done) < len(SERVICES):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"pipeline not done after {timeout}s: {done}")
        written = {t: await probe.written(t) for t in outputs}
        behind = await probe.lags()
        for service in SERVICES:
            upstream_done = all(s in done for s in SERVICES[: SERVICES.index(service)])
            outputs_done = all(written[t] >= outputs[t] for t in needs[service])
            if service not in done and upstream_done and outputs_done and behind[service] == 0:
                done[service] = time.perf_counter() - started
        await asyncio.sleep(0.1)
    return done


async def rows_written(stack: Stack) -> dict[str, int]:
    conn = await stack.pg("postgres")
    try:
        rows = await conn.fetch(
            "SELECT datname, tup_inserted + tup_updated + tup_deleted AS n FROM pg_stat_database "
            "WHERE datname = ANY($1)",
            [stack.database(s) for s in SERVICES],
        )
    finally:
        await conn.close()
    return {r["datname"].rsplit("_", 1)[1]: int(r["n"]) for r in rows}


async def wal_written(stack: Stack) -> dict[str, float]:
    """PostgreSQL's WAL so far, the whole cluster's: records, full-page images, bytes."""
    conn = await stack.pg("postgres")
    try:
        row = await conn.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
    finally:
        await conn.close()
    return {
        "records": float(row["wal_records"]),
        "full_page_images": float(row["wal_fpi"]),
        "bytes": float(row["wal_bytes"]),
    }


async def start_services(
    stack: Stack,
    instances: int,
    log_dir: Path,
    tree: Path = REPO,
    settings: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ServiceProcess]:
    """Every service, ``instances`` of each, ready; ``settings``: each one's own ``VAFA_...`` variables
    (by default the earn rate and the jobs waiting an hour, out of the measurement's way)."""
    quiet = {"VAFA_POINTS_JOBS_INTERVAL_S": "3600", "VAFA_TIERS_JOBS_INTERVAL_S": "3600"}
    env = {"VAFA_POINTS_EARN_RATE": "0.0001", **quiet}
    own = settings or {}
    processes = [
        ServiceProcess(f"services.{s}", stack.env(s, **env | dict(own.get(s, {}))), log_dir, tree)
        for s in SERVICES
        for _ in range(instances)
    ]
    # Notify asks an ingest for the addresses of what it sends, and ingest asks a notify to send
    # members their sign-in codes.
    ingest = next(p for p in processes if p.module == "services.ingest")
    notify = next(p for p in processes if p.module == "services.notify")
    for p in processes:
        p.env["VAFA_NOTIFY_CONTACTS_URL"] = ingest.url
        p.env["VAFA_INGEST_NOTIFY_URL"] = notify.url
    for p in processes:
        p.start()
    for p in processes:
        await p.wait_ready(timeout=120)
    return processes


# Libraries whose share of the stacks says where a service's time goes.
PACKAGES = ("pydantic", "sqlalchemy", "asyncpg", "aiokafka", "faststream", "orjson")


def start_profilers(processes: Sequence[ServiceProcess], out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each service (sampling, not pausing it): a flame graph and the raw stacks."""
    spy = str(Path(sys.executable).parent / "py-spy")
    spies = []
    for p in processes:
        assert p.proc
        name = p.module.split(".")[-1]
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
            command = [spy, "record", "--pid", str(p.proc.pid), "--rate", "100", "--nonblocking",
                       "--format", fmt, "--output", str(out / f"{name}.{suffix}")]  # fmt: skip
            spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


def stop_profilers(spies: Sequence[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    for spy in spies:
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy.wait(timeout=60)


def _package(frame: str) -> str:
    """``function (package/module.py:line)`` -> ``package``."""
    where = frame.rpartition(" (")[2]
    return where.split("/", 1)[0] if "/" in where else where.split(":", 1)[0].rstrip(")")


def profile_summary(raw: Path, top: int = 12) -> dict[str, Any]:
    """From py-spy's raw stacks: the share of samples each library is on the stack, the share of self
    time (the innermost frame) per package, and the functions with the most self time."""
    total, inclusive, own, leaves = 0, dict.fromkeys(PACKAGES, 0), Counter[str](), Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for package in PACKAGES:
            if any(f"({package}/" in f for f in frames):
                inclusive[package] += n
        leaves[frames[-1]] += n
        own[_package(frames[-1])] += n
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "on_stack_share": {k: round(v / total, 3) for k, v in inclusive.items()},
        "self_share_by_package": {k: round(n / total, 3) for k, n in own.most_common(top)},
        "top_self": [(f, round(n / total, 3)) for f, n in leaves.most_common(top)],
    }


async def pipeline(
    infra: Infra,
    values: Sequence[bytes],
    instances: int,
    log_dir: Path,
    profile_to: Path | None = None,
    tree: Path = REPO,
    warm: Sequence[bytes] = (),
) -> dict[str, Any]:
    """``values`` through the five services, measured after ``warm`` went through unmeasured."""
    stack = Stack(infra)
    await stack.create(*SERVICES)
    processes = await start_services(stack, instances, log_dir, tree)
    spies = start_profilers(processes, profile_to) if profile_to else []
    try:
        await asyncio.sleep(2)  # every member has joined its group
        if warm:
            await warm_up(infra, stack, warm)
        rows_before, wal_before = await rows_written(stack), await wal_written(stack)
        label = {f"{p.module.split('.')[-1]}-{i % instances}": p for i, p in enumerate(processes)}
        named = {name: psutil.Process(p.proc.pid) for name, p in label.items() if p.proc}
        named |= _infra_processes()
        probe = await Probe(stack, READS).__aenter__()
        sampler = Sampler(probe, named)
        pg_cpu = postgres_cpu()
        stop = asyncio.Event()
        started = time.perf_counter()
        sampling = asyncio.create_task(sampler.run(started, stop))
        await produce(infra.kafka_client(POS), stack.topic(Topic.POS_RAW), values, keys=member_keys(values))
        produced_s = time.perf_counter() - started
        done = await finished(probe, expected_outputs([*warm, *values]), started)
        stop.set()
        await sampling
        await probe.__aexit__()
        rows_after, wal_after = await rows_written(stack), await wal_written(stack)
        batches = {name: await histogram_mean(p, "vafa_consumer_batch_size") for name, p in label.items()}
        batch_ms = {
            name: await histogram_mean(p, "vafa_consumer_batch_seconds", 1000) for name, p in label.items()
        }
        purchases = sum(1 for v in values if b'"kind":"purchase"' in v)
        seconds = max(done.values())
        return {
            "instances": instances,
            "events": len(values),
            "purchases": purchases,
            "produced_seconds": produced_s,
            "done_seconds": done,
            "seconds": seconds,
            "per_second": len(values) / seconds,
            "purchases_per_second": purchases / seconds,
            "cpu_seconds": {**sampler.cpu_seconds(), "postgresql": postgres_cpu() - pg_cpu},
            "peak_rss_mb": {k: v / 2**20 for k, v in sampler.peak_rss.items()},
            "rows_per_event": {s: (rows_after[s] - rows_before[s]) / len(values) for s in rows_after},
            "lag": sampler.lag,
            # A batch's fixed cost (a transaction, a dozen statements) is shared by this many events.
            "records_per_batch": batches,
            # ... and takes this long, start to offset commit: what a record waits for on every hop.
            "batch_ms": batch_ms,
            "wal_per_event": {k: (wal_after[k] - wal_before[k]) / len(values) for k in wal_after},
        }
    finally:
        stop_profilers(spies)
        for p in processes:
            p.stop()
        await stack.drop()  # a long-lived broker piled up every run's partitions until it ran out of files


def member_keys(values: Sequence[bytes]) -> list[bytes]:
    # Keyed by member, as a POS would: a return then follows its sale on one partition (ingest
    # dead-letters a return that arrives before its sale).
    return [str(orjson.loads(v).get("member_id", "")).encode() for v in values]


async def warm_up(infra: Infra, stack: Stack, warm: Sequence[bytes]) -> None:
    """The stores as a running program's are: holding data, with planner statistics. A table created
    moments ago has none, and the planner then takes ``program_id = 'main'`` for a selective condition
    and scans every earn of the program for a batch's few returns (autovacuum analyses a table only
    about a minute after it grew, longer than a run)."""
    async with Probe(stack, READS) as probe:
        await produce(infra.kafka_client(POS), stack.topic(Topic.POS_RAW), warm, keys=member_keys(warm))
        await finished(probe, expected_outputs(warm), time.perf_counter())
    for service in SERVICES:
        await stack.query(service, "ANALYZE")


async def histogram_mean(process: ServiceProcess, histogram: str, scale: float = 1) -> float:
    """The mean of one of the service's histograms since it started (its consumer's batch sizes, or
    the seconds from a batch's records to their offsets committed), times ``scale``."""
    count = await process.metric(f"{histogram}_count")
    return round(await process.metric(f"{histogram}_sum") / count * scale, 1) if count else 0.0


def _infra_processes() -> dict[str, psutil.Process]:
    found = {}
    for proc in psutil.process_iter(["cmdline", "name"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "kafka.Kafka" in cmd:
            found["kafka"] = proc
        elif proc.info["name"] == "postgres" and "-D" in cmd:
            found["postgresql"] = proc
    return found


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process (the backends do the work, not the postmaster)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"]:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


async def latency(
    infra: Infra,
    rate: float,
    seconds: float,
    members: int,
    log_dir: Path,
    warm: Sequence[bytes] = (),
    tree: Path = REPO,
    settings: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """At ``rate`` purchases/s for ``seconds``: created -> points.earned, created -> tier.changed
    (``settings``: services' own ``VAFA_...`` variables, as ``start_services`` takes them)."""
    stack = Stack(infra)
    await stack.create(*SERVICES)
    processes = await start_services(stack, 1, log_dir, tree, settings)
    try:
        await asyncio.sleep(2)
        if warm:
            await warm_up(infra, stack, warm)
        items = list(simulator(int(rate * seconds), members, seed=11).purchases(int(rate * seconds)))
        sent = await produce(
            infra.kafka_client(POS), stack.topic(Topic.POS_RAW), [orjson.dumps(i) for i in items], rate
        )
        created = {
            str(purchase_event_id(i["chain_id"], i["store_id"], i["receipt_no"])): t
            for i, t in zip(items, sent, strict=True)
        }
        async with Probe(stack, READS) as probe:
            await finished(probe, expected_outputs([*warm, *map(orjson.dumps, items)]), time.perf_counter())
        # The first hop on its own: created -> validated and forwarded by ingest.
        forwarded = [
            record.timestamp / 1000 - created[key]
            for record in await stack.read_all(Topic.PURCHASES, timeout=60)
            if (key := str(orjson.loads(record.value or b"").get("event_id"))) in created
        ]
        earned: list[float] = []
        changed: list[float] = []
        caused_by: dict[str, str] = {}  # points.earned event -> the purchase that caused it
        records = await stack.read_all(Topic.POINTS, timeout=60) + await stack.read_all(
            Topic.TIERS, timeout=60
        )
        for record in records:
            event = orjson.loads(record.value or b"")
            cause = str(event.get("causation_id"))
            if event["type"] == "points.earned":
                caused_by[event["event_id"]] = cause
            if cause in created and event["type"] in ("points.earned", "tier.changed"):
                (earned if event["type"] == "points.earned" else changed).append(
                    record.timestamp / 1000 - created[cause]
                )
        logged = [
            row["created_at"].timestamp() - created[caused_by[str(row["source_event_id"])]]
            for row in await stack.query(
                "notify",
                "SELECT source_event_id, created_at FROM deliveries WHERE source_type = 'points.earned'",
            )
            if caused_by.get(str(row["source_event_id"])) in created
        ]
        return {
            "offered_per_second": rate,
            "purchases": len(items),
            "ingest_forwarded": percentiles(forwarded),
            "points_earned": percentiles(earned),
            "tier_changed": percentiles(changed),
            "notification_logged": percentiles(logged),
        }
    finally:
        for p in processes:
            p.stop()
        await stack.drop()


async def http_intake(
    infra: Infra, count: int, members: int, log_dir: Path, clients: int = 4
) -> dict[str, Any]:
    """Ingest alone over HTTP: batches of 500 from ``clients`` concurrent POS fleets, each answered
    after Kafka acknowledged every event in it."""
    stack = Stack(infra)
    await stack.create("ingest")
    ingest = ServiceProcess("services.ingest", stack.env("ingest"), log_dir).start()
    try:
        await ingest.wait_ready(timeout=120)
        made = await asyncio.to_thread(ingest_cli, stack.env("ingest"), "create", "admin")
        headers = {"Authorization": f"Bearer {made}"}
        items = list(simulator(count, members, seed=5).mixed(count))
        batches = [items[i : i + 500] for i in range(0, len(items), 500)]
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)
        accepted = 0

        async def fleet(client: httpx.AsyncClient) -> None:
            nonlocal accepted
            while not queue.empty():
                batch = queue.get_nowait()
                answer = await client.post("/v1/batch", json={"items": batch}, headers=headers)
                accepted += answer.json()["summary"].get("accepted", 0)

        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=ingest.url, timeout=120) as client:
            await asyncio.gather(*(fleet(client) for _ in range(clients)))
        seconds = time.perf_counter() - started
        return {"events": count, "accepted": accepted, "seconds": seconds, "per_second": accepted / seconds}
    finally:
        ingest.stop()
        await stack.drop()


def percentiles(values: list[float]) -> dict[str, float]:
    """Of durations in seconds: how many, and the 50th, 95th and 99th percentile and the maximum in ms."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000

    return {
        "count": len(values),
        "p50_ms": at(0.5),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": at(1.0),
    }


async def latency_curve(
    infra: Infra, rates: Sequence[float], seconds: float, members: int, logs: Path, warm: Sequence[bytes]
) -> list[dict[str, Any]]:
    """``latency`` at each offered load, lowest first, each on fresh stores: a backlog one level left
    behind must not be charged to the next."""
    curve = []
    for rate in sorted(rates):
        curve.append(await latency(infra, rate, seconds, members, logs, warm))
        p99 = curve[-1]["points_earned"].get("p99_ms", float("nan"))
        print(f"latency at {rate:,.0f} purchases/s: p99 to points.earned {p99:,.0f} ms", flush=True)
    return curve


def highest_load_under(curve: Sequence[dict[str, Any]], p99_ms: float = 1000) -> float | None:
    """The highest offered load at which, it and every lower one, p99 to points.earned < ``p99_ms``."""
    best = None
    for point in sorted(curve, key=lambda c: c["offered_per_second"]):
        if point["points_earned"].get("p99_ms", float("inf")) >= p99_ms:
            break
        best = point["offered_per_second"]
    return best


def plot_curve(curve: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(7, 4.5))
    rates = [c["offered_per_second"] for c in curve]
    for key, label, colour in (
        ("points_earned", "points.earned", "tab:blue"),
        ("notification_logged", "notification logged", "tab:orange"),
    ):
        for q, style in (("p50_ms", "--"), ("p99_ms", "-")):
            axes.plot(
                rates,
                [c[key].get(q, float("nan")) for c in curve],
                style,
                marker="o",
                color=colour,
                label=f"{label} {q[:3]}",
            )
    axes.axhline(1000, color="grey", linewidth=0.8)
    axes.set_yscale("log")
    axes.set(
        title="latency from purchase created, over offered load",
        xlabel="offered purchases/s",
        ylabel="ms (log)",
    )
    axes.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5))
    run = result["pipeline_runs"][0]
    for service in SERVICES:
        left.plot([s["t"] for s in run["lag"]], [s[service] for s in run["lag"]], label=service)
    left.set(title=f"consumer lag, {run['events']} events", xlabel="s", ylabel="records behind")
    left.legend()
    for name in sorted({n for s in run["lag"] for n in s.get("rss_mb", {})} - {"kafka"}):
        at = [s for s in run["lag"] if name in s.get("rss_mb", {})]
        middle.plot([s["t"] for s in at], [s["rss_mb"][name] for s in at], label=name)
    middle.set(title="RSS over the run", xlabel="s", ylabel="MB")
    middle.legend()
    names = ["ceiling", "pipeline x1"] + (["pipeline x2"] if result.get("scaling") else [])
    values = [result["ceiling"]["per_second"], result["pipeline"]["per_second"]]
    if result.get("scaling"):
        values.append(result["scaling"]["per_second"])
    right.bar(names, values, color=["grey", "tab:blue", "tab:green"][: len(names)])
    right.set(title="events/s (median)", ylabel="events/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(result: dict[str, Any]) -> str:
    p, c, lat = result["pipeline"], result["ceiling"], result["latency"]
    lines = [
        f"events per run: {p['events']} ({p['purchases']} purchases); median of {result['repeats']} runs",
        f"ceiling (bare aiokafka produce+consume): {c['per_second']:,.0f} events/s",
        f"pipeline ingest->points->tiers->notify->analytics: {p['per_second']:,.0f} events/s "
        f"({p['purchases_per_second']:,.0f} purchases/s); ratio {p['per_second'] / c['per_second']:.3f}",
    ]
    ingest, http = p["events"] / p["done_seconds"]["ingest"], result["ingest_http"]["per_second"]
    lines.append(f"ingest stage of the pipeline (pos.raw):  {ingest:,.0f} events/s validated and forwarded")
    lines.append(f"ingest alone, HTTP batches of 500:       {http:,.0f} events/s accepted after acks=all")
    if result.get("scaling"):
        s = result["scaling"]
        lines.append(f"pipeline, 2 instances of each service:  {s['per_second']:,.0f} events/s")
    for name, figures in (
        ("points.earned", lat["points_earned"]),
        ("tier.changed", lat["tier_changed"]),
        ("notification logged", lat.get("notification_logged", {})),
    ):
        if figures.get("count"):
            lines.append(
                f"latency created->{name} at {lat['offered_per_second']:.0f}/s: "
                f"p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
                f"p99 {figures['p99_ms']:.0f} ms (n={figures['count']})"
            )
    if curve := result.get("latency_curve"):
        lines.append("offered/s  p50 ms  p99 ms  (created -> points.earned)")
        for c in curve["points"]:
            e = c["points_earned"]
            lines.append(
                f"{c['offered_per_second']:>9,.0f}{e.get('p50_ms', 0):>8,.0f}{e.get('p99_ms', 0):>8,.0f}"
            )
        lines.append(f"p99 under 1 s up to {curve['p99_under_1s_up_to']} purchases/s offered")
    run = result["pipeline_runs"][0]
    lines.append("process        cpu s   peak RSS MB")
    for name in sorted(run["peak_rss_mb"]):
        lines.append(
            f"{name:<14}{run['cpu_seconds'].get(name, float('nan')):>6.1f}{run['peak_rss_mb'][name]:>13.0f}"
        )
    lines.append(
        "PostgreSQL rows written per event: "
        + ", ".join(f"{k} {v:.1f}" for k, v in run["rows_per_event"].items())
    )
    batches = run["records_per_batch"].items()
    lines.append("records per batch: " + ", ".join(f"{k} {v:.0f}" for k, v in batches))
    lines.append("ms per batch: " + ", ".join(f"{k} {v:.0f}" for k, v in run["batch_ms"].items()))
    wal = run["wal_per_event"]
    lines.append(
        f"PostgreSQL WAL per event (cluster): {wal['bytes']:,.0f} bytes, {wal['records']:.1f} records, "
        f"{wal['full_page_images']:.2f} full-page images"
    )
    return "\n".join(lines)


def _median(runs: list[dict[str, Any]], key: str = "per_second") -> dict[str, Any]:
    middle = statistics.median(r[key] for r in runs)
    return min(runs, key=lambda r: abs(r[key] - middle))


def cpu_ms_per_event(run: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per event of each process, and of all together (``total``)."""
    per = {name: 1000 * seconds / run["events"] for name, seconds in run["cpu_seconds"].items()}
    return {**per, "total": sum(per.values())}


def _git(*args: str) -> None:
    subprocess.run(["git", "-C", str(REPO), *args], check=True)


def parse_settings(text: str) -> dict[str, str]:
    """``"jit=off,commit_delay=100"`` -> ``{"jit": "off", "commit_delay": "100"}``."""
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip().replace("_", "").isalnum() for p in pairs):
        raise SystemExit(f"--pg-settings: expected name=value,name=value; got {text!r}")
    return {name.strip(): value.strip() for name, value in pairs}


async def server_settings(infra: Infra, settings: Mapping[str, str], names: Sequence[str]) -> None:
    """PostgreSQL's ``names`` back to their defaults, then ``settings`` on, for new statements of every
    session: only settings a reload applies (``ALTER SYSTEM``; the bench's role is the cluster's owner)."""
    conn = await Stack(infra).pg("postgres")
    try:
        for name in names:
            await conn.execute(f"ALTER SYSTEM RESET {name}")
        for name, value in settings.items():
            quoted = value.replace("'", "''")
            await conn.execute(f"ALTER SYSTEM SET {name} = '{quoted}'")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.5)  # the reload reaches the backends by signal
        for name, value in settings.items():
            now = await conn.fetchval(f"SHOW {name}")
            if str(now) != value:
                raise SystemExit(f"{name} is {now} after the reload, not {value}: it needs a restart")
    finally:
        await conn.close()


async def compare(
    infra: Infra,
    values: Sequence[bytes],
    repeats: int,
    logs: Path,
    warm: Sequence[bytes] = (),
    ref: str | None = None,
    settings: Mapping[str, str] | None = None,
    rates: Sequence[float] = (),
    seconds: float = 20,
    members: int = 100_000,
) -> dict[str, Any]:
    """This tree against commit ``ref``, or PostgreSQL's defaults against ``settings``, run by run in
    one invocation (ceiling, then both pipelines in alternating order), so both meet the same machine:
    medians and ratios of the same run. With ``rates``, each side's pipeline run is followed by its
    latency at each of those offered loads."""
    scratch = Path(tempfile.mkdtemp(prefix="vafa-bench-"))
    tree = scratch / "tree"
    changed = dict(settings or {})
    if ref:
        await asyncio.to_thread(_git, "worktree", "add", "-q", "--detach", str(tree), ref)
        named = {ref: (tree, {}), "this tree": (REPO, changed)}
    else:
        label = ",".join(f"{k}={v}" for k, v in changed.items())
        named = {"server defaults": (REPO, {}), label: (REPO, changed)}
    sides: dict[str, list[dict[str, Any]]] = {side: [] for side in named}
    try:
        for n in range(repeats):
            limit = await ceiling(infra, values)
            order = list(named) if n % 2 == 0 else list(reversed(named))
            for side in order:
                side_tree, side_settings = named[side]
                if changed:  # ALTER SYSTEM needs a superuser: an A/B of trees alone must not
                    await server_settings(infra, side_settings, list(changed))
                run = await pipeline(infra, values, 1, logs, tree=side_tree, warm=warm)
                run.pop("lag")
                run["ratio"] = run["per_second"] / limit["per_second"]
                run["ceiling_per_second"] = limit["per_second"]
                run["cpu_ms_per_event"] = cpu_ms_per_event(run)
                run["latency"] = [
                    await latency(infra, rate, seconds, members, logs, warm, side_tree) for rate in rates
                ]
                sides[side].append(run)
                print(f"run {n + 1} {side}: {run['per_second']:,.0f} events/s, ratio {run['ratio']:.3f}, "
                      f"{run['cpu_ms_per_event']['total']:.2f} ms CPU/event", flush=True)  # fmt: skip
                for point in run["latency"]:
                    p50, p99 = (point["points_earned"].get(q, 0) for q in ("p50_ms", "p99_ms"))
                    rate = point["offered_per_second"]
                    print(
                        f"  at {rate:,.0f}/s to points.earned: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms",
                        flush=True,
                    )
    finally:
        if changed:
            await server_settings(infra, {}, list(changed))
        if ref:
            await asyncio.to_thread(_git, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(scratch, ignore_errors=True)

    def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
        names = runs[0]["cpu_ms_per_event"]
        return {
            "per_second": statistics.median(r["per_second"] for r in runs),
            "ratio": statistics.median(r["ratio"] for r in runs),
            "cpu_ms_per_event": {k: statistics.median(r["cpu_ms_per_event"][k] for r in runs) for k in names},
            "rows_per_event": runs[0]["rows_per_event"],
            "latency": [
                {
                    "offered_per_second": points[0]["offered_per_second"],
                    **{
                        f"{q}_ms": statistics.median(p["points_earned"].get(f"{q}_ms", 0) for p in points)
                        for q in ("p50", "p95", "p99")
                    },
                }
                for points in zip(*(r["latency"] for r in runs), strict=True)
            ],
            "runs": runs,
        }

    return {
        "against": ref or "server defaults",
        "pg_settings": changed,
        "sides": {side: medians(runs) for side, runs in sides.items()},
    }


def compare_table(result: dict[str, Any]) -> str:
    (old, a), (new, b) = result["sides"].items()
    lines = [
        f"{'':<22}{old:>12}{new:>12}{'new/old':>9}",
        f"{'events/s':<22}{a['per_second']:>12,.0f}{b['per_second']:>12,.0f}"
        f"{b['per_second'] / a['per_second']:>9.2f}",
        f"{'ratio to ceiling':<22}{a['ratio']:>12.3f}{b['ratio']:>12.3f}{b['ratio'] / a['ratio']:>9.2f}",
    ]
    for name in a["cpu_ms_per_event"]:
        x, y = a["cpu_ms_per_event"][name], b["cpu_ms_per_event"].get(name, float("nan"))
        lines.append(f"{'CPU ms/event ' + name:<22}{x:>12.3f}{y:>12.3f}{y / x if x else 0:>9.2f}")
    for name in a["rows_per_event"]:
        x, y = a["rows_per_event"][name], b["rows_per_event"].get(name, float("nan"))
        lines.append(f"{'rows/event ' + name:<22}{x:>12.2f}{y:>12.2f}{y / x if x else 0:>9.2f}")
    for at_a, at_b in zip(a["latency"], b["latency"], strict=True):
        for q in ("p50", "p99"):
            x, y = at_a[f"{q}_ms"], at_b[f"{q}_ms"]
            name = f"{q} ms at {at_a['offered_per_second']:,.0f}/s"
            lines.append(f"{name:<22}{x:>12,.0f}{y:>12,.0f}{y / x if x else 0:>9.2f}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--warm-up", type=int, default=2_000, help="events through the pipeline before it is measured"
    )
    parser.add_argument(
        "--rate", type=float, default=300, help="offered purchases/s for the latency run (below capacity)"
    )
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument(
        "--curve",
        default="100,200,300,400,500,600,700",
        help="offered purchases/s for the latency curve, comma-separated ('' for none)",
    )
    parser.add_argument("--scaling", action="store_true", help="also run 2 instances of each service")
    parser.add_argument(
        "--profile", action="store_true", help="one more pipeline run under py-spy: flame graphs per service"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the figures are written")
    parser.add_argument(
        "--against",
        metavar="REF",
        help="only the pipeline, this tree against commit REF run by run (alternating), CPU per event",
    )
    parser.add_argument(
        "--against-rates",
        default="",
        metavar="RATE,...",
        help="with --against or --pg-settings: each side's latency at these offered purchases/s, per run",
    )
    parser.add_argument(
        "--pg-settings",
        metavar="NAME=VALUE,...",
        help="only the pipeline, PostgreSQL with these settings (reloadable ones) against its defaults "
        "run by run; with --against, this tree's side runs with them",
    )
    args = parser.parse_args()
    infra = infra_from_env()
    results = args.results
    results.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    logs = results / f"{stamp}-logs"
    logs.mkdir()
    stream = workload(args.warm_up + args.events, args.members, seed=7)
    warm, values = stream[: args.warm_up], stream[args.warm_up :]
    if args.against or args.pg_settings:
        settings = parse_settings(args.pg_settings or "")
        rates = [float(r) for r in args.against_rates.split(",") if r.strip()]
        compared = await compare(
            infra, values, args.repeats, logs, warm, args.against, settings,
            rates, args.latency_seconds, args.members,
        )  # fmt: skip
        what = args.against or "pg-" + "-".join(f"{k}-{v}" for k, v in settings.items())
        out = results / f"{stamp}-against-{what}.json"
        out.write_text(json.dumps({"at": stamp, **compared}, indent=2, default=str))
        print(compare_table(compared))
        print(f"\nwrote {out}")
        return
    ceilings = [await ceiling(infra, values) for _ in range(args.repeats)]
    runs = []
    for n in range(args.repeats):
        runs.append(await pipeline(infra, values, 1, logs, warm=warm))
        print(f"pipeline run {n + 1}: {runs[-1]['per_second']:,.0f} events/s", flush=True)
    result: dict[str, Any] = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)},
        "repeats": args.repeats,
        "warm_up_events": args.warm_up,
        "ceiling": _median(ceilings),
        "ceiling_runs": ceilings,
        "pipeline": {k: v for k, v in _median(runs).items() if k != "lag"},
        "pipeline_runs": runs,
        "latency": await latency(infra, args.rate, args.latency_seconds, args.members, logs, warm),
        "ingest_http": await http_intake(infra, args.events, args.members, logs),
    }
    rates = [float(r) for r in args.curve.split(",") if r.strip()]
    if rates:
        # The fixed-load run above is one point of the curve when its rate is on it.
        again = [r for r in rates if r != args.rate]
        curve = await latency_curve(infra, again, args.latency_seconds, args.members, logs, warm)
        if len(again) < len(rates):
            curve = sorted([*curve, result["latency"]], key=lambda c: c["offered_per_second"])
        result["latency_curve"] = {"points": curve, "p99_under_1s_up_to": highest_load_under(curve)}
        plot_curve(curve, results / f"{stamp}-latency.png")
    if args.scaling:
        scaled = await pipeline(infra, values, 2, logs, warm=warm)
        result["scaling"] = {k: v for k, v in scaled.items() if k != "lag"}
    if args.profile:
        flames = results / f"{stamp}-profile"
        flames.mkdir()
        profiled = await pipeline(infra, values, 1, logs, profile_to=flames, warm=warm)
        result["profile"] = {
            "note": "a separate run under py-spy (100 Hz); its throughput is not the pipeline's",
            "per_second": profiled["per_second"],
            "cpu_seconds": profiled["cpu_seconds"],
            "services": {
                s: profile_summary(flames / f"{s}.txt") for s in SERVICES if (flames / f"{s}.txt").exists()
            },
        }
    out = results / f"{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    plot(result, results / f"{stamp}.png")
    print(table(result))
    print(f"\nwrote {out} and {out.with_suffix('.png')}")
    if rates:
        print(f"and {results / f'{stamp}-latency.png'}")


if __name__ == "__main__":
    asyncio.run(main())
