"""Programs beyond points and tiers, through Kafka and the real stores."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shared.contracts import (
    MEMBER_ENROLLED,
    SEGMENT_CHANGED,
    TIER_CHANGED,
    MemberEnrolled,
    SegmentChanged,
    TierBenefits,
    TierChanged,
)
from shared.contracts.envelope import utcnow
from shared.topics import Topic
from tests.pointsflow import balances
from tests.support import (
    ServiceProcess,
    Stack,
    as_record,
    at_least,
    bearer,
    decode,
    eventually,
    jobs_at,
    operator,
    purchase,
    refund,
    running,
)

TOKEN = bearer(operator("test-ops", "admin"))


async def test_members_give_points_to_a_cause_the_brand_matches_until_its_budget_runs_out(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    sales = [purchase("ava", "500"), purchase("ben", "300")]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in sales])
    await eventually(lambda: _has(balances(stack), {"ava": 500, "ben": 300}), what="points earned")

    async with points.client(timeout=30) as c:
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


async def _total(found: Awaitable[dict[str, int]], wanted: int) -> bool:
    return sum((await found).values()) == wanted


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
    async with points.client(timeout=30) as c:
        unfair = wheel | {"prizes": [{"name": "big", "points": 50, "odds": "0.2"}]}
        refused = await c.put("/v1/games/unfair", json=unfair, headers=TOKEN)
        assert refused.status_code == 422 and "at least 25%" in refused.text
        # The refusal names the field and a stable rule, as ingest's do.
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("prizes", "odds_too_low")]
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
        pages, offset = [], 0
        while offset is not None:  # the audit a page at a time gives the same plays
            page = (await c.get("/v1/games/yalda/audit", params={"offset": offset, "limit": 7})).json()
            pages += page["plays"]
            offset = page["next_offset"]
    assert pages == audit["plays"] and audit["next_offset"] is None

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

    # A winning purchase brought back in full takes its prize back with it, once.
    winner = next(p for p in audit["plays"] if p["prize"])
    sale = next(q for q in qualifying if str(q.event_id) == winner["purchase_event_id"])
    back = refund(sale, utcnow())
    await stack.produce(Topic.PURCHASES, [as_record(back), as_record(back)])
    taken = {"big": 50, "small": 10}[winner["prize"]]
    total = 30 * 600 + 5 * 100 + won - 600 - taken
    await eventually(lambda: _total(balances(stack), total), what="the return and its prize taken back")
    adjusted = await stack.query(
        "points",
        "SELECT points, source_event_id FROM ledger WHERE kind = 'adjust' AND member_id = $1",
        sale.payload.member_id,
    )
    assert [(r["points"], str(r["source_event_id"])) for r in adjusted] == [(-taken, winner["play_id"])]


async def test_a_time_limited_program_reminds_before_its_end_and_turns_every_balance_into_a_voucher(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    # Reservations hold for 60 days here: one is still open when the program ends.
    points = await running(stack, services, log_dir, "points", VAFA_POINTS_REDEMPTION_HOLD_S="5184000")
    await stack.produce(
        Topic.PURCHASES, [as_record(purchase(m, a)) for m, a in (("ava", "700"), ("ben", "40"))]
    )
    await eventually(lambda: _has(balances(stack), {"ava": 700, "ben": 40}), what="points earned")
    ends = utcnow() + timedelta(days=20)
    end = {"name": "Yalda club", "ends_at": ends.isoformat(), "remind_days": [30, 7], "parting": "convert",
           "convert_rate": "100", "currency": "IRR"}  # fmt: skip
    async with points.client(timeout=30) as c:
        assert (await c.put("/v1/programs/yalda", json=end, headers=TOKEN)).status_code == 200
        sangak = {"name": "Free sangak", "kind": "free_item", "cost_points": 100}
        assert (await c.put("/v1/rewards/sangak", json=sangak, headers=TOKEN)).status_code == 200
        held = {"request_id": str(uuid.uuid4()), "member_id": "ava", "reward_id": "sangak"}
        assert (await c.post("/v1/redemptions", json=held, headers=TOKEN)).status_code == 201

    await jobs_at(stack, utcnow() + timedelta(days=1))  # the 30-day reminder is due
    await jobs_at(stack, utcnow() + timedelta(days=2))  # ... and not sent twice
    reminders = await eventually(lambda: _events(stack, "program.ending", 2), what="two reminders")
    assert sorted((e["key"], e["payload"]["points"]) for e in reminders) == [
        ("ava", 600),
        ("ben", 40),
    ]  # 100 held

    await jobs_at(stack, ends + timedelta(minutes=1))
    assert await balances(stack) == {"ava": 0, "ben": 0}
    ended = await eventually(lambda: _events(stack, "program.ended", 2), what="the end of the program")
    assert sorted((e["key"], e["payload"]["offer"]) for e in ended) == [
        ("ava", "70000.00 IRR voucher"),
        ("ben", "4000.00 IRR voucher"),
    ]
    assert all(e["payload"]["code"] for e in ended)  # ava's 700 include the 100 held for a sangak
    released = await stack.query(
        "points", "SELECT details->>'reason' AS why FROM ledger WHERE kind = 'redeem_release'"
    )
    assert [r["why"] for r in released] == ["program ended"]
    assert len(await _events(stack, "program.ending", 0) or []) == 2  # the 7-day one never came due
    async with points.client(timeout=30) as c:
        assert (await c.get("/v1/programs/yalda")).json()["closed_at"] is not None
        assert (await c.put("/v1/programs/yalda", json=end, headers=TOKEN)).status_code == 409

    # A purchase made after the end earns nothing: the program is over (and was settled).
    late = purchase("ava", "500", occurred_at=ends + timedelta(minutes=2))
    await stack.produce(Topic.PURCHASES, [as_record(late)])
    seen = "SELECT count(*) FROM inbox WHERE event_id = $1"
    await eventually(lambda: stack.scalar("points", seen, late.event_id), what="the late purchase read")
    assert await balances(stack) == {"ava": 0, "ben": 0}
    assert (
        await stack.scalar("points", "SELECT count(*) FROM ledger WHERE source_event_id = $1", late.event_id)
        == 0
    )


async def test_five_visits_this_month_earn_a_badge_and_its_bonus_once(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    async with points.client(timeout=30) as c:
        challenge = {"name": "5 visits this month", "kind": "visits", "target": 5, "bonus_points": 100}
        assert (await c.put("/v1/challenges/five-visits", json=challenge, headers=TOKEN)).status_code == 200
    today = utcnow()
    month = datetime(today.year, today.month, 1, 12, tzinfo=UTC)
    days = [month + timedelta(days=d) for d in (0, 0, 1, 2, 3, 4, 5)]  # six distinct days, one twice
    sales = [purchase("ava", "10", occurred_at=d) for d in days]
    await stack.produce(Topic.PURCHASES, [as_record(s) for s in sales])
    await eventually(lambda: _events(stack, "badge.earned", 1), what="the badge")
    await eventually(lambda: _has(balances(stack), {"ava": 7 * 10 + 100}), what="the purchases and the bonus")
    progress = await _events(stack, "challenge.progress", 6)
    assert progress and [e["payload"]["progress"] for e in progress] == [1, 2, 3, 4, 5, 6]
    badges = await _events(stack, "badge.earned", 1)
    assert badges and [(b["payload"]["points"], b["payload"]["period"]) for b in badges] == [
        (100, f"{month:%Y-%m}")
    ]
    async with points.client(timeout=30) as c:
        mine = (await c.get("/v1/members/ava/challenges")).json()["challenges"]
    assert mine == [
        {"challenge_id": "five-visits", "name": "5 visits this month", "period": f"{month:%Y-%m}",
         "progress": 6, "target": 5, "badge": True}
    ]  # fmt: skip

    # The purchase that reached the target, brought back in full, takes the bonus back with it.
    badge = await stack.query(
        "points", "SELECT details->>'purchase_event_id' AS p FROM ledger WHERE kind = 'badge'"
    )
    reached = badge[0]["p"]
    sale = next(s for s in sales if str(s.event_id) == reached)
    await stack.produce(Topic.PURCHASES, [as_record(refund(sale, utcnow()))])
    await eventually(
        lambda: _has(balances(stack), {"ava": 6 * 10}), what="the return and the bonus taken back"
    )


def enrolment(member: str, code: str, at: datetime) -> tuple[bytes, bytes]:
    payload = MemberEnrolled(member_id=member, chain_id="chain-1", referral_code=code)
    return as_record(
        MEMBER_ENROLLED.envelope(key=member, producer="test-pos", occurred_at=at, payload=payload)
    )


async def test_a_referral_rewards_both_once_the_friends_first_qualifying_purchase_clears_the_return_window(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    terms = {"referrer_points": 500, "friend_points": 200, "minimum_purchase": {"IRR": "500"},
             "return_window_days": 14, "qualify_within_days": 30}  # fmt: skip
    async with points.client(timeout=30) as c:
        assert (await c.put("/v1/referrals/program", json=terms, headers=TOKEN)).status_code == 200
        codes = {}
        for member in ("ava", "ben", "carl"):
            answer = await c.post(f"/v1/members/{member}/referral-code", headers=TOKEN)
            assert answer.status_code == 200, answer.text
            codes[member] = answer.json()["code"]
        again = await c.post("/v1/members/ava/referral-code", headers=TOKEN)
        assert again.json()["code"] == codes["ava"]
        anonymous = {"Authorization": ""}
        assert (await c.post("/v1/members/ava/referral-code", headers=anonymous)).status_code == 401
    assert len(set(codes.values())) == 3

    now = utcnow()
    joined = now - timedelta(days=20)
    await stack.produce(Topic.MEMBERS, [
        enrolment("ben", codes["ava"], joined), enrolment("emma", codes["ava"], joined),
        enrolment("finn", codes["ava"], joined), enrolment("carl", codes["carl"], joined),
        enrolment("dina", "NOSUCHCODE", joined),
    ])  # fmt: skip
    recorded = "SELECT friend_id, referrer_id, status, reason FROM referrals ORDER BY friend_id"
    await eventually(lambda: at_least(stack.query("points", recorded), 5), what="five referrals recorded")
    # ava joins a second chain with ben's code: ava referred ben, so that would be a loop.
    await stack.produce(Topic.MEMBERS, [enrolment("ava", codes["ben"], joined + timedelta(days=1))])
    await eventually(lambda: at_least(stack.query("points", recorded), 6), what="the loop recorded")

    day = timedelta(days=1)
    finn_first = purchase("finn", "600", occurred_at=joined + day)
    await stack.produce(Topic.PURCHASES, [
        as_record(purchase("ben", "300", occurred_at=joined + day)),  # below the minimum
        as_record(purchase("ben", "600", occurred_at=joined + 2 * day)),  # qualifies, clears 4 days ago
        as_record(purchase("emma", "100", occurred_at=joined + day)),  # never qualifies
        as_record(finn_first),
        as_record(refund(finn_first, joined + day + timedelta(hours=2))),  # brought back: does not count
        as_record(purchase("finn", "800", occurred_at=joined + 10 * day)),  # clears in 4 days
    ])  # fmt: skip
    earned = {"ben": 900, "emma": 100, "finn": 800}
    await eventually(lambda: _has(balances(stack), earned), what="the purchases and the return")

    await jobs_at(stack, now)
    await jobs_at(stack, now + timedelta(hours=1))  # nothing twice
    assert await balances(stack) == {"ava": 500, "ben": 1100, "emma": 100, "finn": 800}
    await jobs_at(stack, now + 5 * day)
    assert await balances(stack) == {"ava": 1000, "ben": 1100, "emma": 100, "finn": 1000}
    await jobs_at(stack, now + 30 * day)  # emma's time to qualify is over
    rewarded = await eventually(lambda: _events(stack, "referral.rewarded", 4), what="four rewards")
    assert sorted((e["key"], e["payload"]["role"], e["payload"]["points"]) for e in rewarded) == [
        ("ava", "referrer", 500), ("ava", "referrer", 500), ("ben", "friend", 200), ("finn", "friend", 200),
    ]  # fmt: skip
    assert await balances(stack) == {"ava": 1000, "ben": 1100, "emma": 100, "finn": 1000}
    rows = await stack.query("points", recorded)
    assert [(r["friend_id"], r["referrer_id"], r["status"]) for r in rows] == [
        ("ava", "ben", "refused"), ("ben", "ava", "rewarded"), ("carl", "carl", "refused"),
        ("dina", None, "refused"), ("emma", "ava", "lapsed"), ("finn", "ava", "rewarded"),
    ]  # fmt: skip
    async with points.client(timeout=30) as c:
        ava = (await c.get("/v1/members/ava/referrals")).json()
        carl = (await c.get("/v1/members/carl/referrals")).json()
        dina = (await c.get("/v1/members/dina/referrals")).json()
    assert ava["code"] == codes["ava"]
    assert [(r["friend_id"], r["status"]) for r in ava["referred"]] == [
        ("ben", "rewarded"), ("emma", "lapsed"), ("finn", "rewarded")
    ]  # fmt: skip
    assert "loop" in ava["referred_by"]["reason"]
    assert "self-referral" in carl["referred_by"]["reason"]
    assert dina["referred_by"]["reason"] == "unknown referral code"


def holdout_by_hand(promotion: str, member: str, percent: int) -> bool:
    return (
        int.from_bytes(hashlib.sha256(f"{promotion}\x00{member}".encode()).digest()[:8], "big") % 100
        < percent
    )


async def test_targeted_promotions_reach_a_segment_and_lapsed_members_and_analytics_measures_their_lift(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    analytics = await running(stack, services, log_dir, "analytics")
    now = utcnow()
    today = now.date()
    audiences = {"we-miss-you": {"segments": ["at_risk"], "holdout_percent": 30},
                 "come-back": {"inactive_days": 60, "holdout_percent": 30}}  # fmt: skip
    rules = {
        "effective_from": "2020-01-01T00:00:00+00:00",
        "base_rates": {"IRR": "1"},
        "promotions": [
            {"name": "we-miss-you", "multiplier": "2", "starts_on": str(today - timedelta(days=1)),
             "ends_on": str(today + timedelta(days=30)), "audience": audiences["we-miss-you"]},
            {"name": "come-back", "multiplier": "3", "audience": audiences["come-back"]},
        ],
    }  # fmt: skip
    async with points.client(timeout=30) as c:
        assert (await c.post("/v1/rules", json=rules, headers=TOKEN)).status_code == 201

    at_risk = [f"a{i:02d}" for i in range(40)]
    lapsed = [f"w{i:02d}" for i in range(20)]
    recent = [f"r{i:02d}" for i in range(5)]
    before = [purchase(m, "100", occurred_at=now - timedelta(days=90)) for m in lapsed]
    before += [purchase(m, "100", occurred_at=now - timedelta(days=10)) for m in recent]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in before])
    segments = [(m, "at_risk") for m in at_risk] + [(f"c{i}", "champions") for i in range(5)]
    await stack.produce(Topic.ANALYTICS, [
        as_record(SEGMENT_CHANGED.envelope(key=m, producer="analytics", payload=SegmentChanged(
            member_id=m, segment="barnacles", previous_segment=None, rfm="155", rfm_label=label, as_of=now,
        )))
        for m, label in segments
    ])  # fmt: skip
    await eventually(lambda: _has(balances(stack), dict.fromkeys(lapsed + recent, 100)), what="old purchases")
    segmented = "SELECT member_id FROM member_segments"
    await eventually(lambda: at_least(stack.query("points", segmented), 45), what="segments kept by points")

    await jobs_at(stack, now)
    await jobs_at(stack, now + timedelta(minutes=5))  # nobody is chosen twice
    chosen = await eventually(lambda: _events(stack, "promotion.targeted", 60), what="60 members chosen")
    groups = {(e["payload"]["promotion"], e["key"]): e["payload"]["group"] for e in chosen}
    expected = {("we-miss-you", m) for m in at_risk} | {("come-back", m) for m in lapsed}
    assert len(chosen) == 60 and set(groups) == expected
    for (promotion, member), group in groups.items():
        held = holdout_by_hand(promotion, member, 30)
        assert group == ("holdout" if held else "treatment"), (promotion, member)
    assert 0 < list(groups.values()).count("holdout") < 60

    # After being chosen: every other at-risk member and every lapsed member buys.
    buyers = at_risk[::2] + lapsed
    # ... and one more purchase, made before the choosing but arriving after it: no promotion for it.
    late = purchase(at_risk[1], "200", occurred_at=now - timedelta(hours=1))
    await stack.produce(Topic.PURCHASES, [as_record(purchase(m, "200")) for m in buyers] + [as_record(late)])
    multiplier = {"we-miss-you": 2, "come-back": 3}
    wanted = {m: 200 * (multiplier["we-miss-you"] if groups[("we-miss-you", m)] == "treatment" else 1)
              for m in at_risk[::2]}  # fmt: skip
    wanted |= {m: 100 + 200 * (3 if groups[("come-back", m)] == "treatment" else 1) for m in lapsed}
    wanted[at_risk[1]] = 200
    await eventually(
        lambda: _subset(balances(stack), wanted), what="double and triple points for the treatment only"
    )

    def by_hand(promotion: str, members: list[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for group in ("treatment", "holdout"):
            chosen_ = [m for m in members if groups[(promotion, m)] == group]
            bought = [m for m in chosen_ if m in buyers]
            out[group] = {"members": len(chosen_), "buyers": len(bought), "spend": f"{200 * len(bought)}"}
        return out

    async def lift() -> list[dict[str, Any]] | None:
        async with analytics.client(timeout=30) as c:
            got = (await c.get("/v1/kpis/promotions", params={"currency": "IRR"})).json()["promotions"]
        spends = sum(Decimal(p[g]["spend"]) for p in got for g in ("treatment", "holdout"))
        return got if spends == 200 * len(buyers) and sum(p["treatment"]["members"] for p in got) else None

    figures = {p["promotion"]: p for p in await eventually(lift, what="the lift in analytics")}
    for promotion, members in (("we-miss-you", at_risk), ("come-back", lapsed)):
        hand = by_hand(promotion, members)
        for group in ("treatment", "holdout"):
            got = figures[promotion][group]
            assert {k: got[k] for k in ("members", "buyers")} == {
                k: hand[group][k] for k in ("members", "buyers")
            }
            assert Decimal(got["spend"]) == Decimal(hand[group]["spend"])
    t, h = by_hand("we-miss-you", at_risk).values()
    conversion = Decimal(t["buyers"]) * h["members"] / (Decimal(h["buyers"]) * t["members"]) - 1
    assert Decimal(figures["we-miss-you"]["conversion_lift"]) == conversion.quantize(Decimal("0.0001"))
    assert figures["come-back"]["conversion_lift"] == "0.0000"  # every lapsed member came back


async def _subset(found: Awaitable[dict[str, int]], wanted: dict[str, int]) -> bool:
    have = await found
    return all(have.get(m) == v for m, v in wanted.items())


async def test_a_member_gets_their_tiers_birthday_bonus_once_on_the_day_and_only_ingest_keeps_the_date(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points")
    tehran = ZoneInfo("Asia/Tehran")
    birthday = (utcnow() + timedelta(days=10)).astimezone(tehran).date()
    born = birthday.replace(year=1992)  # a leap year: any day of the year is a birth date in it
    at = utcnow().isoformat()
    async with ingest.client(timeout=30) as c:
        for member, given in (("m-bday", {"birth_date": born.isoformat()}), ("m-noday", {})):
            enrolled = {"member_id": member, "chain_id": "hyperstar", "occurred_at": at, **given}
            answer = await c.post("/v1/members", json=enrolled)
            assert answer.status_code == 202, answer.text
        exported = (await c.get("/v1/members/m-bday/export")).json()
    assert exported["birth_date"] == born.isoformat()
    gold = TierBenefits(earn_multiplier=Decimal("1.5"), birthday_bonus=500)
    await stack.produce(Topic.TIERS, [
        as_record(TIER_CHANGED.envelope(key=m, producer="test-tiers", payload=TierChanged(
            member_id=m, from_tier=None, to_tier="Gold", reason="qualified", benefits=gold,
            effective_from=utcnow() - timedelta(days=30), review_at=None,
        )))
        for m in ("m-bday", "m-noday")
    ])  # fmt: skip
    told = "SELECT count(*) FROM tier_steps WHERE member_id IN ('m-bday', 'm-noday')"
    await eventually(lambda: _equals(stack.scalar("points", told), 2), what="both tier steps")
    known = "SELECT month, day FROM birthdays WHERE member_id = 'm-bday'"
    row = await eventually(lambda: stack.query("points", known), what="the birthday at points")
    assert (row[0]["month"], row[0]["day"]) == (birthday.month, birthday.day)
    # The bus carried the month and day, never the year of birth.
    members = [decode(r) for r in await stack.read_all(Topic.MEMBERS)]
    bday = [e["payload"] for e in members if e["key"] == "m-bday"]
    assert bday and bday[0]["birthday"] == f"--{birthday:%m-%d}" and "1992" not in str(members)

    noon = datetime.combine(birthday, time(12), tehran)
    await jobs_at(stack, noon - timedelta(days=1))
    await jobs_at(stack, noon - timedelta(hours=12, minutes=1))  # 23:59 the day before, in Tehran
    assert await balances(stack) == {}
    await jobs_at(stack, noon)
    await jobs_at(stack, noon + timedelta(hours=11))  # the same day again: nothing twice
    assert await balances(stack) == {"m-bday": 500}
    ledger = await stack.query("points", "SELECT member_id, kind, points FROM ledger ORDER BY id")
    assert [(r["member_id"], r["kind"], r["points"]) for r in ledger] == [("m-bday", "birthday", 500)]
    greeted = await eventually(lambda: _events(stack, "points.birthday_bonus", 1), what="the greeting")
    assert [
        (e["key"], e["payload"]["points"], e["payload"]["tier"], e["payload"]["year"]) for e in greeted
    ] == [("m-bday", 500, "Gold", birthday.year)]
    async with points.client(timeout=30) as c:
        assert (await c.get("/v1/members/m-bday/export")).json()["birthday"] == f"--{birthday:%m-%d}"

    # Erased: ingest forgets the birth date at once, points the birthday when it hears.
    async with ingest.client(timeout=30) as c:
        assert (await c.post("/v1/members/m-bday/erasure")).status_code == 202
        assert (await c.get("/v1/members/m-bday/export")).json()["birth_date"] is None
    gone = "SELECT count(*) FROM birthdays WHERE member_id = 'm-bday'"
    await eventually(lambda: _equals(stack.scalar("points", gone), 0), what="points forgot the birthday")
    assert await balances(stack) == {"m-bday": 500}  # the amounts stay


async def _equals(found: Awaitable[Any], wanted: Any) -> bool:
    return bool(await found == wanted)
