"""The points service through Kafka, its HTTP API and its jobs, checked against figures computed
here from the input alone."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx

from shared.contracts.envelope import utcnow
from shared.topics import Topic
from sim.pos import PosSimulator
from tests.pointsflow import balances
from tests.support import REPO, ServiceProcess, Stack, api_key, bearer, decode, eventually, operator

RATE = Decimal("0.0001")
WELCOME = 50
TOKEN = bearer(operator("test-ops", "admin"))
RULES = {
    "effective_from": "2020-01-01T00:00:00+00:00",
    "base_rates": {"IRR": str(RATE)},
    "category_multipliers": {"dairy": "2"},
    "welcome_bonus": WELCOME,
}


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_FLOOR))


def earned(item: dict[str, Any]) -> int:
    """The rules above, by hand: base on the total, +1x on dairy lines, each part rounded down."""
    dairy = sum(Decimal(line["amount"]) for line in item["lines"] if line["category"] == "dairy")
    return floor(Decimal(item["total_amount"]) * RATE) + floor(dairy * RATE)


async def start(stack: Stack, services: list[ServiceProcess], log_dir: Path, **env: str) -> ServiceProcess:
    points = ServiceProcess("services.points", stack.env("points", **env), log_dir)
    services.append(points)
    points.start()
    await points.wait_ready()
    return points


async def with_ingest(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, rules: dict[str, Any]
) -> tuple[ServiceProcess, ServiceProcess]:
    """Ingest and points running, with ``rules`` stored as the rule set in force."""
    await stack.create("ingest", "points")
    ingest = ServiceProcess("services.ingest", stack.env("ingest"), log_dir)
    services.append(ingest)
    ingest.start()
    points = await start(stack, services, log_dir)
    await ingest.wait_ready()
    async with points.client(timeout=30) as client:
        assert (await client.post("/v1/rules", json=rules, headers=TOKEN)).status_code == 201
    return ingest, points


async def test_a_day_of_purchases_and_returns_gives_the_balances_computed_here_and_replay_changes_nothing(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest, points = await with_ingest(stack, services, log_dir, RULES)
    sim = PosSimulator(members=40, run="day")
    purchases = list(sim.purchases(600))
    # A tenth of the purchases come back, half of them in full, the rest one unit of the first line.
    returns = [sim.return_of(p) for p in random.Random(3).sample(purchases, 60)]

    admin = api_key(stack, "admin")
    async with httpx.AsyncClient(base_url=ingest.url, timeout=60) as client:
        for items in (purchases, returns):
            answer = await client.post(
                "/v1/batch", json={"items": items}, headers={"Authorization": f"Bearer {admin}"}
            )
            assert answer.json()["summary"] == {"accepted": len(items)}

    expected: Counter[str] = Counter()
    by_receipt = {p["receipt_no"]: p for p in purchases}
    for p in purchases:
        expected[p["member_id"]] += earned(p)
    for member in {p["member_id"] for p in purchases}:
        expected[member] += WELCOME
    for r in returns:
        p = by_receipt[r["original_receipt_no"]]
        share = Decimal(1) if r["full"] else Decimal(r["refund_amount"]) / Decimal(p["total_amount"])
        expected[r["member_id"]] -= int((earned(p) * share).to_integral_value(ROUND_HALF_UP))

    await eventually(lambda: _settled(stack, 660), timeout=60, what="every purchase and return in the ledger")
    assert await balances(stack) == dict(expected)
    await assert_projections_match_ledger(stack)

    # Replay the topic from offset 0: every event is recognised, nothing changes.
    points.stop()
    await stack.rewind("points", Topic.PURCHASES)
    entries_before = await stack.scalar("points", "SELECT count(*) FROM ledger")
    points.start()
    await points.wait_ready()
    await eventually(
        lambda: _metric_at_least(points, "vafa_events_total", 660, outcome="duplicate"), what="replayed"
    )
    assert await balances(stack) == dict(expected)
    assert await stack.scalar("points", "SELECT count(*) FROM ledger") == entries_before


async def _settled(stack: Stack, n: int) -> bool:
    return bool(await stack.scalar("points", "SELECT count(*) FROM inbox") >= n)


async def _metric_at_least(service: ServiceProcess, name: str, n: float, **labels: str) -> bool:
    return await service.metric(name, **labels) >= n


async def assert_projections_match_ledger(stack: Stack) -> None:
    """Balance == sum(ledger) == sum(lots remaining) - debt, for every member."""
    rows = await stack.query(
        "points",
        """SELECT b.member_id, b.balance, b.debt,
                  (SELECT coalesce(sum(points), 0) FROM ledger l WHERE l.member_id = b.member_id) AS ledger,
                  (SELECT coalesce(sum(remaining), 0) FROM lots o WHERE o.member_id = b.member_id) AS lots
           FROM balances b""",
    )
    assert rows
    for row in rows:
        assert row["balance"] == row["ledger"] == row["lots"] - row["debt"], dict(row)


async def test_redemption_is_a_reservation_the_pos_confirms_or_cancels_or_that_times_out(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    points = await start(
        stack, services, log_dir, VAFA_POINTS_REDEMPTION_HOLD_S="2", VAFA_POINTS_JOBS_INTERVAL_S="0.5"
    )
    member = "09120000001"
    async with points.client(timeout=30) as c:
        credit = {"request_id": str(uuid.uuid4()), "points": 1000, "reason": "goodwill after a complaint"}
        assert (
            await c.post(f"/v1/members/{member}/adjustments", json=credit, headers=TOKEN)
        ).status_code == 201
        assert (
            await c.post(f"/v1/members/{member}/adjustments", json=credit, headers=TOKEN)
        ).status_code == 201
        assert (await balance(c, member)) == 1000  # the retried adjustment counted once
        reward = {"name": "Free sangak", "kind": "free_item", "cost_points": 300, "stock": 2}
        assert (await c.put("/v1/rewards/sangak", json=reward, headers=TOKEN)).status_code == 200

        first = {"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "sangak"}
        reserved = await c.post("/v1/redemptions", json=first, headers=TOKEN)
        assert reserved.status_code == 201 and reserved.json()["status"] == "reserved"
        again = await c.post("/v1/redemptions", json=first, headers=TOKEN)
        assert again.json()["redemption_id"] == reserved.json()["redemption_id"]
        assert await balance(c, member) == 700
        confirmed = (await c.post(f"/v1/redemptions/{first['request_id']}/confirm", headers=TOKEN)).json()
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", confirmed["code"])

        second = {"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "sangak"}
        assert (await c.post("/v1/redemptions", json=second, headers=TOKEN)).status_code == 201
        out = {"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "sangak"}
        sold_out = await c.post("/v1/redemptions", json=out, headers=TOKEN)
        assert sold_out.status_code == 409 and sold_out.json()["title"] == "Out of stock"
        cancelled = await c.post(f"/v1/redemptions/{second['request_id']}/cancel", headers=TOKEN)
        assert cancelled.json()["status"] == "cancelled" and await balance(c, member) == 700

        held = {"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "sangak"}
        assert (await c.post("/v1/redemptions", json=held, headers=TOKEN)).status_code == 201
        assert await balance(c, member) == 400
        await eventually(lambda: _balance_is(c, member, 700), what="the unconfirmed hold released")
        late = await c.post(f"/v1/redemptions/{held['request_id']}/confirm", headers=TOKEN)
        assert late.status_code == 409

        big = {"name": "Tea set", "kind": "voucher", "cost_points": 5000}
        await c.put("/v1/rewards/tea-set", json=big, headers=TOKEN)
        poor = await c.post(
            "/v1/redemptions",
            json={"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "tea-set"},
            headers=TOKEN,
        )
        assert poor.status_code == 422 and poor.json()["errors"][0]["rule"] == "insufficient_points"
        unknown = await c.post(
            "/v1/redemptions",
            json={"request_id": str(uuid.uuid4()), "member_id": member, "reward_id": "yacht"},
            headers=TOKEN,
        )
        assert unknown.status_code == 404
        anonymous = await c.post("/v1/redemptions", json=first, headers={"Authorization": ""})
        assert anonymous.status_code == 401

    await assert_projections_match_ledger(stack)
    types = Counter(decode(r)["type"] for r in await stack.read_all(Topic.POINTS))
    assert types == {
        "points.adjusted": 1,
        "points.redeemed": 3,
        "reward.issued": 1,
        "points.redemption_released": 2,
    }


async def test_members_transfer_points_once_and_never_more_than_they_have(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    points = await start(stack, services, log_dir)
    async with points.client(timeout=30) as c:
        credit = {"request_id": str(uuid.uuid4()), "points": 500, "reason": "opening balance"}
        await c.post("/v1/members/sara/adjustments", json=credit, headers=TOKEN)
        gift = {"request_id": str(uuid.uuid4()), "to_member_id": "omid", "points": 200, "note": "birthday"}
        assert (await c.post("/v1/members/sara/transfers", json=gift, headers=TOKEN)).status_code == 201
        assert (await c.post("/v1/members/sara/transfers", json=gift, headers=TOKEN)).status_code == 201
        too_much = {**gift, "request_id": str(uuid.uuid4()), "points": 301}
        refused = await c.post("/v1/members/sara/transfers", json=too_much, headers=TOKEN)
        assert refused.status_code == 422 and refused.json()["errors"][0]["rule"] == "insufficient_points"
        assert (await balance(c, "sara"), await balance(c, "omid")) == (300, 200)
    await assert_projections_match_ledger(stack)
    moved = [
        decode(r)["payload"]
        for r in await stack.read_all(Topic.POINTS)
        if decode(r)["type"] == "points.transferred"
    ]
    assert sorted((m["member_id"], m["points"]) for m in moved) == [("omid", 200), ("sara", -200)]


async def balance(client: httpx.AsyncClient, member: str) -> int:
    return int((await client.get(f"/v1/members/{member}/balance")).json()["balance"])


async def _balance_is(client: httpx.AsyncClient, member: str, points: int) -> bool:
    return await balance(client, member) == points


async def test_points_expire_oldest_first_after_their_months_with_a_reminder_before(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    points = await start(
        stack, services, log_dir, VAFA_POINTS_EXPIRY_MONTHS="6", VAFA_POINTS_EXPIRING_SOON_DAYS="30"
    )
    member = "09120000002"
    async with points.client(timeout=30) as c:
        for n, amount in enumerate((400, 250)):
            body = {"request_id": str(uuid.uuid4()), "points": amount, "reason": f"credit {n}"}
            await c.post(f"/v1/members/{member}/adjustments", json=body, headers=TOKEN)
            await asyncio.sleep(0.01)
        spend = {"request_id": str(uuid.uuid4()), "points": -100, "reason": "correction"}
        await c.post(f"/v1/members/{member}/adjustments", json=spend, headers=TOKEN)
    points.stop()  # the jobs run from the command below, at chosen times

    def jobs_at(moment: Any) -> str:
        return subprocess.run(
            [sys.executable, "-m", "services.points.jobs", "--now", moment.isoformat()],
            cwd=REPO, env={**points.env}, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    now = utcnow()
    reminded = await asyncio.to_thread(jobs_at, now + timedelta(days=170))
    assert "remind-expiring-points: 1" in reminded
    assert "remind-expiring-points: 0" in await asyncio.to_thread(jobs_at, now + timedelta(days=171))
    expired = await asyncio.to_thread(jobs_at, now + timedelta(days=200))
    assert "expire-points: 1" in expired
    assert "expire-points: 0" in await asyncio.to_thread(jobs_at, now + timedelta(days=201))

    assert (await balances(stack))[member] == 0
    await assert_projections_match_ledger(stack)
    events = [decode(r) for r in await stack.read_all(Topic.POINTS)]
    soon = [e["payload"] for e in events if e["type"] == "points.expiring_soon"]
    gone = [e["payload"] for e in events if e["type"] == "points.expired"]
    # The 100 spent came out of the oldest lot: 300 + 250 were left to remind about and expire.
    assert [s["points"] for s in soon] == [550]
    assert [g["points"] for g in gone] == [550]


async def test_partner_brands_fund_campaign_points_and_their_own_purchases_for_settlement(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    rules = {**RULES, "welcome_bonus": 0, "partner_rates": {"snapp": "0.0002"}}
    ingest, points = await with_ingest(stack, services, log_dir, rules)
    now = utcnow()
    campaign = {
        "kind": "partner_campaign", "partner_id": "snapp", "campaign_id": "tea-week", "name": "Tea week",
        "starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=6)).isoformat(),
        "categories": ["beverages"], "multiplier": "3", "budget_points": 100, "occurred_at": now.isoformat(),
    }  # fmt: skip
    ride = {
        "kind": "partner_purchase", "partner_id": "snapp", "receipt_no": "ride-1", "member_id": "m-1",
        "currency": "IRR", "total_amount": "1000000", "occurred_at": now.isoformat(),
    }  # fmt: skip
    sim = PosSimulator(members=5, run="cobrand", start=now - timedelta(minutes=30))
    purchases = list(sim.purchases(40))
    snapp, admin = api_key(stack, "partner", "--partner", "snapp"), api_key(stack, "admin")
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as c:
        for item, key in ((campaign, snapp), (ride, snapp)):
            assert (
                await c.post("/v1/batch", json={"items": [item]}, headers={"Authorization": f"Bearer {key}"})
            ).json()["summary"] == {"accepted": 1}
        assert (
            await c.post("/v1/batch", json={"items": purchases}, headers={"Authorization": f"Bearer {admin}"})
        ).status_code == 200

    await eventually(lambda: _settled(stack, 42), what="all in the ledger")
    tea = sum(
        floor(Decimal(line["amount"]) * RATE * 2)
        for p in purchases
        for line in p["lines"]
        if line["category"] == "beverages"
    )
    async with points.client(timeout=30) as c:
        window = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
        report = (await c.get("/v1/partners/snapp/settlement", params=window, headers=TOKEN)).json()
    lines = {line["campaign_id"]: line["points"] for line in report["lines"]}
    assert lines[None] == 200  # the ride: 1,000,000 IRR at 0.0002
    assert 0 < lines["tea-week"] <= 100 and lines["tea-week"] == min(
        100, lines["tea-week"]
    )  # the budget holds
    assert tea > 0
    assert await stack.scalar("points", "SELECT funded_points FROM campaigns") == lines["tea-week"]
    await assert_projections_match_ledger(stack)
