"""A year of purchases for a handful of members, through Kafka: the tier history the ladder's rules
give (worked out here by hand), reviews at period end, and the points multiplier after an upgrade."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.contracts import POINTS_EARNED, VIP_PURCHASED, PointsEarned, VipMembership
from shared.contracts.envelope import utcnow
from shared.dates import add_months
from shared.topics import Topic
from tests.support import REPO, ServiceProcess, Stack, as_record, decode, eventually, purchase, refund

LADDER = {
    "metric": "spend",
    "currency": "IRR",
    "window_months": 12,
    "grace_days": 30,
    "nudge_within": "0.1",
    "vip_tier": "Gold",
    "tiers": [
        {"name": "Bronze", "threshold": "0"},
        {"name": "Silver", "threshold": "10000000", "benefits": {"earn_multiplier": "1.1"}},
        {"name": "Gold", "threshold": "40000000", "benefits": {"earn_multiplier": "1.25"}},
        {"name": "Platinum", "threshold": "100000000", "benefits": {"earn_multiplier": "1.5"}},
    ],
}
M = 1_000_000


async def test_a_year_of_purchases_gives_the_tier_history_the_rules_say(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    await stack.create("tiers", "points")
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(LADDER))
    tiers = ServiceProcess(
        "services.tiers", stack.env("tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file)), log_dir
    )
    points = ServiceProcess("services.points", stack.env("points", VAFA_POINTS_EARN_RATE="0.0001"), log_dir)
    services += [tiers, points]
    tiers.start()
    points.start()
    await tiers.wait_ready()
    await points.wait_ready()

    t0 = utcnow() - timedelta(days=420)

    def day(n: int) -> datetime:
        return t0 + timedelta(days=n)

    stream = [
        purchase("ana", str(15 * M), occurred_at=day(0)),  # Silver at once
        purchase("ana", str(30 * M), occurred_at=day(40)),  # 45M: Gold
        purchase("bita", str(120 * M), occurred_at=day(10)),  # straight to Platinum
        *[purchase("cyrus", str(5 * M), occurred_at=add_months(day(0), n)) for n in range(12)],
        purchase("dara", str(9_500_000), occurred_at=day(5)),  # within 10% of Silver: a nudge
    ]
    # Out of order: Cyrus's purchases arrive newest first; qualification goes by event time.
    cyrus = [e for e in stream if e.key == "cyrus"]
    stream = [e for e in stream if e.key != "cyrus"] + cyrus[::-1]
    ana_gold = stream[1]
    refund_of_ana = refund(ana_gold, day(41), Decimal(20 * M))
    await stack.produce(Topic.PURCHASES, [as_record(e) for e in stream] + [as_record(refund_of_ana)])

    async def history(member: str) -> list[tuple[str | None, str, str]]:
        return await _changes_of(stack, member)

    await eventually(lambda: _has(history("cyrus"), 2), what="cyrus's two upgrades")
    assert await history("ana") == [("Bronze", "Silver", "qualified"), ("Silver", "Gold", "qualified")]
    assert await history("bita") == [("Bronze", "Platinum", "qualified")]
    # 5M a month: 10M at the second purchase, 40M at the eighth.
    assert await history("cyrus") == [("Bronze", "Silver", "qualified"), ("Silver", "Gold", "qualified")]
    assert await history("dara") == []
    async with tiers.client() as client:
        cyrus_now = (await client.get("/v1/members/cyrus/tier")).json()
        served = (await client.get("/v1/members/ana/tier/history")).json()["changes"]
        # A page at a time: the pages follow each other and end with no next page.
        first = (await client.get("/v1/members/ana/tier/history", params={"limit": 1})).json()
        rest = (
            await client.get("/v1/members/ana/tier/history", params={"offset": first["next_offset"]})
        ).json()
        too_many = await client.get("/v1/members/ana/tier/history", params={"limit": 100_000})
    assert [c["to_tier"] for c in first["changes"] + rest["changes"]] == ["Silver", "Gold"]
    assert first["next_offset"] == 1 and rest["next_offset"] is None
    assert too_many.status_code == 422 and too_many.headers["content-type"] == "application/problem+json"
    assert cyrus_now["since"].startswith(add_months(day(0), 7).date().isoformat())
    assert [c["to_tier"] for c in served] == ["Silver", "Gold"]

    events = [decode(r) for r in await stack.read_all(Topic.TIERS)]
    nudges = [e["payload"] for e in events if e["type"] == "tier.progress" and e["key"] == "dara"]
    assert [(n["next_tier"], n["remaining"]) for n in nudges] == [("Silver", "500000.0000")]

    # The points service learned Bita is Platinum: her next purchase earns 1.5x.
    await eventually(
        lambda: stack.scalar("points", "SELECT tier FROM tier_steps WHERE member_id = 'bita'"),
        what="points knows bita's tier",
    )
    later = purchase("bita", str(2 * M), occurred_at=utcnow())
    await stack.produce(Topic.PURCHASES, [as_record(later)])
    earned = await eventually(lambda: _earned_for(stack, later.event_id), what="bita's later purchase earned")
    assert {r["rule"]: r["points"] for r in earned["rules"]} == {
        "base: 0.0001 per IRR": 200,
        "tier Platinum x1.5": 100,
    }

    # Points reads tiers.events for tier.changed and skips the other kinds there, not dead-letters them.
    assert await stack.read_all("deadletter.points") == []
    assert await points.metric("vafa_events_total", outcome="ignored") >= 1  # Dara's nudge

    # Ana's period ends a year after she reached Gold; the return took her spend since then below
    # Gold, so after the grace period she lands one tier lower, on Silver, not on Bronze.
    review_at = add_months(day(40), 12)
    tiers.stop()
    await asyncio.to_thread(_jobs, tiers.env, review_at + timedelta(days=29))
    assert await history("ana") == [("Bronze", "Silver", "qualified"), ("Silver", "Gold", "qualified")]
    await asyncio.to_thread(_jobs, tiers.env, review_at + timedelta(days=31))
    assert (await history("ana"))[-1] == ("Gold", "Silver", "period_end")
    # Bita's year at Platinum ended too, with nothing bought since: one step down, to Gold.
    assert (await history("bita"))[-1] == ("Platinum", "Gold", "period_end")


def _jobs(env: dict[str, str], now: Any) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.tiers.jobs", "--now", now.isoformat()],
        cwd=REPO, env=env, check=True, capture_output=True,
    )  # fmt: skip


async def _has(changes: Any, n: int) -> bool:
    return len(await changes) >= n


async def _earned_for(stack: Stack, purchase_id: uuid.UUID) -> dict[str, Any] | None:
    for record in await stack.read_all(Topic.POINTS):
        event = decode(record)
        if event["type"] == "points.earned" and event["payload"]["purchase_event_id"] == str(purchase_id):
            payload: dict[str, Any] = event["payload"]
            return payload
    return None


async def test_paid_vip_membership_grants_its_tier_for_the_term_then_falls_back(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    await stack.create("tiers")
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(LADDER))
    env = stack.env("tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file), VAFA_TIERS_VIP_REMINDER_DAYS="30")
    tiers = ServiceProcess("services.tiers", env, log_dir)
    services.append(tiers)
    tiers.start()
    await tiers.wait_ready()
    t0 = utcnow() - timedelta(days=2)
    order = VipMembership(
        member_id="nima", chain_id="hyperstar", order_no="VIP-1", plan="gold-year", fee=Decimal(9_900_000),
        currency="IRR", term_months=12,
    )  # fmt: skip
    records = [
        as_record(purchase("nima", str(12 * M), occurred_at=t0)),  # Silver on spend
        as_record(
            VIP_PURCHASED.envelope(
                key="nima", producer="test-pos", occurred_at=t0 + timedelta(hours=1), payload=order
            )
        ),
    ]
    await stack.produce(Topic.PURCHASES, records[:1])
    await stack.produce(Topic.MEMBERSHIPS, records[1:])

    async def changes() -> list[tuple[str | None, str, str]]:
        rows = await stack.query("tiers", "SELECT from_tier, to_tier, reason FROM history ORDER BY id")
        return [(r["from_tier"], r["to_tier"], r["reason"]) for r in rows]

    await eventually(lambda: _has(changes(), 2), what="upgraded twice")
    assert await changes() == [("Bronze", "Silver", "qualified"), ("Silver", "Gold", "vip_started")]
    tiers.stop()
    ends = add_months(t0, 12)
    await asyncio.to_thread(_jobs, tiers.env, ends - timedelta(days=20))  # reminder time
    await asyncio.to_thread(_jobs, tiers.env, ends + timedelta(hours=1))  # the term is over
    # The purchase is out of the window by then: back to what Nima qualifies for, straight down.
    assert (await changes())[-1] == ("Gold", "Bronze", "vip_ended")
    types = [decode(r)["type"] for r in await stack.read_all(Topic.TIERS)]
    assert [t for t in types if t.startswith("membership.")] == [
        "membership.started",
        "membership.expiring",
        "membership.ended",
    ]


async def test_a_purchase_and_the_points_it_earned_at_one_instant_both_count(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    """Tiers reads a member's activity summed per instant: several events at one instant (a purchase
    and the points it earned share it) count in full, each once."""
    await stack.create("tiers")
    silver = {"name": "Silver", "threshold": "1000"}
    ladder = {
        **LADDER,
        "metric": "points",
        "vip_tier": "Silver",
        "tiers": [{"name": "Bronze", "threshold": "0"}, silver],
    }
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(ladder))
    tiers = ServiceProcess(
        "services.tiers", stack.env("tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file)), log_dir
    )
    services.append(tiers)
    tiers.start()
    await tiers.wait_ready()
    at = utcnow() - timedelta(days=1)

    def earned(member: str, points: int, when: datetime) -> tuple[bytes, bytes]:
        payload = PointsEarned(
            member_id=member, purchase_event_id=uuid.uuid4(), points=points, balance=points, currency="IRR",
            amount=Decimal(points * 100), rules=[],
        )  # fmt: skip
        return as_record(
            POINTS_EARNED.envelope(key=member, producer="points", occurred_at=when, payload=payload)
        )

    # Sara: 600 + 600 at one instant reach Silver; Omid: 600 and, a second later, 300 do not.
    await stack.produce(
        Topic.POINTS,
        [earned("sara", 600, at), earned("sara", 600, at), earned("omid", 600, at),
         earned("omid", 300, at + timedelta(seconds=1))],
    )  # fmt: skip
    await stack.produce(Topic.PURCHASES, [as_record(purchase("sara", str(M), occurred_at=at))])

    async def tier_of(member: str) -> dict[str, Any]:
        async with tiers.client() as client:
            answer: dict[str, Any] = (await client.get(f"/v1/members/{member}/tier")).json()
            return answer

    async def both_seen() -> bool:
        return bool(await stack.scalar("tiers", "SELECT count(*) FROM activity_events") == 5)

    await eventually(both_seen, what="the five events kept")
    await eventually(lambda: _has(_changes_of(stack, "sara"), 1), what="sara's upgrade")
    sara, omid = await tier_of("sara"), await tier_of("omid")
    assert (sara["tier"], Decimal(sara["qualifying_value"])) == ("Silver", Decimal(1200))
    assert (omid["tier"], Decimal(omid["qualifying_value"])) == ("Bronze", Decimal(900))
    assert await _changes_of(stack, "sara") == [("Bronze", "Silver", "qualified")]


async def _changes_of(stack: Stack, member: str) -> list[tuple[str | None, str, str]]:
    rows = await stack.query(
        "tiers", "SELECT from_tier, to_tier, reason FROM history WHERE member_id = $1 ORDER BY id", member
    )
    return [(r["from_tier"], r["to_tier"], r["reason"]) for r in rows]


async def test_a_new_ladder_rewrites_the_history_from_the_first_purchase_not_from_the_last(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    """A member's replay resumes at their last instant, under the ladder it was taken under: under a
    new ladder their next purchase replays the whole history, and what the new thresholds say of the
    past is told."""
    await stack.create("tiers")
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(LADDER))
    env = stack.env("tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file))
    tiers = ServiceProcess("services.tiers", env, log_dir)
    services.append(tiers)
    await tiers.start().wait_ready()
    at = utcnow() - timedelta(days=3)

    async def history() -> list[tuple[str | None, str, str, datetime]]:
        rows = await stack.query(
            "tiers",
            "SELECT from_tier, to_tier, reason, at FROM history"
            " WHERE member_id = 'leila' AND replaced_at IS NULL ORDER BY id",
        )
        return [(r["from_tier"], r["to_tier"], r["reason"], r["at"]) for r in rows]

    async def is_(wanted: Any) -> bool:
        return bool(await history() == wanted)

    # 6M, then 6M a day later: Silver (from 10M) with the second.
    await stack.produce(Topic.PURCHASES, [as_record(purchase("leila", str(6 * M), occurred_at=at))])
    await eventually(
        lambda: _has(stack.query("tiers", "SELECT * FROM standings WHERE member_id = 'leila'"), 1),
        what="the first purchase settled",
    )
    second = at + timedelta(days=1)
    await stack.produce(Topic.PURCHASES, [as_record(purchase("leila", str(6 * M), occurred_at=second))])
    await eventually(lambda: is_([("Bronze", "Silver", "qualified", second)]), what="Silver with the second")

    tiers.stop()
    cheaper = json.loads(json.dumps(LADDER))
    cheaper["tiers"][1]["threshold"] = "5000000"  # Silver
    ladder_file.write_text(json.dumps(cheaper))
    await tiers.start().wait_ready()
    await stack.produce(
        Topic.PURCHASES, [as_record(purchase("leila", str(M), occurred_at=at + timedelta(days=2)))]
    )
    # From 5M, Silver came with the first purchase: the history says so from then, and it is told.
    await eventually(lambda: is_([("Bronze", "Silver", "qualified", at)]), what="Silver from the first")
    told = [decode(r)["payload"] for r in await stack.read_all(Topic.TIERS)]
    corrections = [p for p in told if p.get("corrects_from")]
    assert [(p["to_tier"], datetime.fromisoformat(p["corrects_from"])) for p in corrections] == [
        ("Silver", at)
    ]
