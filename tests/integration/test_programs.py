"""Programs beyond points and tiers, through Kafka and the real stores."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from shared.contracts.envelope import utcnow
from shared.topics import Topic
from tests.pointsflow import balances
from tests.support import REPO, ServiceProcess, Stack, as_record, decode, eventually, purchase, running

TOKEN = {"Authorization": "Bearer vafa-dev-token", "X-Operator": "test-ops"}


async def test_members_give_points_to_a_cause_the_brand_matches_until_its_budget_runs_out(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    sales = [purchase("ava", "500"), purchase("ben", "300")]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in sales])
    await eventually(lambda: _has(balances(stack), {"ava": 500, "ben": 300}), what="points earned")

    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        cause = {"name": "Mahak children's hospital", "match_ratio": "0.5", "match_budget_points": 150}
        assert (await c.put("/v1/causes/mahak", json=cause, headers=TOKEN)).status_code == 200

        first = {"request_id": str(uuid.uuid4()), "cause_id": "mahak", "points": 200}
        gift = await c.post("/v1/members/ava/donations", json=first, headers=TOKEN)
        assert gift.status_code == 201, gift.text
        assert (gift.json()["matched"], gift.json()["balance"]) == (100, 300)
        retry = await c.post("/v1/members/ava/donations", json=first, headers=TOKEN)
        assert retry.json()["matched"] == 100  # the same donation, not a second one
        second = {"request_id": str(uuid.uuid4()), "cause_id": "mahak", "points": 300}
        gift = (await c.post("/v1/members/ben/donations", json=second, headers=TOKEN)).json()
        assert gift["matched"] == 50  # 150 wanted, 50 left in the budget
        too_much = {"request_id": str(uuid.uuid4()), "cause_id": "mahak", "points": 301}
        refused = await c.post("/v1/members/ava/donations", json=too_much, headers=TOKEN)
        assert refused.status_code == 422 and refused.json()["errors"][0]["rule"] == "insufficient_points"
        nowhere = {"request_id": str(uuid.uuid4()), "cause_id": "nowhere", "points": 1}
        assert (await c.post("/v1/members/ava/donations", json=nowhere, headers=TOKEN)).status_code == 404

        report = (await c.get("/v1/causes/mahak")).json()
    assert report == {
        "cause_id": "mahak",
        "name": "Mahak children's hospital",
        "active": True,
        "match_ratio": "0.50",
        "given_points": 500,
        "matched_points": 150,
        "total_points": 650,
        "donors": 2,
        "donations": 2,
        "match_budget_left": 0,
    }
    assert await balances(stack) == {"ava": 300, "ben": 0}
    ledger = await stack.query(
        "points", "SELECT member_id, points FROM ledger WHERE kind = 'donate' ORDER BY id"
    )
    assert [(r["member_id"], r["points"]) for r in ledger] == [("ava", -200), ("ben", -300)]
    mismatched = await stack.query(
        "points",
        "SELECT b.member_id FROM balances b JOIN (SELECT member_id, sum(points) s FROM ledger GROUP BY 1) l "
        "USING (member_id) WHERE b.balance <> l.s",
    )
    assert mismatched == []
    donated = await eventually(
        lambda: _events(stack, "points.donated", 2), what="points.donated on points.events"
    )
    assert sorted((e["key"], e["payload"]["points"], e["payload"]["matched"]) for e in donated) == [
        ("ava", 200, 100),
        ("ben", 300, 50),
    ]


async def _has(found: Awaitable[dict[str, int]], wanted: dict[str, int]) -> bool:
    return await found == wanted


async def _events(stack: Stack, kind: str, n: int) -> list[dict[str, Any]] | None:
    found = [e for e in (decode(r) for r in await stack.read_all(Topic.POINTS)) if e["type"] == kind]
    return found if len(found) >= n else None


async def test_an_instant_win_game_pays_prizes_and_its_audit_recomputes_every_draw(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    now = utcnow()
    prizes = [{"name": "big", "points": 50, "odds": "0.3"}, {"name": "small", "points": 10, "odds": "0.2"}]
    wheel = {"name": "Yalda wheel", "currency": "IRR", "min_purchase": "500", "prizes": prizes,
             "starts_at": (now - timedelta(minutes=1)).isoformat(),
             "ends_at": (now + timedelta(seconds=8)).isoformat(), "budget_points": 10_000}  # fmt: skip
    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        unfair = wheel | {"prizes": [{"name": "big", "points": 50, "odds": "0.2"}]}
        refused = await c.put("/v1/games/unfair", json=unfair, headers=TOKEN)
        assert refused.status_code == 422 and "at least 25%" in refused.text
        created = await c.put("/v1/games/yalda", json=wheel, headers=TOKEN)
        assert created.status_code == 201, created.text
        published = created.json()["commitment"]
        assert (await c.put("/v1/games/yalda", json=wheel, headers=TOKEN)).status_code == 409

        qualifying = [purchase(f"m{i % 6}", "600") for i in range(30)]
        small = [purchase("m0", "100") for _ in range(5)]
        await stack.produce(Topic.PURCHASES, [as_record(p) for p in qualifying + small + qualifying[:3]])
        await eventually(
            lambda: _events(stack, "game.played", 30), timeout=60, what="a play for each qualifying purchase"
        )
        await asyncio.sleep(max((now + timedelta(seconds=9) - utcnow()).total_seconds(), 0))
        audit = (await c.get("/v1/games/yalda/audit")).json()
        state = (await c.get("/v1/games/yalda")).json()

    seed = bytes.fromhex(audit["seed"])
    assert hashlib.sha256(seed).hexdigest() == published == audit["commitment"]
    assert len(audit["plays"]) == 30  # one each, the redelivered ones included
    won = 0
    for play in audit["plays"]:
        proof = hmac.new(seed, f"yalda:{play['play_id']}".encode(), hashlib.sha256).hexdigest()
        number = Decimal(int(proof[:16], 16)) / Decimal(2**64)
        expected = "big" if number < Decimal("0.3") else "small" if number < Decimal("0.5") else None
        assert (play["proof"], play["prize"]) == (proof, expected)
        won += {"big": 50, "small": 10, None: 0}[expected]
    assert state["budget_left"] == 10_000 - won and state["plays"] == 30
    prizes_paid = await stack.scalar(
        "points", "SELECT coalesce(sum(points), 0) FROM ledger WHERE kind = 'prize'"
    )
    assert prizes_paid == won
    assert sum((await balances(stack)).values()) == 30 * 600 + 5 * 100 + won


async def test_a_time_limited_program_reminds_before_its_end_and_turns_every_balance_into_a_voucher(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    await stack.produce(
        Topic.PURCHASES, [as_record(purchase(m, a)) for m, a in (("ava", "700"), ("ben", "40"))]
    )
    await eventually(lambda: _has(balances(stack), {"ava": 700, "ben": 40}), what="points earned")
    ends = utcnow() + timedelta(days=20)
    end = {"name": "Yalda club", "ends_at": ends.isoformat(), "remind_days": [30, 7], "parting": "convert",
           "convert_rate": "100", "currency": "IRR"}  # fmt: skip
    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        assert (await c.put("/v1/programs/yalda", json=end, headers=TOKEN)).status_code == 200

    async def jobs_at(moment: datetime) -> None:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "services.points.jobs", "--now", moment.isoformat()],
            env=os.environ | stack.env("points"), cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    await jobs_at(utcnow() + timedelta(days=1))  # the 30-day reminder is due
    await jobs_at(utcnow() + timedelta(days=2))  # ... and not sent twice
    reminders = await eventually(lambda: _events(stack, "program.ending", 2), what="two reminders")
    assert sorted((e["key"], e["payload"]["points"]) for e in reminders) == [("ava", 700), ("ben", 40)]

    await jobs_at(ends + timedelta(minutes=1))
    assert await balances(stack) == {"ava": 0, "ben": 0}
    ended = await eventually(lambda: _events(stack, "program.ended", 2), what="the end of the program")
    assert sorted((e["key"], e["payload"]["offer"]) for e in ended) == [
        ("ava", "70000.00 IRR voucher"),
        ("ben", "4000.00 IRR voucher"),
    ]
    assert all(e["payload"]["code"] for e in ended)
    assert len(await _events(stack, "program.ending", 0) or []) == 2  # the 7-day one never came due
    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        assert (await c.get("/v1/programs/yalda")).json()["closed_at"] is not None
        assert (await c.put("/v1/programs/yalda", json=end, headers=TOKEN)).status_code == 409


async def test_five_visits_this_month_earn_a_badge_and_its_bonus_once(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        challenge = {"name": "5 visits this month", "kind": "visits", "target": 5, "bonus_points": 100}
        assert (await c.put("/v1/challenges/five-visits", json=challenge, headers=TOKEN)).status_code == 200
    today = utcnow()
    month = datetime(today.year, today.month, 1, 12, tzinfo=UTC)
    days = [month + timedelta(days=d) for d in (0, 0, 1, 2, 3, 4, 5)]  # six distinct days, one twice
    await stack.produce(Topic.PURCHASES, [as_record(purchase("ava", "10", occurred_at=d)) for d in days])
    await eventually(lambda: _events(stack, "badge.earned", 1), what="the badge")
    await eventually(lambda: _has(balances(stack), {"ava": 7 * 10 + 100}), what="the purchases and the bonus")
    progress = await _events(stack, "challenge.progress", 6)
    assert progress and [e["payload"]["progress"] for e in progress] == [1, 2, 3, 4, 5, 6]
    badges = await _events(stack, "badge.earned", 1)
    assert badges and [(b["payload"]["points"], b["payload"]["period"]) for b in badges] == [
        (100, f"{month:%Y-%m}")
    ]
    async with httpx.AsyncClient(base_url=points.url, timeout=30) as c:
        mine = (await c.get("/v1/members/ava/challenges")).json()["challenges"]
    assert mine == [
        {"challenge_id": "five-visits", "name": "5 visits this month", "period": f"{month:%Y-%m}",
         "progress": 6, "target": 5, "badge": True}
    ]  # fmt: skip
