"""A rule set's preview and a member's lots through the points API, against real Kafka and PostgreSQL:
the preview's figures equal those worked out here from the purchases sent, and changing nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.contracts import PURCHASE_RECORDED, LineItem, PurchaseRecorded
from shared.contracts.envelope import utcnow
from shared.topics import Topic
from tests.integration.test_points import floor, start
from tests.support import ServiceProcess, Stack, as_record, bearer, eventually, operator

ADMIN = bearer(operator("ada", "admin"))
RATE = Decimal("0.0001")
WELCOME = 50
RULES = {
    "effective_from": "2020-01-01T00:00:00+00:00",
    "base_rates": {"IRR": str(RATE)},
    "category_multipliers": {"grocery": "1.5"},
    "welcome_bonus": WELCOME,
}
# Each member's purchases: (days ago, [(category, amount)]).
BASKETS: dict[str, list[tuple[int, list[tuple[str, str]]]]] = {
    "pv-ali": [(5, [("grocery", "3000000"), ("dairy", "1000000")]), (2, [("grocery", "1200000")])],
    "pv-sara": [(4, [("dairy", "2500000")])],
    "pv-reza": [(3, [("grocery", "800000"), ("bakery", "150000")])],
}


def by_hand(lines: list[tuple[str, str]], grocery: Decimal, first: bool) -> int:
    """Base on every line, (m - 1) x base more on grocery lines, each part rounded down; the welcome
    bonus on the member's first purchase."""
    base = sum(Decimal(a) for _, a in lines) * RATE
    extra = sum(Decimal(a) for c, a in lines if c == "grocery") * RATE * (grocery - 1)
    return floor(base) + (floor(extra) if extra else 0) + (WELCOME if first else 0)


def sale(member: str, at: datetime, lines: list[tuple[str, str]]) -> Any:
    items = [
        LineItem(sku=f"{c}-1", category=c, quantity=Decimal(1), unit_price=Decimal(a), amount=Decimal(a))
        for c, a in lines
    ]
    payload = PurchaseRecorded(
        chain_id="chain-1", store_id="store-7", receipt_no=uuid.uuid4().hex[:10], member_id=member,
        currency="IRR", lines=items, total_amount=sum((i.amount for i in items), Decimal(0)),
    )  # fmt: skip
    return PURCHASE_RECORDED.envelope(key=member, producer="test-pos", occurred_at=at, payload=payload)


async def test_a_preview_replays_the_purchases_kept_and_lots_say_what_is_left_and_when_it_expires(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    points = await start(
        stack, services, log_dir, VAFA_POINTS_EXPIRY_MONTHS="6", VAFA_POINTS_PURCHASE_HISTORY_DAYS="30"
    )
    async with points.client(timeout=60) as client:
        assert (await client.post("/v1/rules", json=RULES, headers=ADMIN)).status_code == 201
        now = utcnow()
        sales = [
            sale(member, now - timedelta(days=days), lines)
            for member, baskets in BASKETS.items()
            for days, lines in baskets
        ]
        await stack.produce(Topic.PURCHASES, [as_record(s) for s in sales])

        async def settled() -> bool:
            return bool(await stack.scalar("points", "SELECT count(*) FROM purchase_history") == len(sales))

        await eventually(settled, what="every purchase earned and kept")

        now_points: dict[str, int] = {}
        candidate_points: dict[str, int] = {}
        for member, baskets in BASKETS.items():
            for n, (_, lines) in enumerate(sorted(baskets, reverse=True)):  # oldest first
                now_points[member] = now_points.get(member, 0) + by_hand(lines, Decimal("1.5"), n == 0)
                candidate_points[member] = candidate_points.get(member, 0) + by_hand(
                    lines, Decimal(3), n == 0
                )
        # What the ledger says they earned is what the rules say, by hand.
        for member, expected in now_points.items():
            assert (await client.get(f"/v1/members/{member}/balance")).json()["balance"] == expected

        candidate = {**RULES, "category_multipliers": {"grocery": "3"}}
        answer = await client.post("/v1/rules/preview", json={"rules": candidate, "days": 7}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["purchases"], found["members"]) == (len(sales), len(BASKETS))
        assert found["points_now"] == sum(now_points.values())
        assert found["points_candidate"] == sum(candidate_points.values())
        assert found["difference"] == found["points_candidate"] - found["points_now"] > 0
        # Sara bought no grocery: her points do not change, so she is not among those listed.
        changed = sorted(
            ((candidate_points[m] - now_points[m], m) for m in BASKETS if m != "pv-sara"), reverse=True
        )
        assert [(t["member_id"], t["now"], t["candidate"]) for t in found["top"]] == [
            (m, now_points[m], candidate_points[m]) for _, m in changed
        ]
        # A period given by its ends replays only what was made in it: Ali's of two days ago and Reza's.
        period = {"from": (now - timedelta(days=3, hours=12)).isoformat(), "to": now.isoformat()}
        recent = (
            await client.post("/v1/rules/preview", json={"rules": candidate, **period}, headers=ADMIN)
        ).json()
        ali_recent = by_hand(BASKETS["pv-ali"][1][1], Decimal(3), False)
        reza = by_hand(BASKETS["pv-reza"][0][1], Decimal(3), True)
        assert (recent["purchases"], recent["points_candidate"]) == (2, ali_recent + reza)
        # Nothing was published: the rule sets are as they were.
        assert len((await client.get("/v1/rules", headers=ADMIN)).json()["versions"]) == 1

        # Each refusal names its field: the candidate's, and a period older than the purchases kept.
        wrong = {**RULES, "category_multipliers": {"grocery": "500"}}
        refused = await client.post("/v1/rules/preview", json={"rules": wrong, "days": 7}, headers=ADMIN)
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["rules.category_multipliers.grocery"]
        too_old = await client.post("/v1/rules/preview", json={"rules": RULES, "days": 60}, headers=ADMIN)
        assert too_old.status_code == 422
        assert [(e["field"], e["rule"]) for e in too_old.json()["errors"]] == [("days", "before_history")]
        support = bearer(operator("sam", "support"))
        assert (
            await client.post("/v1/rules/preview", json={"rules": RULES, "days": 7}, headers=support)
        ).status_code == 403

        # Ali's lots: one per purchase, oldest first, expiring six months after each was earned; what
        # he spends comes out of the oldest.
        spend = {"request_id": str(uuid.uuid4()), "points": -100, "reason": "correction"}
        assert (
            await client.post("/v1/members/pv-ali/adjustments", json=spend, headers=ADMIN)
        ).status_code == 201
        lots = (await client.get("/v1/members/pv-ali/lots", headers=ADMIN)).json()["lots"]
        first, second = (
            by_hand(lines, Decimal("1.5"), n == 0) for n, (_, lines) in enumerate(BASKETS["pv-ali"])
        )
        assert [(lot["points"], lot["remaining"]) for lot in lots] == [(first, first - 100), (second, second)]
        for lot in lots:
            earned = datetime.fromisoformat(lot["earned_at"])
            expires = datetime.fromisoformat(lot["expires_at"])
            assert (expires.year * 12 + expires.month) - (earned.year * 12 + earned.month) == 6
        assert (await client.get("/v1/members/nobody/lots", headers=ADMIN)).status_code == 404
