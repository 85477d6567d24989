"""KPIs per loyalty program: the coalition's ``main`` (every chain) and a chain's own ``hyper-club`` (chain-1,
twice main's earn rate) run side by side through points and analytics on Kafka and PostgreSQL; each
program's N, V, retention, churn and points liability are computed here from the purchases sent, and an
analytics store from before programs keeps its facts as main's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.analytics.store import MIGRATIONS
from shared.contracts import PURCHASE_RECORDED, Envelope, PurchaseRecorded
from shared.contracts.envelope import utcnow
from shared.store.migrate import upgrade
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, eventually, refund, running

pytestmark = pytest.mark.infra
MAIN_RATE, CLUB_RATE = 1, 2  # points per rial: the deployment's default, and the club's own rules
CLUB_CHAINS = {"chain-1"}


@dataclass(frozen=True)
class Sale:
    member: str
    chain: str
    amount: int
    days_before_end: int
    refunded: int = 0  # returned in the current period, a week after the sale

    def envelope(self, end: datetime) -> Envelope[PurchaseRecorded]:
        return PURCHASE_RECORDED.envelope(
            key=self.member,
            producer="test-pos",
            occurred_at=end - timedelta(days=self.days_before_end),
            payload=PurchaseRecorded(
                chain_id=self.chain,
                store_id=f"{self.chain}-store",
                receipt_no=uuid.uuid4().hex[:12],
                member_id=self.member,
                currency="IRR",
                total_amount=Decimal(self.amount),
            ),
        )


# The period asked for is the last 30 days; the 30 before it are the previous period.
SALES = [
    Sale("sara", "chain-1", 40_000, 45),  # in both programs, in both periods
    Sale("sara", "chain-1", 60_000, 10, refunded=20_000),
    Sale("lena", "chain-1", 30_000, 50),  # the club's only in the previous period: churned there,
    Sale("lena", "chain-2", 70_000, 12),  # but still main's customer
    Sale("omid", "chain-2", 25_000, 40),  # main's only
    Sale("omid", "chain-2", 35_000, 5),
    Sale("reza", "chain-1", 90_000, 20),  # new in this period
]


def r4(part: int, whole: int) -> str | None:
    return (
        str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)) if whole else None
    )


def expected(sales: Sequence[Sale], rate: int) -> dict[str, Any]:
    """A program's figures by their definitions, from the sales in it (the period: the last 30 days)."""
    now = [s for s in sales if s.days_before_end < 30]
    before = {s.member for s in sales if 30 <= s.days_before_end < 60}
    buyers = {s.member for s in now}
    net = sum(s.amount - s.refunded for s in now)
    retention = r4(len(before & buyers), len(before))
    # A return takes back the points its part of the purchase earned.
    liability = sum(s.amount * rate - s.refunded * rate for s in sales)
    return {
        "N": len(buyers),
        "V": str((Decimal(net) / len(buyers)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)),
        "net_revenue": Decimal(net),
        "retention_rate": retention,
        "churn_rate": None if retention is None else str(1 - Decimal(retention)),
        "previous_period_customers": len(before),
        "outstanding_liability": liability,
    }


async def _figures(analytics: ServiceProcess, program: str, end: datetime) -> dict[str, Any] | None:
    """The figures analytics answers for ``program``; None while it does not know the program yet."""
    window = {"from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat(), "program": program}
    async with analytics.client(timeout=30) as c:
        answers = [await c.get(f"/v1/kpis/{route}", params=window) for route in ("summary", "points")]
    if any(a.status_code == 404 for a in answers):
        return None
    summary, points = (a.json() for a in answers)
    got = {k: summary[k] for k in ("N", "V", "retention_rate", "churn_rate", "previous_period_customers")}
    return got | {
        "net_revenue": Decimal(summary["net_revenue"]),
        "outstanding_liability": points["outstanding_liability"],
    }


async def _matches(analytics: ServiceProcess, program: str, end: datetime, wanted: dict[str, Any]) -> bool:
    return await _figures(analytics, program, end) == wanted


async def _liability_in_points(points: ServiceProcess, program: str) -> int:
    total = 0
    async with points.client(timeout=30) as c:
        for member in {s.member for s in SALES}:
            answer = await c.get(f"/v1/members/{member}/balance", params={"program": program})
            total += answer.json()["balance"] if answer.status_code == 200 else 0
    return total


async def test_each_loyalty_programs_kpis_are_computed_over_its_own_purchases_and_points(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points", VAFA_POINTS_EARN_RATE=str(MAIN_RATE))
    analytics = await running(stack, services, log_dir, "analytics", VAFA_ANALYTICS_SEGMENTS_INTERVAL_S="0.5")
    end = utcnow() + timedelta(hours=1)
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": sorted(CLUB_CHAINS)}
        assert (await c.put("/v1/loyalty-programs/hyper-club", json=club)).status_code == 200
        rules = {
            "effective_from": (end - timedelta(days=90)).isoformat(),
            "base_rates": {"IRR": str(CLUB_RATE)},
        }
        added = await c.post("/v1/rules", params={"program": "hyper-club"}, json=rules)
        assert added.status_code == 201, added.text

    sent = {s: s.envelope(end) for s in SALES}
    returns = [refund(e, end - timedelta(days=s.days_before_end - 7), Decimal(s.refunded))
               for s, e in sent.items() if s.refunded]  # fmt: skip
    await stack.produce(Topic.PURCHASES, [as_record(e) for e in sent.values()])
    await stack.produce(Topic.PURCHASES, [as_record(r) for r in returns])

    in_club = [s for s in SALES if s.chain in CLUB_CHAINS]
    wanted = {"main": expected(SALES, MAIN_RATE), "hyper-club": expected(in_club, CLUB_RATE)}
    # What the two programs must differ in, for the comparison to prove anything.
    assert wanted["main"]["N"] == 4 and wanted["hyper-club"]["N"] == 2
    assert (wanted["main"]["retention_rate"], wanted["hyper-club"]["retention_rate"]) == ("1.0000", "0.5000")
    for program, figures in wanted.items():
        await eventually(partial(_matches, analytics, program, end, figures), 60, what=f"{program}'s KPIs")
        # The liability analytics keeps is what the program's members hold in points.
        assert await _liability_in_points(points, program) == figures["outstanding_liability"]

    # Segments per program: each customer of the last twelve months has one in each program they buy in.
    async with analytics.client(timeout=30) as c:
        for program, customers in (("main", 4), ("hyper-club", 3)):
            counts = await eventually(
                partial(_segmented, c, program, customers), what=f"{program}'s segments"
            )
            assert sum(counts["rfm"].values()) == customers
        # An unknown program is a 404 problem; a malformed name, a 422.
        for program, status in (("nowhere", 404), ("Bad name!", 422)):
            for route in ("summary", "points", "segments"):
                answer = await c.get(f"/v1/kpis/{route}", params={"program": program})
                assert answer.status_code == status, (route, program, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")


async def _segmented(client: httpx.AsyncClient, program: str, n: int) -> dict[str, Any] | None:
    found: dict[str, Any] = (await client.get("/v1/kpis/segments", params={"program": program})).json()
    return found if sum(found["matrix"].values()) == n else None


async def test_an_analytics_store_from_before_programs_keeps_its_facts_as_mains(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Its store as the service left it before programs (revision 0005), then today's service on it:
    points, tiers and segments are main's, and no other program has any."""
    await stack.create("analytics")
    infra = stack.infra
    url = (f"postgresql+asyncpg://{infra.pg_user}:{infra.pg_password}@{infra.pg_host}:{infra.pg_port}"
           f"/{stack.database('analytics')}")  # fmt: skip
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "0005")
    at = utcnow() - timedelta(days=3)
    conn = await stack.pg(stack.database("analytics"))
    try:
        await conn.execute(
            "INSERT INTO points_moves (event_id, member_id, kind, points, funded, occurred_at) "
            "VALUES ($1, 'omid', 'earned', 800, 0, $3), ($2, 'omid', 'redeemed', -300, 0, $3)",
            uuid.uuid4(), uuid.uuid4(), at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO tier_changes (event_id, member_id, from_tier, to_tier, reason, effective_from) "
            "VALUES ($1, 'omid', 'Bronze', 'Silver', 'qualified', $2)",
            uuid.uuid4(), at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO purchases (event_id, member_id, chain_id, store_id, channel, currency, amount, "
            "occurred_at) VALUES ($1, 'omid', 'chain-2', 's', 'pos', 'IRR', 800, $2)",
            uuid.uuid4(), at,
        )  # fmt: skip
        # His segment as the job computes it from that purchase, whether it runs before the reads or not.
        await conn.execute(
            "INSERT INTO member_segments (member_id, segment, rfm, rfm_label, as_of) "
            "VALUES ('omid', 'true_friends', '111', 'hibernating', $1)",
            at,
        )
    finally:
        await conn.close()

    analytics = ServiceProcess("services.analytics", stack.env("analytics"), log_dir)
    services.append(analytics)
    await analytics.start().wait_ready()
    async with analytics.client(timeout=30) as c:
        moved = (await c.get("/v1/kpis/points")).json()
        tiers = (await c.get("/v1/kpis/tiers")).json()
        segments = (await c.get("/v1/kpis/segments")).json()
    assert (moved["issued"], moved["redeemed"], moved["outstanding_liability"]) == (800, 300, 500)
    assert tiers["distribution"] == {"Silver": 1}
    assert segments == {"matrix": {"true_friends": 1}, "rfm": {"hibernating": 1}}
    programs = await stack.scalar("analytics", "SELECT array_agg(DISTINCT program_id) FROM points_moves")
    assert programs == ["main"]
