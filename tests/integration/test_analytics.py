"""Analytics through Kafka and its own PostgreSQL: a known stream of three months, every KPI compared
with figures computed here from the stream alone, and the same figures after a rebuild from offset 0."""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from statistics import median
from typing import Any

import httpx

from shared.contracts import (
    MEMBER_ENROLLED,
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    PARTNER_PURCHASE_RECORDED,
    POINTS_EARNED,
    POINTS_EXPIRED,
    POINTS_REDEEMED,
    PURCHASE_RECORDED,
    TIER_CHANGED,
    VIP_PURCHASED,
    Envelope,
    LineItem,
    MemberEnrolled,
    NotificationOutcome,
    PartnerPurchaseRecorded,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    PurchaseRecorded,
    RuleContribution,
    TierBenefits,
    TierChanged,
    VipMembership,
    contract_named,
)
from shared.dates import add_months
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, decode, eventually, refund

R4 = Decimal("0.0001")
C2 = Decimal("0.01")


def r4(part: Any, whole: Any) -> str | None:
    return str((Decimal(part) / Decimal(whole)).quantize(R4, ROUND_HALF_EVEN)) if whole else None


def c2(total: Any, count: Any) -> str | None:
    return str((Decimal(total) / Decimal(count)).quantize(C2, ROUND_HALF_EVEN)) if count else None


@dataclass
class Sale:
    member: str
    store: str
    at: datetime
    amount: Decimal
    units: Decimal
    event: Envelope[Any]


@dataclass
class Program:
    """Three whole months before this one, for twelve customers (two never enrolled)."""

    months: list[datetime]
    end: datetime
    events: list[Envelope[Any]] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    refunds: list[tuple[str, datetime, Decimal]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


def program() -> Program:
    rng = random.Random(7)
    today = datetime.now(UTC)
    this_month = datetime(today.year, today.month, 1, tzinfo=UTC)
    months = [add_months(this_month, -k) for k in (3, 2, 1)]
    p = Program(months, this_month)
    customers = [f"m{i:02d}" for i in range(1, 13)]
    p.members = customers[:10]
    for m in p.members:
        at = months[0] - timedelta(days=5)
        p.events.append(
            MEMBER_ENROLLED.envelope(
                key=m, producer="t", occurred_at=at, payload=MemberEnrolled(member_id=m, chain_id="hyper")
            )
        )
    for month in months:
        for m in customers:
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                at = month + timedelta(days=rng.randrange(27), hours=rng.randrange(24))
                qty = Decimal(rng.randrange(1, 5))
                price = Decimal(rng.randrange(10, 90) * 10_000)
                store = rng.choice(["s1", "s2"])
                event = PURCHASE_RECORDED.envelope(
                    key=m,
                    producer="t",
                    occurred_at=at,
                    payload=PurchaseRecorded(
                        chain_id="hyper",
                        store_id=store,
                        receipt_no=uuid.uuid4().hex[:10],
                        member_id=m,
                        currency="IRR",
                        total_amount=qty * price,
                        lines=[
                            LineItem(
                                sku="sku", category="food", quantity=qty, unit_price=price, amount=qty * price
                            )
                        ],
                    ),
                )
                p.events.append(event)
                p.sales.append(Sale(m, store, at, qty * price, qty, event))
                points = int(qty * price // 10_000)
                p.events.append(
                    POINTS_EARNED.envelope(
                        key=m,
                        producer="points",
                        occurred_at=at,
                        payload=PointsEarned(
                            member_id=m,
                            purchase_event_id=event.event_id,
                            points=points,
                            balance=0,
                            currency="IRR",
                            amount=qty * price,
                            rules=[RuleContribution(rule="base", points=points)],
                        ),
                    )
                )
    last = [s for s in p.sales if s.at >= months[2]]
    for sale in last[:3]:  # three partial returns in the last month
        amount = sale.amount / 2
        at = sale.at + timedelta(hours=1)
        p.refunds.append((sale.member, at, amount))
        p.events.append(refund(sale.event, at, amount))
    mid = months[2] + timedelta(days=10)
    p.events += [
        POINTS_REDEEMED.envelope(
            key="m01",
            producer="points",
            occurred_at=mid,
            payload=PointsRedeemed(
                member_id="m01", redemption_id=uuid.uuid4(), reward_id="r", points=40, balance=0
            ),
        ),
        POINTS_EXPIRED.envelope(
            key="m02",
            producer="points",
            occurred_at=mid,
            payload=PointsExpired(member_id="m02", points=15, balance=0),
        ),
        PARTNER_PURCHASE_RECORDED.envelope(
            key="m03",
            producer="t",
            occurred_at=mid,
            payload=PartnerPurchaseRecorded(
                partner_id="snapp",
                receipt_no="p1",
                member_id="m03",
                currency="IRR",
                total_amount=Decimal("120000"),
            ),
        ),
        PARTNER_PURCHASE_RECORDED.envelope(
            key="m04",
            producer="t",
            occurred_at=mid,
            payload=PartnerPurchaseRecorded(
                partner_id="snapp",
                receipt_no="p2",
                member_id="m04",
                currency="IRR",
                total_amount=Decimal("80000.50"),
            ),
        ),
        VIP_PURCHASED.envelope(
            key="m04",
            producer="t",
            occurred_at=months[1] + timedelta(days=3),
            payload=VipMembership(
                member_id="m04",
                chain_id="hyper",
                order_no="v1",
                plan="gold",
                fee=Decimal("500000"),
                currency="IRR",
                term_months=1,
            ),
        ),
        VIP_PURCHASED.envelope(
            key="m05",
            producer="t",
            occurred_at=mid,
            payload=VipMembership(
                member_id="m05",
                chain_id="hyper",
                order_no="v2",
                plan="gold",
                fee=Decimal("4500000"),
                currency="IRR",
                term_months=12,
            ),
        ),
        NOTIFICATION_SENT.envelope(
            key="m01",
            producer="notify",
            occurred_at=mid,
            payload=NotificationOutcome(
                member_id="m01",
                source_event_id=uuid.uuid4(),
                source_type="points.earned",
                channel="email",
                status="sent",
            ),
        ),
        NOTIFICATION_FAILED.envelope(
            key="m02",
            producer="notify",
            occurred_at=mid,
            payload=NotificationOutcome(
                member_id="m02",
                source_event_id=uuid.uuid4(),
                source_type="points.earned",
                channel="sms",
                status="failed",
                reason="HTTP 400",
            ),
        ),
    ]
    for member, to_tier, when in (("m01", "Silver", months[1]), ("m01", "Gold", mid), ("m02", "Silver", mid)):
        p.events.append(
            TIER_CHANGED.envelope(
                key=member,
                producer="tiers",
                occurred_at=when,
                payload=TierChanged(
                    member_id=member,
                    from_tier="Bronze" if to_tier == "Silver" else "Silver",
                    to_tier=to_tier,
                    reason="qualified",
                    benefits=TierBenefits(),
                    effective_from=when,
                    review_at=None,
                ),
            )
        )
    return p


def expected_summary(p: Program, start: datetime, end: datetime, store: str | None = None) -> dict[str, Any]:
    """The KPIs by their definitions, straight from the stream."""
    sales = [s for s in p.sales if start <= s.at < end and (store is None or s.store == store)]
    refunds = [r for r in p.refunds if start <= r[1] < end] if store is None else None
    assert refunds is not None or store is not None
    by_member: dict[str, list[Sale]] = defaultdict(list)
    for s in sales:
        by_member[s.member].append(s)
    net_of = {m: sum((s.amount for s in ss), Decimal(0)) for m, ss in by_member.items()}
    for member, _, amount in refunds or []:
        net_of[member] = net_of.get(member, Decimal(0)) - amount
    n = len(by_member)
    gross = sum((s.amount for s in sales), Decimal(0))
    refunded = sum((r[2] for r in refunds or []), Decimal(0))
    previous = {s.member for s in p.sales if start - (end - start) <= s.at < start}
    retention = r4(len(previous & set(by_member)), len(previous))
    active_nets = sorted((net_of[m] for m in by_member), reverse=True)
    top = math.ceil(n * 0.2)
    members = [m for m in by_member if m in p.members]
    others = [m for m in by_member if m not in p.members]
    v_members = c2(sum(net_of[m] for m in members), len(members))
    v_others = c2(sum(net_of[m] for m in others), len(others))
    year = [s for s in p.sales if end - timedelta(days=365) <= s.at < end]
    year_net = sum((s.amount for s in year), Decimal(0)) - sum(
        (r[2] for r in p.refunds if r[1] < end), Decimal(0)
    )
    v = c2(gross - refunded, n)
    years = Decimal((end - start).total_seconds()) / Decimal(365 * 86400)
    i = (1 + Decimal("0.10")) ** years - 1
    ret = Decimal(retention) if retention else None
    clv = str((Decimal(v) * Decimal("0.25") * ret / (1 + i - ret)).quantize(C2)) if v and ret else None
    return {
        "N": n,
        "V": v,
        "F": r4(len(sales), n),
        "S": r4(sum(s.units for s in sales), len(sales)),
        "purchases": len(sales),
        "gross_revenue": gross,
        "refunds": refunded,
        "average_transaction_value": c2(gross, len(sales)),
        "repeat_purchase_rate": r4(sum(1 for ss in by_member.values() if len(ss) >= 2), n),
        "retention_rate": retention,
        "churn_rate": None if retention is None else str(1 - Decimal(retention)),
        "annual_sales_per_customer": c2(year_net, len({s.member for s in year})),
        "customer_lifetime_value": clv,
        "top_20_percent_revenue_share": r4(sum(active_nets[:top]), sum(active_nets)),
        "members": {"customers": len(members), "value_per_customer": v_members},
        "non_members": {"customers": len(others), "value_per_customer": v_others},
    }


def as_sent(figures: dict[str, Any]) -> dict[str, Any]:
    """Decimals compare by value, whatever their trailing zeros."""
    return {k: (Decimal(v) if k in ("gross_revenue", "refunds") else v) for k, v in figures.items()}


async def test_every_kpi_matches_the_stream_and_a_rebuild_from_offset_zero_gives_the_same(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    p = program()
    analytics = await seeded(stack, services, log_dir, p)
    facts = len(p.events)

    start, end = p.months[2], p.end
    window = {"from": start.isoformat(), "to": end.isoformat()}
    async with analytics.client() as client:
        first = await _figures(client, window)
        summary = first["summary"]
        expected = expected_summary(p, start, end)
        got = {k: summary[k] for k in expected}
        assert as_sent(got) == expected
        assert summary["net_revenue"] == str(Decimal(summary["gross_revenue"]) - Decimal(summary["refunds"]))
        lift = summary["member_lift"]
        v_m, v_o = expected["members"]["value_per_customer"], expected["non_members"]["value_per_customer"]
        assert lift == r4(Decimal(v_m) - Decimal(v_o), Decimal(v_o))

        by_store = (await client.get("/v1/kpis/summary", params=window | {"store": "s1"})).json()
        stream_s1 = [s for s in p.sales if start <= s.at < end and s.store == "s1"]
        assert by_store["purchases"] == len(stream_s1)
        assert Decimal(by_store["gross_revenue"]) == sum((s.amount for s in stream_s1), Decimal(0))

        cohorts = {c["cohort"]: c for c in first["cohorts"]["cohorts"]}
        month_of = {
            s.member: min(x.at for x in p.sales if x.member == s.member).strftime("%Y-%m") for s in p.sales
        }
        first_cohort = p.months[0].strftime("%Y-%m")
        cohort = {m for m, month in month_of.items() if month == first_cohort}
        assert cohorts[first_cohort]["size"] == len(cohort)
        expected_row = [
            r4(
                len(
                    cohort & {s.member for s in p.sales if s.at.strftime("%Y-%m") == month.strftime("%Y-%m")}
                ),
                len(cohort),
            )
            for month in p.months
        ]
        assert cohorts[first_cohort]["retention"] == expected_row

        earned = sum(int(s.amount // 10_000) for s in p.sales if start <= s.at < end)
        all_earned = sum(int(s.amount // 10_000) for s in p.sales)
        assert first["points"] == {
            "issued": earned,
            "partner_funded": 0,
            "reversed": 0,
            "redeemed": 40,
            "expired": 15,
            "adjusted": 0,
            "transferred": 0,
            "donated": 0,
            "game_prizes": 0,
            "badge_bonuses": 0,
            "referral_bonuses": 0,
            "birthday_bonuses": 0,
            "settled_at_program_end": 0,
            "outstanding_liability": all_earned - 40 - 15,
            "redemption_rate": r4(40, earned),
            "breakage_rate": r4(15, earned),
        }
        tiers = first["tiers"]
        assert tiers["distribution"] == {"Gold": 1, "Silver": 1}
        assert tiers["migration"] == [
            {"from": "Bronze", "to": "Silver", "members": 1},
            {"from": "Silver", "to": "Gold", "members": 1},
        ]
        m05_net = sum(
            (s.amount for s in p.sales if s.member == "m05" and start <= s.at < end), Decimal(0)
        ) - sum((r[2] for r in p.refunds if r[0] == "m05"), Decimal(0))
        vip = tiers["vip"]  # m04's month ended in the period; m05's year runs on
        assert (vip["members"], Decimal(vip["fees"]), Decimal(vip["revenue"])) == (
            1,
            Decimal(4_500_000),
            m05_net,
        )
        assert first["partners"]["partners"] == [
            {"partner_id": "snapp", "purchases": 2, "amount": "200000.5000", "members": 2}
        ]
        assert first["notifications"]["channels"] == {"email": {"sent": 1}, "sms": {"failed": 1}}

        # Segments over the last twelve months: the loyalty x profitability matrix by the medians.
        counts: dict[str, int] = defaultdict(int)
        nets: dict[str, Decimal] = defaultdict(Decimal)
        for sale in p.sales:
            counts[sale.member] += 1
            nets[sale.member] += sale.amount
        for member, _, refund in p.refunds:
            nets[member] -= refund
        f_median, m_median = median(counts.values()), median(nets.values())
        names = {(True, True): "true_friends", (False, True): "butterflies", (True, False): "barnacles"}
        matrix: dict[str, int] = defaultdict(int)
        for member in counts:
            matrix[names.get((counts[member] >= f_median, nets[member] >= m_median), "strangers")] += 1
        segments = await eventually(
            lambda: _segments(client, len(counts)), what="segments of every customer", timeout=30
        )
        assert segments["matrix"] == dict(sorted(matrix.items()))
        assert sum(segments["rfm"].values()) == len(counts)
        changes = [decode(r) for r in await stack.read_all(Topic.ANALYTICS)]
        assert len(changes) == len(counts) and {c["type"] for c in changes} == {"segment.changed"}
        friends = {c["key"] for c in changes if c["payload"]["segment"] == "true_friends"}
        of_friends = (
            await client.get("/v1/kpis/summary", params=window | {"segment": "true_friends"})
        ).json()
        assert of_friends["N"] == len(friends & {s.member for s in p.sales if start <= s.at < end})

        # Rebuild: drop the store, send the consumer group back to offset 0, same figures.
        analytics.stop()
        await analytics.wait_exit()
        conn = await stack.pg("postgres")
        try:
            await conn.execute(f'DROP DATABASE "{stack.database("analytics")}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{stack.database("analytics")}"')
        finally:
            await conn.close()
        for topic in {_topic(e) for e in p.events}:
            await stack.rewind("analytics", topic)
        analytics.start()
        await analytics.wait_ready()
        await eventually(lambda: _facts(stack, facts), timeout=60, what="the facts again")
        again = await _figures(client, window)
        assert again == first


async def test_the_report_opens_in_a_browser_with_its_charts_and_figures(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    p = program()
    await seeded(stack, services, log_dir, p)
    page = tmp_path / "report.html"
    report = [
        sys.executable,
        "-m",
        "services.analytics.report",
        "--out",
        str(page),
        "--to",
        p.end.isoformat(),
    ]
    made = await _run(report, env=os.environ | stack.env("analytics"))
    assert made.returncode == 0, made.stderr
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "the report test needs Chromium (apt-get install chromium; .ci/run installs it)"
    dom = await _run(
        [browser, *CHROMIUM, f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", page.as_uri()]
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for chart in ("cohort-retention", "nvfs", "segments", "points-liability"):
        assert re.search(rf'<figure id="{chart}"><svg[^>]*>.*?<path', dom.stdout, re.S), chart
    n = expected_summary(p, add_months(p.end, -12), p.end)["N"]  # the report's twelve months
    assert f'<td id="kpi-N">{n}</td>' in dom.stdout


# How this machine's Chromium runs headless without reaching for the network.
CHROMIUM = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=180
    )


async def seeded(stack: Stack, services: list[ServiceProcess], log_dir: Path, p: Program) -> ServiceProcess:
    """Analytics running, with the whole stream of ``p`` taken in."""
    await stack.create("analytics")
    analytics = ServiceProcess(
        "services.analytics", stack.env("analytics", VAFA_ANALYTICS_SEGMENTS_INTERVAL_S="0.5"), log_dir
    )
    services.append(analytics)
    analytics.start()
    await analytics.wait_ready()
    for topic in {_topic(e) for e in p.events}:
        await stack.produce(topic, [as_record(e) for e in p.events if _topic(e) == topic])
    await eventually(lambda: _facts(stack, len(p.events)), timeout=60, what="every event as a fact")
    return analytics


def _topic(event: Envelope[Any]) -> str:
    return str(contract_named(event.type).topic)


async def _figures(client: httpx.AsyncClient, window: dict[str, str]) -> dict[str, Any]:
    out = {}
    for name in ("summary", "cohorts", "points", "tiers", "partners", "notifications"):
        response = await client.get(f"/v1/kpis/{name}", params=window)
        assert response.status_code == 200, response.text
        out[name] = response.json()
    return out


async def _segments(client: httpx.AsyncClient, n: int) -> dict[str, Any] | None:
    found: dict[str, Any] = (await client.get("/v1/kpis/segments")).json()
    return found if sum(found["matrix"].values()) >= n else None


async def _facts(stack: Stack, n: int) -> bool:
    tables = (
        "purchases",
        "returns",
        "partner_purchases",
        "members",
        "points_moves",
        "tier_changes",
        "vip_orders",
        "notifications",
    )
    total = 0
    for table in tables:
        total += int(await stack.scalar("analytics", f"SELECT count(*) FROM {table}"))
    return total >= n
