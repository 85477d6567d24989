"""Confluence: one stream of purchases, returns and a paid membership for a handful of members,
delivered through Kafka in time order and in several random orders across batches (with points and
tiers started in different orders), gives the same tier histories, the same balances and the same
analytics figures, each as worked out here from the ladder's and the rate's rules.

Each delivery has members and a chain of its own, so one broker and one set of databases serve all."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from shared.contracts import (
    MEMBER_ENROLLED,
    PURCHASE_RECORDED,
    VIP_PURCHASED,
    Envelope,
    MemberEnrolled,
    PurchaseRecorded,
    VipMembership,
)
from shared.topics import Topic
from tests.integration.test_tiers import LADDER
from tests.support import ServiceProcess, Stack, as_record, bearer, decode, eventually, refund

M = 1_000_000
RATE = Decimal("0.0001")  # one point per 10,000 IRR
MULTIPLIER = {
    "Bronze": Decimal(1),
    "Silver": Decimal("1.1"),
    "Gold": Decimal("1.25"),
    "Platinum": Decimal("1.5"),
}
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=200)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# (member, day, amount in M): purchases; ("-", purchase index, day, refunded M or None for all): returns.
SALES: list[tuple[str, float, Decimal]] = [
    ("ana", 0, Decimal(6)), ("ana", 20, Decimal(6)), ("ana", 40, Decimal(20)), ("ana", 60, Decimal(10)),
    ("ana", 80, Decimal(5)),
    ("bita", 10, Decimal(8)), ("bita", 30, Decimal(4)), ("bita", 40, Decimal(2)), ("bita", 50, Decimal(5)),
    ("bita", 55, Decimal(3)),
    ("cyrus", 5, Decimal(3)), ("cyrus", 35, Decimal(5)), ("cyrus", 45, Decimal(50)),
    ("cyrus", 70, Decimal(50)), ("cyrus", 72, Decimal(7)),
    ("dara", 1, Decimal("9.5")), ("dara", 90, Decimal(1)), ("dara", 92, Decimal(6)),
    ("elham", 100, Decimal(120)), ("elham", 110, Decimal(1)), ("elham", 111, Decimal(4)),
]  # fmt: skip
RETURNS: list[tuple[int, float, Decimal | None]] = [
    (5, 15, Decimal(5)),  # Bita's first purchase, partly: she reaches Silver at day 50, not at day 30
    (12, 75, None),  # Cyrus's 50M, in full: no downgrade on the spot
    (15, 95, Decimal(2)),  # Dara's first, partly
    (19, 120, None),  # Elham's 1M, in full
    (7, 60, Decimal(1)),  # Bita's day-40 purchase, partly (it was earned before her upgrade)
]
VIP_AT = 25  # Cyrus buys a year of Gold

# Worked out by hand from the ladder (Silver 10M, Gold 40M, Platinum 100M over 12 months): the
# running spend crosses each threshold at the event named.
HISTORIES = {
    "ana": [("Bronze", "Silver", "qualified", 20), ("Silver", "Gold", "qualified", 60)],
    "bita": [("Bronze", "Silver", "qualified", 50)],  # 8 - 5 + 4 + 2 = 9M at day 40; 14M at day 50
    "cyrus": [("Bronze", "Gold", "vip_started", VIP_AT), ("Gold", "Platinum", "qualified", 70)],
    "dara": [("Bronze", "Silver", "qualified", 90)],
    "elham": [("Bronze", "Platinum", "qualified", 100)],
}
MEMBERS = sorted(HISTORIES)


def tier_before(member: str, at: datetime) -> str:
    held = "Bronze"
    for _, to, _, d in HISTORIES[member]:
        if day(d) < at:
            held = to
    return held


def expected_balances() -> dict[str, int]:
    """Each purchase earns its base and the tier line of the tier held just before it (rounded down);
    a return takes back the share of the purchase's points refunded so far (rounded half up)."""
    earned: dict[int, int] = {}
    for i, (member, d, amount) in enumerate(SALES):
        base = amount * M * RATE
        line = ((MULTIPLIER[tier_before(member, day(d))] - 1) * base).to_integral_value(ROUND_FLOOR)
        earned[i] = int(base.to_integral_value(ROUND_FLOOR) + line)
    balances = {m: 0 for m in MEMBERS}
    for i, points in earned.items():
        balances[SALES[i][0]] += points
    taken: dict[int, tuple[Decimal, int]] = {}
    for i, _, refunded in sorted(RETURNS, key=lambda r: r[1]):
        amount = SALES[i][2]
        so_far, reversed_ = taken.get(i, (Decimal(0), 0))
        so_far = amount if refunded is None else so_far + refunded
        due = int((earned[i] * so_far / amount).to_integral_value(ROUND_HALF_UP))
        balances[SALES[i][0]] -= due - reversed_
        taken[i] = (so_far, due)
    return balances


def stream(tag: str) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
    """(purchases and returns, the paid membership) of one delivery's members and chain."""
    chain = f"chain-{tag}"
    sales: list[Envelope[Any]] = []
    for member, d, amount in SALES:
        payload = PurchaseRecorded(
            chain_id=chain, store_id="store-1", receipt_no=uuid.uuid4().hex[:12], member_id=f"{member}-{tag}",
            currency="IRR", total_amount=amount * M,
        )  # fmt: skip
        sales.append(
            PURCHASE_RECORDED.envelope(
                key=payload.member_id, producer="t", occurred_at=day(d), payload=payload
            )
        )
    returns = [refund(sales[i], day(d), None if back is None else back * M) for i, d, back in RETURNS]
    order = VipMembership(
        member_id=f"cyrus-{tag}", chain_id=chain, order_no=f"VIP-{tag}", plan="gold-year",
        fee=Decimal(9_900_000), currency="IRR", term_months=12,
    )  # fmt: skip
    vip = VIP_PURCHASED.envelope(key=order.member_id, producer="t", occurred_at=day(VIP_AT), payload=order)
    return sales + returns, [vip]


def in_batches(events: list[Envelope[Any]], seed: int | None) -> list[list[Envelope[Any]]]:
    """In time order, or shuffled (each return still after its purchase: ingest forwards a return only
    for a receipt it has, on the member's one partition) and cut into a few batches."""
    if seed is None:
        ordered = sorted(events, key=lambda e: e.occurred_at)
        return [ordered[i : i + 4] for i in range(0, len(ordered), 4)]
    rnd = random.Random(seed)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    position = {e.event_id: float(i) for i, e in enumerate(shuffled)}
    for e in shuffled:
        original = getattr(e.payload, "original_event_id", None)
        if original is not None:
            position[e.event_id] = max(position[e.event_id], position[original] + 0.5)
    shuffled.sort(key=lambda e: position[e.event_id])
    cuts = sorted(rnd.sample(range(1, len(shuffled)), 4))
    return [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]


async def deliver(stack: Stack, tag: str, seed: int | None) -> None:
    purchases, vip = stream(tag)
    for batch in in_batches(purchases + vip, seed):
        for topic in (Topic.PURCHASES, Topic.MEMBERSHIPS):
            records = [
                as_record(e) for e in batch if (e.type == "vip.purchased") == (topic == Topic.MEMBERSHIPS)
            ]
            if records:
                await stack.produce(topic, records)
        await asyncio.sleep(1.5)  # each its own consumer batch


async def test_the_same_events_in_any_arrival_order_give_the_same_tiers_points_and_figures(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    await stack.create("tiers", "points", "analytics")
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(LADDER))
    tiers = ServiceProcess(
        "services.tiers", stack.env("tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file)), log_dir
    )
    points = ServiceProcess("services.points", stack.env("points", VAFA_POINTS_EARN_RATE=str(RATE)), log_dir)
    analytics = ServiceProcess("services.analytics", stack.env("analytics"), log_dir)
    services += [tiers, points, analytics]
    deliveries = {"inorder": None, "tiersfirst": 11, "pointsfirst": 22, "together": 33}
    enrol = [
        MEMBER_ENROLLED.envelope(
            key=f"{m}-{tag}", producer="t", occurred_at=day(-1),
            payload=MemberEnrolled(member_id=f"{m}-{tag}", chain_id=f"chain-{tag}"),
        )
        for tag in deliveries
        for m in MEMBERS
    ]  # fmt: skip
    await stack.produce(Topic.MEMBERS, [as_record(e) for e in enrol])
    for process in (tiers, points, analytics):
        process.start()
    for process in (tiers, points, analytics):
        await process.wait_ready()

    balances = expected_balances()

    async def settled(tag: str) -> bool:
        async with httpx.AsyncClient(headers=bearer()) as client:
            for member in MEMBERS:
                got = await client.get(f"{points.url}/v1/members/{member}-{tag}/balance")
                if got.status_code != 200 or got.json()["balance"] != balances[member]:
                    return False
                changes = (await client.get(f"{tiers.url}/v1/members/{member}-{tag}/tier/history")).json()
                told = [
                    (c["from_tier"], c["to_tier"], c["reason"], datetime.fromisoformat(c["at"]))
                    for c in changes["changes"]
                ]
                if told != [(f, t, r, day(d)) for f, t, r, d in HISTORIES[member]]:
                    return False
        return True

    await deliver(stack, "inorder", None)
    await eventually(lambda: settled("inorder"), timeout=90, what="in time order: the tiers and balances")

    # Tiers first: points hears of every upgrade before it sees a purchase.
    points.stop()
    await deliver(stack, "tiersfirst", deliveries["tiersfirst"])
    points.start()
    await points.wait_ready()
    await eventually(lambda: settled("tiersfirst"), timeout=90, what="tiers first: the tiers and balances")

    # Points first: every purchase earns before any upgrade is known; corrections follow.
    tiers.stop()
    await deliver(stack, "pointsfirst", deliveries["pointsfirst"])
    tiers.start()
    await tiers.wait_ready()
    await eventually(lambda: settled("pointsfirst"), timeout=90, what="points first: the tiers and balances")

    await deliver(stack, "together", deliveries["together"])
    await eventually(lambda: settled("together"), timeout=90, what="together: the tiers and balances")

    # With points first, every upgrade was learned after the purchases it affects: the balances were
    # put right by tier corrections, each naming its purchase and the tier lines. (Even in time order a
    # purchase can beat the tier.changed its predecessor caused to points; it is corrected the same way.)
    ledger = await stack.query(
        "points", "SELECT member_id, points, details FROM ledger WHERE kind = 'adjust' ORDER BY id"
    )
    corrections = [(r["member_id"], json.loads(r["details"])) for r in ledger]
    late = [d for m, d in corrections if m.endswith("-pointsfirst")]
    assert late and all(d["reason"] == "tier correction" and d["purchase_event_id"] for d in late)
    assert any("held tier Silver x1.1" in d["note"] for d in late)

    # Out of order, the tiers service told some history wrong at first and sent the correction.
    told = [decode(r) for r in await stack.read_all(Topic.TIERS)]
    corrected = {e["key"] for e in told if e["type"] == "tier.changed" and e["payload"]["corrects_from"]}
    assert corrected and not {m for m in corrected if m.endswith("-inorder")}

    window = {"from": day(-2).isoformat(), "to": (NOW + timedelta(days=1)).isoformat()}

    async def figures(tag: str) -> dict[str, Any]:
        async with analytics.client() as client:
            out = {}
            for name in ("summary", "tiers", "points"):
                got = await client.get(f"/v1/kpis/{name}", params=window | {"chain": f"chain-{tag}"})
                assert got.status_code == 200, got.text
                out[name] = {k: v for k, v in got.json().items() if k != "scope"}  # names the chain
        return out

    expected_tiers = {
        "distribution": {"Gold": 1, "Platinum": 2, "Silver": 2},
        "migration": [
            {"from": "Bronze", "to": "Gold", "members": 1},
            {"from": "Bronze", "to": "Platinum", "members": 1},
            {"from": "Bronze", "to": "Silver", "members": 3},
            {"from": "Gold", "to": "Platinum", "members": 1},
            {"from": "Silver", "to": "Gold", "members": 1},
        ],
        # Cyrus's year of Gold, and what he spent net of his return: 3 + 5 + 50 + 50 + 7 - 50.
        "vip": {"members": 1, "fees": "9900000.0000", "revenue": "65000000.0000"},
    }

    async def analysed(tag: str) -> dict[str, Any] | None:
        found = await figures(tag)
        liability = found["points"]["outstanding_liability"]
        if found["tiers"] != expected_tiers or liability != sum(balances.values()):
            return None
        return found

    reference = await eventually(lambda: analysed("inorder"), timeout=90, what="analytics, in time order")
    net = ("issued", "reversed", "adjusted")
    for tag in ("tiersfirst", "pointsfirst", "together"):
        found = await eventually(partial(analysed, tag), timeout=90, what=f"analytics, {tag}")
        assert found["summary"] == reference["summary"]
        assert found["tiers"] == reference["tiers"]
        # Points first issued and then corrected (as adjustments) split differently, but sum the same.
        got, want = found["points"], reference["points"]
        assert {k: v for k, v in got.items() if k not in net} == {
            k: v for k, v in want.items() if k not in net
        }
        assert got["issued"] - got["reversed"] + got["adjusted"] == (
            want["issued"] - want["reversed"] + want["adjusted"]
        )
