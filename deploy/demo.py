"""`make demo`: the stack up, a realistic POS stream through every service, the results shown.

Starts ingest, points, tiers, notify and analytics as real processes (logs in .run/logs) and a local
SMTP server for notify's email, gives each chain an API key, enrols most members, sends half a day of
purchases from several chains and stores (members Zipf-distributed, baskets of several lines, some POS
retries, a few bad receipts) in HTTP batches, waits until the points service has applied every one, and
checks each shown balance against a figure computed here from the stream alone; then shows what notify
sent and the program's KPIs from analytics.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from deploy.launch import LOGS, REPO, URLS, kafka_env, ports_free, start, wait_ready
from shared.contracts.envelope import utcnow
from shared.kafka_acls import SERVICES
from shared.topics import Topic
from sim.harness import bearer, ingest_cli
from sim.mail import Mailbox
from sim.pos import PosSimulator

EARN_RATE = Decimal("0.0001")  # one point per 10,000 rials
PURCHASES = int(os.environ.get("VAFA_DEMO_PURCHASES", "3000"))
MEMBERS = int(os.environ.get("VAFA_DEMO_MEMBERS", "800"))
SMTP_PORT = 2525
# The environment of a CLI or a job run against a service's store and as its Kafka principal
# (``services.ingest.cli``, ``services.points.jobs``): `make demo`'s own, or a test slice's (bench/pages.py).
EnvOf = Callable[[str], dict[str, str]]


def service_settings(smtp_port: int = SMTP_PORT) -> dict[str, dict[str, str]]:
    """What each service runs with here: the earn rate the balances are checked against, the local SMTP
    server notify sends to, analytics' segments every 2 s."""
    return {
        "ingest": {},
        "points": {"VAFA_POINTS_EARN_RATE": str(EARN_RATE)},
        "tiers": {},
        "notify": {"VAFA_NOTIFY_SMTP_PORT": str(smtp_port)},
        "analytics": {"VAFA_ANALYTICS_SEGMENTS_INTERVAL_S": "2"},
    }


def local_env(service: str) -> dict[str, str]:
    """`make demo`'s environment of a CLI or job: the real databases, the service's own principal."""
    return {**kafka_env(service), **service_settings()[service]}


@dataclass(frozen=True)
class Loaded:
    """What the demo sent: the chains' API keys, the purchases, the enrolments."""

    keys: dict[str, str]
    receipts: list[dict[str, Any]]
    enrolments: list[dict[str, Any]]


async def metric(client: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    """A metric's total over the series that carry ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    text = (await client.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " ")) and all(w in line for w in wanted)
    )


async def main() -> None:
    ports_free(SERVICES)  # the five services; the console is `make up`'s
    LOGS.mkdir(parents=True, exist_ok=True)
    # Demo topics and databases are the real ones (vafa_ingest, vafa_points).
    urls = {name: URLS[name] for name in SERVICES}
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=SMTP_PORT)
    smtp.start()
    procs = [start(name, service_settings()[name]) for name in SERVICES]
    try:
        # The demo acts as an admin operator, signing with the dev keys its services run with.
        async with httpx.AsyncClient(timeout=30, headers=bearer()) as client:
            for url, proc in zip(urls.values(), procs, strict=True):
                await wait_ready(client, url, proc)
            print("up: " + ", ".join(f"{name} {url}" for name, url in urls.items()) + f" (logs: {LOGS})")
            await load(client, urls, mailbox, local_env)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=40)
        smtp.stop()


async def load(
    client: httpx.AsyncClient,
    urls: Mapping[str, str],
    mailbox: Mailbox,
    env_of: EnvOf,
    purchases: int = PURCHASES,
    members: int = MEMBERS,
) -> Loaded:
    """The demo's data through the running services (``urls``, by name), what it does shown as it goes:
    the POS stream, a referral, then until notify (sending to ``mailbox``) and analytics caught up."""
    # A run id keeps each run's receipts distinct so a second `make demo` is not one big duplicate.
    run = utcnow().strftime("%H%M%S")
    loaded = await run_stream(client, urls, run, env_of, purchases, members)
    await show_a_referral(client, urls["ingest"], urls["points"], loaded, run, env_of)
    await show_messages_and_kpis(client, urls["notify"], urls["analytics"], mailbox)
    return loaded


async def run_stream(
    client: httpx.AsyncClient, urls: Mapping[str, str], run: str, env_of: EnvOf, purchases: int, members: int
) -> Loaded:
    """The POS stream through ingest; returns the chains' API keys, the receipts and enrolments sent."""
    ingest, points, tiers = urls["ingest"], urls["points"], urls["tiers"]
    sim = PosSimulator(members=members, run=run)
    receipts = list(sim.purchases(purchases))
    rng = random.Random(11)
    retries = rng.sample(receipts, k=len(receipts) // 50)  # a POS that did not hear the answer
    bad = [{**receipts[1], "total_amount": "12.5"}, {**receipts[0], "currency": "rial"}]
    keys = {chain: ingest_cli(env_of("ingest"), "create", "chain", "--chain", chain) for chain in sim.chains}
    # Purchases only: points also counts enrolments (referrals) and tier changes.
    purchases_topic = {"topic": str(Topic.PURCHASES), "outcome": "applied"}
    before = await metric(client, points, "vafa_events_total", **purchases_topic)
    balances_before = {m: await balance(client, points, m) for m in top_members(receipts)}
    bonus_before = {m: await tier_bonus(client, points, m) for m in top_members(receipts)}

    enrolments = list(sim.enrolments())
    enrolled = await send(client, ingest, keys, enrolments)
    started = time.perf_counter()
    outcomes = await send(client, ingest, keys, receipts + retries + bad)
    sent_s = time.perf_counter() - started
    print(
        f"\nPOS stream: {len(receipts)} purchases from {len(sim.chains)} chains, "
        f"{sum(sim.chains.values())} stores, {members} members; {len(retries)} POS retries; "
        f"{len(bad)} bad receipts; {len(enrolments)} members enrolled first"
    )
    print(f"ingest answered (after Kafka's ack) in {sent_s:.1f}s: {dict(outcomes)}")
    print(f"enrolments: {dict(enrolled)}")

    for _ in range(600):
        if (
            await metric(client, points, "vafa_events_total", **purchases_topic) - before
            >= outcomes["accepted"]
        ):
            break
        await asyncio.sleep(0.1)
    print(f"points applied every accepted purchase {time.perf_counter() - started:.1f}s after the first\n")

    expected: Counter[str] = Counter()
    for item in receipts:
        earned = (Decimal(item["total_amount"]) * EARN_RATE).to_integral_value(ROUND_FLOOR)
        expected[item["member_id"]] += int(earned)
    # The base points are worked out here from the stream; the tier bonus depends on when each
    # tier.changed reached the points service, so it is read from the ledger's own explanation.
    print(f"{'member':<14}{'purchases':>10}{'base':>10}{'tier bonus':>12}{'balance':>10}  tier")
    counts = Counter(item["member_id"] for item in receipts)
    ok = True
    for member in top_members(receipts):
        got = await balance(client, points, member) - balances_before[member]
        bonus = await tier_bonus(client, points, member) - bonus_before[member]
        tier = (await client.get(f"{tiers}/v1/members/{member}/tier")).json()["tier"]
        ok &= got == expected[member] + bonus
        mark = "ok" if got == expected[member] + bonus else "MISMATCH"
        print(f"{member:<14}{counts[member]:>10}{expected[member]:>10}{bonus:>12}{got:>10}  {tier:<9}{mark}")
    text = (await client.get(f"{points}/metrics")).text
    print("\npoints service /metrics:")
    for line in text.splitlines():
        if line.startswith(("vafa_events_total", "vafa_outbox_backlog", "vafa_consumer_batch_size_count")):
            print("  " + line)
    ledger = (await client.get(f"{points}/v1/members/{top_members(receipts)[0]}/ledger")).json()
    print(f"\nwhy {ledger['member_id']} has points (latest ledger entry): {ledger['entries'][0]}")
    if not ok:
        raise SystemExit("balances do not match the stream")
    return Loaded(keys, receipts, enrolments)


async def show_a_referral(
    client: httpx.AsyncClient, ingest: str, points: str, loaded: Loaded, run: str, env_of: EnvOf
) -> None:
    """The best customer refers a friend; the friend enrols with the code and buys; the points jobs
    reward both (the return window is 0 days here, so the purchase clears at once)."""
    terms = {"referrer_points": 500, "friend_points": 200, "minimum_purchase": {"IRR": "500000"},
             "return_window_days": 0}  # fmt: skip
    await client.put(f"{points}/v1/referrals/program", json=terms)
    keys, receipts = loaded.keys, loaded.receipts
    referrer = top_members(receipts)[0]
    code = (await client.post(f"{points}/v1/members/{referrer}/referral-code")).json()["code"]
    friend, chain = f"0999{run}0", receipts[0]["chain_id"]
    at = (utcnow() - timedelta(minutes=5)).isoformat()
    enrolment = {"kind": "member_enrolled", "member_id": friend, "chain_id": chain, "referral_code": code,
                 "email": f"{friend}@mail.example", "occurred_at": at}  # fmt: skip
    sale = {**receipts[0], "member_id": friend, "receipt_no": f"{run}-REF", "occurred_at": at}
    await send(client, ingest, keys, [enrolment])
    await send(client, ingest, keys, [sale])
    for _ in range(300):  # until points has recorded the referral and earned the purchase
        if await balance(client, points, friend) > 0:
            break
        await asyncio.sleep(0.1)
    jobs = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services.points.jobs"], cwd=REPO,
        env={**os.environ, **env_of("points")},
        capture_output=True, text=True,
    )  # fmt: skip
    if jobs.returncode:
        print(f"\nreferral: the points jobs failed: {jobs.stderr[-500:]}")
        return
    mine = (await client.get(f"{points}/v1/members/{referrer}/referrals")).json()
    status = next((r["status"] for r in mine["referred"] if r["friend_id"] == friend), "not recorded")
    print(
        f"\nreferral: {referrer} shared code {code}; {friend} enrolled with it and bought "
        f"{sale['total_amount']} IRR; the referral is {status}: {friend} now has "
        f"{await balance(client, points, friend)} points (200 of them for joining through a friend)"
    )


async def send(
    client: httpx.AsyncClient, ingest: str, keys: dict[str, str], items: list[dict[str, Any]]
) -> Counter[str]:
    """Each chain's POS fleet sends its items in batches of 500; the outcomes counted."""
    by_chain: dict[str, list[dict[str, Any]]] = {chain: [] for chain in keys}
    for item in items:
        by_chain[item["chain_id"]].append(item)
    outcomes: Counter[str] = Counter()
    for chain, mine in by_chain.items():
        for at in range(0, len(mine), 500):
            answer = await client.post(
                f"{ingest}/v1/batch",
                json={"items": mine[at : at + 500]},
                headers={"Authorization": f"Bearer {keys[chain]}"},
            )
            outcomes.update(answer.json()["summary"])
    return outcomes


async def show_messages_and_kpis(
    client: httpx.AsyncClient, notify: str, analytics: str, mailbox: Mailbox
) -> None:
    """What notify sent and what analytics measured, once both have caught up with the stream."""
    await settled(client, [notify, analytics])
    email = (await client.get(f"{notify}/v1/deliveries/summary")).json()["channels"].get("email", {})
    print(f"\nnotify: {len(mailbox.messages)} emails reached the local SMTP server; the delivery log says")
    waiting = email.get("queued", 0)
    print(f"  sent {email.get('sent', 0)}, waiting for the end of the member's quiet hours {waiting},")
    print(f"  suppressed {email.get('suppressed', {})}")
    if mailbox.messages:
        print(f"  e.g. to {mailbox.messages[0]['To']}: {mailbox.messages[0]['Subject']}")
    window = {"from": (utcnow() - timedelta(days=1)).isoformat(), "to": utcnow().isoformat()}
    summary = (await client.get(f"{analytics}/v1/kpis/summary", params=window)).json()
    print("\nanalytics, the last 24 hours (IRR):")
    for key, label in [
        ("N", "N  active customers"),
        ("V", "V  net revenue per customer"),
        ("F", "F  purchases per customer"),
        ("S", "S  units per basket"),
        ("average_transaction_value", "average transaction value"),
        ("repeat_purchase_rate", "repeat-purchase rate"),
        ("top_20_percent_revenue_share", "revenue from the top 20% of customers"),
        ("member_lift", "member lift over non-members"),
    ]:
        print(f"  {label:<40}{summary[key]}")
    await asyncio.sleep(3)  # one round of the segments job
    segments = (await client.get(f"{analytics}/v1/kpis/segments")).json()
    print(f"  segments (loyalty x profitability): {segments['matrix']}")
    print(f"  RFM: {segments['rfm']}")
    print("\n`make report` writes these figures and their charts to reports/vafa-report.html")


async def settled(client: httpx.AsyncClient, urls: list[str]) -> None:
    """Until the services have no consumer lag and their event counts stop moving."""
    last = -1.0
    for _ in range(600):
        lag = sum([await metric(client, url, "vafa_consumer_lag") for url in urls])
        seen = sum([await metric(client, url, "vafa_events_total") for url in urls])
        if lag == 0 and seen == last:
            return
        last = seen
        await asyncio.sleep(0.5)


async def tier_bonus(client: httpx.AsyncClient, points: str, member: str) -> int:
    """Points the member's tier added to their purchases so far, as the ledger explains them: the tier
    line of each earn, and the corrections made when a tier change reached points after purchases it
    covers (event time: a purchase earns with the tier the member held when they made it)."""
    bonus, before = 0, None
    while True:
        page = (
            await client.get(
                f"{points}/v1/members/{member}/ledger",
                params={"limit": 500, **({"before": before} if before else {})},
            )
        ).json()
        for entry in page["entries"]:
            rules = entry["details"].get("rules", [])
            bonus += sum(r["points"] for r in rules if r["rule"].startswith("tier "))
            if entry["kind"] == "adjust" and entry["details"].get("note", "").startswith("tier correction"):
                bonus += entry["points"]
        if not (before := page["next_before"]):
            return bonus


def top_members(receipts: list[dict[str, Any]]) -> list[str]:
    return [m for m, _ in Counter(r["member_id"] for r in receipts).most_common(5)]


async def balance(client: httpx.AsyncClient, points: str, member: str) -> int:
    answer = await client.get(f"{points}/v1/members/{member}/balance")
    return int(answer.json()["balance"]) if answer.status_code == 200 else 0


if __name__ == "__main__":
    asyncio.run(main())
