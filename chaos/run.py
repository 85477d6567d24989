"""`make chaos`: faults while a steady POS stream flows through every service, then an oracle.

All five services run as real processes (two instances of points, so killing one rebalances the group)
on a private slice of Kafka and PostgreSQL. While purchases and returns are produced to ``pos.raw`` at a
steady rate, faults are injected at random moments: SIGKILL of each service in turn (the outbox relay
dies with its service), the Kafka broker stopped and restarted, PostgreSQL stopped and restarted, and a
table locked for seconds so batches hit their lock timeout and retry. Then the run drains, and the
stores and topics are checked against figures computed from the input stream alone
(`chaos/oracle.py`). The report: faults injected, events in flight at each, time to recover, events
lost and duplicates applied (both must be 0), each check. Written to ``chaos/results/<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from aiosmtpd.controller import Controller

from chaos.oracle import Oracle
from shared.contracts.envelope import utcnow
from shared.deadletter import SOURCE_OFFSET, SOURCE_PARTITION
from shared.kafka_acls import POS
from shared.topics import Topic
from sim.harness import (
    REPO,
    Infra,
    Probe,
    ServiceProcess,
    Stack,
    eventually,
    free_port,
    infra_from_env,
    produce,
)
from sim.mail import Mailbox
from sim.poison import poisons
from sim.pos import PosSimulator
from sim.services import READS, SERVICES

RESULTS = Path(__file__).resolve().parent / "results"
VAFACTL = str(REPO / "deploy/local/vafactl")
EARN_RATE = "0.0001"
FAULTS = (
    "kill ingest",
    "kill points (the group rebalances)",
    "kill tiers",
    "kill notify",
    "kill analytics",
    "lock the points ledger",
    "restart Kafka",
    "restart PostgreSQL",
    "a burst of poison records",
)
# A ladder whose tiers add no points, so each purchase's points do not depend on whether its
# tier.changed reached points first: the points oracle stays exact while tiers still move.
LADDER = {
    "metric": "spend",
    "currency": "IRR",
    "window_months": 12,
    "grace_days": 30,
    "vip_tier": "Gold",
    "tiers": [
        {"name": "Bronze", "threshold": "0"},
        {"name": "Silver", "threshold": "50000000"},
        {"name": "Gold", "threshold": "200000000"},
        {"name": "Platinum", "threshold": "1000000000"},
    ],
}


@dataclass
class Fault:
    kind: str
    at_s: float
    in_flight: int | None = None
    recovered_s: float | None = None
    skipped: str = ""


@dataclass
class Run:
    """The services, and what a supervisor (Kubernetes, systemd) does for them: a process that exits
    without a fault asking is started again a second later, and counted."""

    stack: Stack
    processes: dict[str, ServiceProcess]
    started: float = field(default_factory=time.perf_counter)
    held: set[str] = field(default_factory=set)  # being killed and restarted by a fault
    restarts: Counter[str] = field(default_factory=Counter)
    poison_sent: int = 0  # records no consumer can apply, sent to pos.raw by the poison fault

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 2)

    async def supervise(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for name, process in self.processes.items():
                if name not in self.held and process.proc and process.proc.poll() is not None:
                    self.restarts[name] += 1
                    process.start()

    async def ready(self, name: str, timeout: float = 240) -> None:
        await self.processes[name].wait_ready(timeout, supervised=True)

    async def all_ready(self) -> None:
        await asyncio.gather(*(self.ready(name) for name in self.processes))


def vafactl(*args: str) -> str:
    done = subprocess.run([VAFACTL, *args], capture_output=True, text=True, timeout=400)
    return done.stdout + done.stderr


async def inject(run: Run, fault: Fault, rng: random.Random) -> None:
    started = time.perf_counter()
    if fault.kind.startswith("kill "):
        name = fault.kind.split()[1]
        run.held.add(name)
        try:
            run.processes[name].kill()
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            run.processes[name].start()
        finally:
            run.held.discard(name)
        await run.ready(name)
    elif fault.kind == "lock the points ledger":
        conn = await run.stack.pg(run.stack.database("points"))
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
                await asyncio.sleep(4)  # past the services' lock timeout: batches fail and retry
        finally:
            await conn.close()
    elif fault.kind == "a burst of poison records":
        # Every kind of poison, three times over, amid the stream: ingest dead-letters each, nothing
        # else is disturbed (the oracle), and every dead letter is accounted for (below).
        valid = {"kind": "purchase", "chain_id": "chaos", "store_id": "s-1", "receipt_no": "poison",
                 "member_id": "m-poison", "currency": "IRR", "total_amount": "1000",
                 "occurred_at": utcnow().isoformat()}  # fmt: skip
        burst = [make() for _ in range(3) for make in poisons(valid, "").values()]
        await run.stack.produce(Topic.POS_RAW, [(b"poison", record) for record in burst])
        run.poison_sent += len(burst)
        said = await asyncio.to_thread(vafactl, "kafka-down")
        if "not started by vafactl" in said:
            fault.skipped = "this broker was not started by vafactl, so it is not ours to stop"
            return
        await asyncio.sleep(2)
        await asyncio.to_thread(vafactl, "kafka-up")
        await run.all_ready()
    elif fault.kind == "restart PostgreSQL":
        said = await asyncio.to_thread(vafactl, "pg-down")
        if "not started by vafactl" in said:
            fault.skipped = "this PostgreSQL was not started by vafactl, so it is not ours to stop"
            return
        await asyncio.sleep(2)
        await asyncio.to_thread(vafactl, "pg-up")
        await run.all_ready()
    fault.recovered_s = round(time.perf_counter() - started, 2)


async def faults(run: Run, probe: Probe, kinds: list[str], load_s: float, rng: random.Random) -> list[Fault]:
    """Each fault at its own random moment of the load; they may overlap, as real ones do (a fault on
    a process still coming back from the last waits for it)."""
    moments = sorted(rng.uniform(0.05, 0.75) * load_s for _ in kinds)
    busy: dict[str, asyncio.Lock] = {kind: asyncio.Lock() for kind in kinds}
    # Broker and database restarts are one at a time: both make every service wait.
    infra = asyncio.Lock()

    async def one(kind: str, at: float, seed: int) -> Fault:
        await asyncio.sleep(max(at - (time.perf_counter() - run.started), 0))
        # The lock fault needs the database it locks: it does not overlap a restart either.
        lock = infra if kind.startswith(("restart", "lock")) else busy[kind]
        async with lock:
            fault = Fault(kind, run.elapsed())
            with contextlib.suppress(Exception):  # the broker may be the thing that is down
                fault.in_flight = sum((await asyncio.wait_for(probe.lags(), 5)).values())
            try:
                await inject(run, fault, random.Random(seed))
            except Exception as error:  # a fault that could not be injected is reported, not fatal
                fault.skipped = f"could not inject: {type(error).__name__}: {error}"
        outcome = f"skipped: {fault.skipped}" if fault.skipped else f"recovered in {fault.recovered_s}s"
        print(f"  {fault.at_s:7.1f}s  {kind:<36} in flight {fault.in_flight}, {outcome}")
        return fault

    seeds = [rng.randrange(1 << 30) for _ in kinds]
    return list(await asyncio.gather(*(one(*plan) for plan in zip(kinds, moments, seeds, strict=True))))


async def drained(stack: Stack, probe: Probe) -> bool:
    """Every group at the end of what it reads, every outbox empty, every due message sent."""
    if any((await probe.lags()).values()):
        return False
    for service in SERVICES:
        if await stack.scalar(service, "SELECT count(*) FROM outbox"):
            return False
    queued = "SELECT count(*) FROM deliveries WHERE status = 'queued'"
    return not await stack.scalar("notify", queued)


async def chaos(
    infra: Infra,
    purchases: int,
    rate: float,
    rounds: int,
    seed: int,
    log_dir: Path,
    kinds: Sequence[str] = FAULTS,
) -> dict[str, Any]:
    rng = random.Random(seed)
    stack = Stack(infra)
    await stack.create(*SERVICES)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    ladder = log_dir / "ladder.json"
    ladder.write_text(json.dumps(LADDER))
    common = {"VAFA_PG_LOCK_TIMEOUT_MS": "1000", "VAFA_POINTS_JOBS_INTERVAL_S": "3600"}
    env = {
        "ingest": {},
        "points": {"VAFA_POINTS_EARN_RATE": EARN_RATE},
        "tiers": {"VAFA_TIERS_LADDER_FILE": str(ladder), "VAFA_TIERS_JOBS_INTERVAL_S": "3600"},
        "notify": {
            "VAFA_NOTIFY_SMTP_PORT": str(smtp.port),
            "VAFA_NOTIFY_QUIET_FROM": "00:00",
            "VAFA_NOTIFY_QUIET_UNTIL": "00:00",
            "VAFA_NOTIFY_DAILY_CAP": "1000000",
            "VAFA_NOTIFY_SEND_INTERVAL_S": "0.2",
        },
        "analytics": {"VAFA_ANALYTICS_SEGMENTS_INTERVAL_S": "3600"},
    }
    processes = {
        name: ServiceProcess(f"services.{name}", stack.env(name, **common, **env[name]), log_dir)
        for name in SERVICES
    }
    processes["points-2"] = ServiceProcess(
        "services.points", stack.env("points", **common, **env["points"]), log_dir
    )
    processes["notify"].env["VAFA_NOTIFY_CONTACTS_URL"] = processes["ingest"].url  # addresses live there
    processes["ingest"].env["VAFA_INGEST_NOTIFY_URL"] = processes["notify"].url
    run = Run(stack, processes)
    sim = PosSimulator(
        seed=seed,
        members=300,
        run=stack.prefix,
        partner_share=0,
        vip_share=0,
        start=utcnow() - timedelta(seconds=7 * purchases + 600),
    )
    enrolments = list(sim.enrolments())
    # One return per receipt at most, so the oracle's spend per member is plain arithmetic.
    returned: set[str] = set()
    stream = []
    for item in sim.mixed(purchases):
        if item["kind"] == "return" and item["original_receipt_no"] in returned:
            continue
        returned.add(item.get("original_receipt_no", ""))
        stream.append(item)
    # POS retries: some receipts sent twice, which must still count once.
    stream += rng.sample([i for i in stream if i["kind"] == "purchase"], k=len(stream) // 50)
    oracle = Oracle(enrolments, stream, EARN_RATE, LADDER)
    supervisor = asyncio.create_task(run.supervise())
    try:
        for process in processes.values():
            process.start()
        await run.all_ready()
        async with Probe(stack, READS) as probe:
            await produce(
                infra.kafka_client(POS),
                stack.topic(Topic.POS_RAW),
                [orjson.dumps(e) for e in enrolments],
                keys=[e["member_id"].encode() for e in enrolments],
            )
            await eventually(
                lambda: _at_least(stack, "notify", "SELECT count(*) FROM members", len(enrolments)),
                timeout=120,
                what="every member's profile at notify",
            )
            load_s = len(stream) / rate
            print(
                f"chaos: {len(stream)} POS records at {rate:.0f}/s ({load_s:.0f}s), "
                f"{rounds} round(s) of {len(kinds)} faults; logs in {log_dir}"
            )
            run.started = time.perf_counter()
            plan = [kind for _ in range(rounds) for kind in rng.sample(list(kinds), len(kinds))]
            load = asyncio.create_task(
                produce(
                    infra.kafka_client(POS),
                    stack.topic(Topic.POS_RAW),
                    [orjson.dumps(i) for i in stream],
                    rate,
                    keys=[i["member_id"].encode() for i in stream],
                )
            )
            injected = await faults(run, probe, plan, load_s, rng)
            await load
            load_done = run.elapsed()
            await eventually(
                lambda: drained(stack, probe), timeout=600, interval=1, what="the pipeline drained"
            )
            drained_s = run.elapsed()
            notify_deaths = sum(f.kind == "kill notify" for f in injected) + run.restarts["notify"]
            checks = await oracle.check(stack, len(mailbox.messages), notify_deaths)
            letters = await stack.read_all("deadletter.ingest")
            # The relay publishes at least once: count each refused record once, by where it came from.
            refused = len(
                {(dict(r.headers)[SOURCE_PARTITION], dict(r.headers)[SOURCE_OFFSET]) for r in letters}
            )
            checks["poison: each record dead-lettered by ingest, nothing else"] = {
                "ok": refused == run.poison_sent,
                "detail": f"{run.poison_sent} poison records sent, {refused} dead letters",
            }
        retries = sum([await p.metric("vafa_consumer_retries_total") for p in processes.values()])
    finally:
        supervisor.cancel()
        for process in processes.values():
            process.kill()
        smtp.stop()
        await asyncio.to_thread(vafactl, "up")  # whatever happened, leave Kafka and PostgreSQL running
        await stack.drop()
    return {
        "at": utcnow().isoformat(),
        "offered": {"records": len(stream), "per_second": rate, "enrolments": len(enrolments)},
        "faults": [vars(f) for f in injected],
        "load_s": load_done,
        "drained_s": drained_s,
        "batches_retried": retries,
        "restarted_by_the_supervisor": dict(run.restarts),
        "lost": checks.pop("lost"),
        "duplicates": checks.pop("duplicates"),
        "checks": checks,
    }


async def _at_least(stack: Stack, service: str, sql: str, n: int) -> bool:
    return bool(await stack.scalar(service, sql) >= n)


def table(report: dict[str, Any]) -> str:
    lines = [
        f"offered {report['offered']['records']} POS records at {report['offered']['per_second']}/s; "
        f"load {report['load_s']}s, drained at {report['drained_s']}s; "
        f"batches retried {report['batches_retried']}; "
        f"restarted by the supervisor: {report['restarted_by_the_supervisor'] or 'none'}",
        f"{'fault':<38}{'at s':>8}{'in flight':>11}{'recovered s':>13}",
    ]
    for f in report["faults"]:
        recovered = "skipped" if f["skipped"] else f["recovered_s"]
        lines.append(f"{f['kind']:<38}{f['at_s']:>8}{f['in_flight']!s:>11}{recovered!s:>13}")
    lines.append(f"events lost: {report['lost']}    duplicates applied: {report['duplicates']}")
    for name, check in report["checks"].items():
        lines.append(f"  {'ok ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__)
    parser.add_argument(
        "--purchases", type=int, default=6000, help="POS records (purchases and ~4%% returns)"
    )
    parser.add_argument("--rate", type=float, default=150, help="records per second offered")
    parser.add_argument("--rounds", type=int, default=1, help="each fault once per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", default="", help="comma-separated words: only faults whose name has one (e.g. kill,lock)"
    )
    args = parser.parse_args()
    kinds = [f for f in FAULTS if not args.only or any(w in f for w in args.only.split(","))]
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"{stamp}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    report = await chaos(infra_from_env(), args.purchases, args.rate, args.rounds, args.seed, log_dir, kinds)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(table(report))
    print(f"written to {RESULTS / stamp}.json")
    if report["lost"] or report["duplicates"] or not all(c["ok"] for c in report["checks"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
