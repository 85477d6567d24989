"""Loyalty programs side by side in one deployment: a chain's own program beside the coalition's
``main``, each with its own rules and balances; and a deployment from before programs keeps every point."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.points.store import MIGRATIONS
from services.tiers.store import MIGRATIONS as TIERS_MIGRATIONS
from shared.contracts import MEMBER_ENROLLED, PURCHASE_RECORDED, MemberEnrolled
from shared.contracts.envelope import utcnow
from shared.store.migrate import upgrade
from shared.topics import Topic
from tests.support import (
    ServiceProcess,
    Stack,
    as_record,
    bearer,
    decode,
    eventually,
    jobs_at,
    operator,
    purchase,
    refund,
    running,
)

pytestmark = pytest.mark.infra
TOKEN = bearer(operator("test-ops", "admin"))


async def _balances(points: ServiceProcess, member: str) -> list[dict[str, Any]]:
    async with points.client(timeout=30) as c:
        found: list[dict[str, Any]] = (await c.get(f"/v1/members/{member}/balances")).json()["programs"]
    return found


async def _is(found: Awaitable[Any], wanted: Any) -> bool:
    return bool(await found == wanted)


async def test_a_chains_own_program_runs_beside_the_coalition_each_with_its_rules_and_balances(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    since = (utcnow() - timedelta(days=30)).isoformat()
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": ["chain-1"]}
        put = await c.put("/v1/loyalty-programs/hyper-club", json=club, headers=TOKEN)
        assert put.status_code == 200, put.text
        closed = await c.put(
            "/v1/loyalty-programs/main", json={"name": "main", "chains": ["x"]}, headers=TOKEN
        )
        assert closed.status_code == 422 and closed.json()["errors"][0]["field"] == "chains"
        double = {"effective_from": since, "base_rates": {"IRR": "2"}}
        nowhere = await c.post("/v1/rules", params={"program": "nowhere"}, json=double, headers=TOKEN)
        assert nowhere.status_code == 404
        added = await c.post("/v1/rules", params={"program": "hyper-club"}, json=double, headers=TOKEN)
        assert added.status_code == 201, added.text
        listed = (await c.get("/v1/loyalty-programs", headers=TOKEN)).json()["programs"]
        assert [p["program_id"] for p in listed] == ["hyper-club", "main"]

    at_the_chain = purchase("sara", "1000")
    elsewhere = purchase("sara", "500")
    elsewhere = PURCHASE_RECORDED.envelope(
        key="sara", producer="test-pos", payload=elsewhere.payload.model_copy(update={"chain_id": "chain-2"})
    )
    await stack.produce(
        Topic.PURCHASES, [as_record(at_the_chain), as_record(elsewhere), as_record(at_the_chain)]
    )
    # main earns on both at its default rate; the club only on its chain's, at its own rate, once.
    both = [
        {"program_id": "hyper-club", "balance": 2000, "debt": 0},
        {"program_id": "main", "balance": 1500, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "sara"), both), what="a balance in each program")

    await stack.produce(Topic.PURCHASES, [as_record(refund(at_the_chain, utcnow(), Decimal(500)))])
    halved = [
        {"program_id": "hyper-club", "balance": 1000, "debt": 0},
        {"program_id": "main", "balance": 1000, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "sara"), halved), what="the return in both programs")

    async with points.client(timeout=30) as c:
        club_balance = (await c.get("/v1/members/sara/balance", params={"program": "hyper-club"})).json()
        main_balance = (await c.get("/v1/members/sara/balance")).json()
        ledger = (await c.get("/v1/members/sara/ledger", params={"program": "hyper-club"})).json()["entries"]
    assert (club_balance["balance"], main_balance["balance"]) == (1000, 1000)
    assert [(e["kind"], e["points"]) for e in ledger] == [("reverse", -1000), ("earn", 2000)]
    earned = [decode(r) for r in await stack.read_all(Topic.POINTS)]
    told = sorted(
        (e["payload"]["program_id"], e["payload"]["points"]) for e in earned if e["type"] == "points.earned"
    )
    assert told == [("hyper-club", 2000), ("main", 500), ("main", 1000)]
    defined = [e["payload"] for e in earned if e["type"] == "loyalty_program.defined"]
    assert [(d["program_id"], d["chains"]) for d in defined] == [("hyper-club", ["chain-1"])]


async def test_a_deployment_from_before_programs_keeps_every_balance_and_lot(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Its store as the service left it before programs existed (revision 0013), then the service of
    today on it: every balance is main's, and a return of a purchase earned back then still finds it."""
    await stack.create("points")
    infra = stack.infra
    url = (f"postgresql+asyncpg://{infra.pg_user}:{infra.pg_password}@{infra.pg_host}:{infra.pg_port}"
           f"/{stack.database('points')}")  # fmt: skip
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "0013")
    sale = purchase("omid", "800")
    lot = uuid.uuid5(uuid.UUID("8f0b2d4e-9a7c-4c3e-b1f5-0e6a2d9c7b31"), str(sale.event_id))
    conn = await stack.pg(stack.database("points"))
    try:
        await conn.execute(
            "INSERT INTO ledger (member_id, kind, points, source_event_id, occurred_at, details) "
            "VALUES ('omid', 'earn', 800, $1, $2, $3), ('lena', 'adjust', 300, $4, $2, '{}')",
            sale.event_id, sale.occurred_at,
            f'{{"amount": "800", "reversible": 800, "lot_id": "{lot}", "rules": []}}', uuid.uuid4(),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO balances (member_id, balance, debt) VALUES ('omid', 800, 0), ('lena', 300, 0)"
        )
        await conn.execute(
            "INSERT INTO lots (lot_id, member_id, earned_at, expires_at, original, remaining) "
            "VALUES ($1, 'omid', $2, NULL, 800, 800)",
            lot, sale.occurred_at,
        )  # fmt: skip
    finally:
        await conn.close()

    points = ServiceProcess("services.points", stack.env("points"), log_dir)
    services.append(points)
    await points.start().wait_ready()
    for member, balance in (("omid", 800), ("lena", 300)):
        assert await _balances(points, member) == [{"program_id": "main", "balance": balance, "debt": 0}]
    await stack.produce(Topic.PURCHASES, [as_record(refund(sale, utcnow(), Decimal(200)))])
    await eventually(
        lambda: _is(_balances(points, "omid"), [{"program_id": "main", "balance": 600, "debt": 0}]),
        what="the return of a purchase earned before programs",
    )
    remaining = await stack.scalar("points", "SELECT remaining FROM lots WHERE lot_id = $1", lot)
    assert remaining == 600


MAIN_LADDER = {
    "vip_tier": "Silver",
    "tiers": [
        {"name": "Bronze", "threshold": "0"},
        {"name": "Silver", "threshold": "20000000", "benefits": {"earn_multiplier": "1.5"}},
    ],
}
CLUB_LADDER = {
    "tiers": [
        {"name": "Member", "threshold": "0"},
        {"name": "Silver", "threshold": "3000000", "benefits": {"earn_multiplier": "2"}},
    ]
}


async def _tier(tiers: ServiceProcess, member: str, program: str) -> tuple[str, Decimal] | None:
    async with tiers.client(timeout=30) as c:
        answer = await c.get(f"/v1/members/{member}/tier", params={"program": program})
    if answer.status_code != 200:
        return None
    return answer.json()["tier"], Decimal(answer.json()["qualifying_value"])


async def test_each_program_has_its_own_ladder_and_its_tier_multiplies_its_own_later_purchases(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    """A chain's club beside the coalition's main, each with its rules and ladder, one member in both:
    the club's tier comes of chain-1 spend only and doubles the club's later earns, never main's."""
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(json.dumps(MAIN_LADDER))
    points = await running(stack, services, log_dir, "points", VAFA_POINTS_EARN_RATE="0.0001")
    tiers = await running(stack, services, log_dir, "tiers", VAFA_TIERS_LADDER_FILE=str(ladder_file))
    since = (utcnow() - timedelta(days=30)).isoformat()
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": ["chain-1"]}
        assert (await c.put("/v1/loyalty-programs/hyper-club", json=club, headers=TOKEN)).status_code == 200
        tenfold = {"effective_from": since, "base_rates": {"IRR": "0.001"}}
        added = await c.post("/v1/rules", params={"program": "hyper-club"}, json=tenfold, headers=TOKEN)
        assert added.status_code == 201, added.text

    async def set_ladder(program: str, ladder: dict[str, Any]) -> int:
        async with tiers.client(timeout=30) as c:
            return (await c.put(f"/v1/ladders/{program}", json=ladder, headers=TOKEN)).status_code

    assert await set_ladder("main", CLUB_LADDER) == 422  # main's is the deployment's setting
    assert await set_ladder("hyper-club", {**CLUB_LADDER, "vip_tier": "Silver"}) == 422  # VIP is main's
    # Tiers learns of the club from points (loyalty_program.defined): until then it is unknown there.
    await eventually(lambda: _is(set_ladder("hyper-club", CLUB_LADDER), 200), what="the club's ladder set")
    async with tiers.client(timeout=30) as c:
        assert (await c.get("/v1/ladders/hyper-club")).json()["tiers"][1]["threshold"] == "3000000"
        audit = (await c.get("/v1/audit", params={"action": "ladder.put"})).json()["entries"]
        assert [(e["target"], e["before"]) for e in audit] == [("ladder:hyper-club", None)]

    now = utcnow()

    def bought(chain: str, amount: int, hours_ago: int) -> Any:
        sale = purchase("nima", str(amount), occurred_at=now - timedelta(hours=hours_ago))
        update = {"chain_id": chain}
        return PURCHASE_RECORDED.envelope(
            key="nima", producer="test-pos", occurred_at=sale.occurred_at,
            payload=sale.payload.model_copy(update=update),
        )  # fmt: skip

    qualifying, elsewhere = bought("chain-1", 4_000_000, 4), bought("chain-2", 5_000_000, 3)
    await stack.produce(Topic.PURCHASES, [as_record(qualifying), as_record(elsewhere)])
    # The club counts chain-1's 4M only: Silver (from 3M); main counts both, 9M of its 20M: Bronze.
    await eventually(lambda: _is(_tier(tiers, "nima", "hyper-club"), ("Silver", Decimal(4_000_000))),
                     what="Silver in the club")  # fmt: skip
    assert await _tier(tiers, "nima", "main") == ("Bronze", Decimal(9_000_000))

    later = [bought("chain-1", 1_000_000, 2), bought("chain-2", 1_000_000, 2)]
    await stack.produce(Topic.PURCHASES, [as_record(e) for e in later])
    # main, 1 per 10,000 at x1: 400 + 500 + 100 + 100. The club, 1 per 1,000: 4,000 for the purchase
    # that made the member Silver (held before it: none), then 1,000 doubled by the club's Silver.
    both = [
        {"program_id": "hyper-club", "balance": 4000 + 2000, "debt": 0},
        {"program_id": "main", "balance": 1100, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "nima"), both), what="each program's balance")

    # A return lowers the spend of the program its purchase counted in, and no other's.
    await stack.produce(Topic.PURCHASES, [as_record(refund(elsewhere, utcnow()))])
    await eventually(lambda: _is(_tier(tiers, "nima", "main"), ("Bronze", Decimal(6_000_000))),
                     what="the return in main")  # fmt: skip
    assert await _tier(tiers, "nima", "hyper-club") == ("Silver", Decimal(5_000_000))
    told = [decode(r) for r in await stack.read_all(Topic.TIERS)]
    changes = [
        (e["payload"]["program_id"], e["payload"]["to_tier"]) for e in told if e["type"] == "tier.changed"
    ]
    assert changes == [("hyper-club", "Silver")]
    async with tiers.client(timeout=30) as c:
        club_history = (await c.get("/v1/members/nima/tier/history", params={"program": "hyper-club"})).json()
        main_history = (await c.get("/v1/members/nima/tier/history")).json()
        exported = (await c.get("/v1/members/nima/export")).json()
    assert [ch["to_tier"] for ch in club_history["changes"]] == ["Silver"] and main_history["changes"] == []
    assert exported["standing"]["tier"] == "Bronze"
    assert [(p["program_id"], p["standing"]["tier"]) for p in exported["programs"]] == [
        ("hyper-club", "Silver")
    ]


async def test_a_tiers_store_from_before_programs_keeps_every_standing_as_mains(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """The tiers store as it was before programs (revision 0005), then the service of today on it: the
    standing, history and activity are main's, and the next purchase carries on from them."""
    await stack.create("tiers")
    infra = stack.infra
    url = (f"postgresql+asyncpg://{infra.pg_user}:{infra.pg_password}@{infra.pg_host}:{infra.pg_port}"
           f"/{stack.database('tiers')}")  # fmt: skip
    await asyncio.to_thread(upgrade, TIERS_MIGRATIONS, url, "0005")
    then = utcnow() - timedelta(days=10)
    conn = await stack.pg(stack.database("tiers"))
    try:
        await conn.execute(
            "INSERT INTO activity_events (event_id, member_id, occurred_at, spend, points, visits) "
            "VALUES ($1, 'omid', $2, 60000000, 0, 1)",
            uuid.uuid4(), then,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO standings (member_id, tier, since, review_at, settled_until) "
            "VALUES ('omid', 'Silver', $1, $2, $1)",
            then, then + timedelta(days=365),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO history (member_id, from_tier, to_tier, reason, at) "
            "VALUES ('omid', 'Bronze', 'Silver', 'qualified', $1)",
            then,
        )
    finally:
        await conn.close()

    tiers = ServiceProcess("services.tiers", stack.env("tiers"), log_dir)  # the default ladder
    services.append(tiers)
    await tiers.start().wait_ready()
    assert await _tier(tiers, "omid", "main") == ("Silver", Decimal(60_000_000))
    await stack.produce(Topic.PURCHASES, [as_record(purchase("omid", "150000000"))])
    await eventually(lambda: _is(_tier(tiers, "omid", "main"), ("Gold", Decimal(210_000_000))), what="Gold")
    async with tiers.client(timeout=30) as c:
        history = (await c.get("/v1/members/omid/tier/history")).json()["changes"]
    assert [(h["from_tier"], h["to_tier"]) for h in history] == [("Bronze", "Silver"), ("Silver", "Gold")]
    # What was told before stands: the move to Gold is told as news, not as a correction.
    told = [decode(r)["payload"] for r in await stack.read_all(Topic.TIERS)]
    changes = [(t["program_id"], t["to_tier"], t["revision"]) for t in told if "to_tier" in t]
    assert changes == [("main", "Gold", 0)]


def held(club: int, main: int) -> list[dict[str, Any]]:
    return [
        {"program_id": "hyper-club", "balance": club, "debt": 0},
        {"program_id": "main", "balance": main, "debt": 0},
    ]


async def test_a_chains_own_program_ends_alone_its_balances_settled_and_mains_untouched(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": ["chain-1"]}
        assert (await c.put("/v1/loyalty-programs/hyper-club", json=club, headers=TOKEN)).status_code == 200
    await stack.produce(Topic.PURCHASES, [as_record(purchase("nima", "700"))])
    both = [
        {"program_id": "hyper-club", "balance": 700, "debt": 0},
        {"program_id": "main", "balance": 700, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "nima"), both), what="a balance in each program")

    ends = utcnow() + timedelta(days=3)
    end = {"name": "Hyperstar club", "ends_at": ends.isoformat(), "parting": "gift", "gift_name": "tote bag",
           "loyalty_program": "hyper-club"}  # fmt: skip
    async with points.client(timeout=30) as c:
        assert (await c.put("/v1/programs/club-sunset", json=end, headers=TOKEN)).status_code == 200
    await jobs_at(stack, ends + timedelta(minutes=1))
    settled = [
        {"program_id": "hyper-club", "balance": 0, "debt": 0},
        {"program_id": "main", "balance": 700, "debt": 0},
    ]
    assert await _balances(points, "nima") == settled

    # Bought after the club's end: main earns, the club does not.
    late = purchase("nima", "100", occurred_at=ends + timedelta(minutes=2))
    await stack.produce(Topic.PURCHASES, [as_record(late)])
    after = [
        {"program_id": "hyper-club", "balance": 0, "debt": 0},
        {"program_id": "main", "balance": 800, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "nima"), after), what="the late purchase in main only")
    gifts = [decode(r)["payload"] for r in await stack.read_all(Topic.POINTS)]
    told = [(g["program_id"], g["loyalty_program"], g["offer"]) for g in gifts if "offer" in g]
    assert told == [("club-sunset", "hyper-club", "tote bag")]


async def test_each_program_rewards_a_referral_by_its_own_terms_on_purchases_that_earn_in_it(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    terms = {"referrer_points": 500, "friend_points": 200, "minimum_purchase": {"IRR": "500"},
             "return_window_days": 14, "qualify_within_days": 30}  # fmt: skip
    club_terms = terms | {"referrer_points": 50, "friend_points": 20}
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": ["chain-1"]}
        assert (await c.put("/v1/loyalty-programs/hyper-club", json=club, headers=TOKEN)).status_code == 200
        assert (await c.put("/v1/referrals/program", json=terms, headers=TOKEN)).status_code == 200
        put = await c.put(
            "/v1/referrals/program", params={"program": "hyper-club"}, json=club_terms, headers=TOKEN
        )
        assert put.status_code == 200, put.text
        nowhere = await c.put(
            "/v1/referrals/program", params={"program": "nowhere"}, json=terms, headers=TOKEN
        )
        assert nowhere.status_code == 404
        code = (await c.post("/v1/members/ava/referral-code", headers=TOKEN)).json()["code"]
    joined = utcnow() - timedelta(days=20)
    enrolled = MemberEnrolled(member_id="ben", chain_id="chain-1", referral_code=code)
    await stack.produce(Topic.MEMBERS, [as_record(
        MEMBER_ENROLLED.envelope(key="ben", producer="test-pos", occurred_at=joined, payload=enrolled)
    )])  # fmt: skip
    counted = "SELECT count(*) FROM referrals WHERE friend_id = 'ben'"
    await eventually(lambda: _is(stack.scalar("points", counted), 2), what="ben's referral in both programs")
    await stack.produce(
        Topic.PURCHASES, [as_record(purchase("ben", "600", occurred_at=joined + timedelta(days=1)))]
    )
    await eventually(lambda: _is(_balances(points, "ben"), held(600, 600)), what="ben's purchase in both")

    await jobs_at(stack, utcnow())
    await jobs_at(stack, utcnow() + timedelta(hours=1))  # nothing twice
    assert await _balances(points, "ava") == held(50, 500)
    assert await _balances(points, "ben") == held(620, 800)
    async with points.client(timeout=30) as c:
        mine = (await c.get("/v1/members/ava/referrals", params={"program": "hyper-club"})).json()
        main_terms = (await c.get("/v1/referrals/program")).json()
    assert [(r["friend_id"], r["status"]) for r in mine["referred"]] == [("ben", "rewarded")]
    assert main_terms["referrer_points"] == 500
