"""A rule set's preview: the purchases kept, replayed through the rules engine, against what they earned.
Every expected figure is worked out here by hand from the baskets, not by the engine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.points.domain.rules import RuleSet
from services.points.domain.tiering import Step
from services.points.preview import Earned, Kept, MemberFigures, preview
from shared.contracts import LineItem, PurchaseRecorded

MONDAY_NOON = datetime(2026, 11, 16, 8, 30, tzinfo=UTC)  # 12:00 in Tehran


def rules(**change: Any) -> RuleSet:
    return RuleSet.model_validate(
        {"effective_from": "2026-01-01T00:00:00+00:00", "base_rates": {"IRR": "0.0001"}, **change}
    )


def kept(member: str, at: datetime, *lines: tuple[str, str]) -> Kept:
    """A purchase of ``(category, amount)`` lines."""
    items = [
        LineItem(sku=f"sku-{c}", category=c, quantity=Decimal(1), unit_price=Decimal(a), amount=Decimal(a))
        for c, a in lines
    ]
    purchase = PurchaseRecorded(
        chain_id="c", store_id="s1", receipt_no=uuid.uuid4().hex[:8], member_id=member, currency="IRR",
        lines=items, total_amount=sum((i.amount for i in items), Decimal(0)),
    )  # fmt: skip
    return Kept(uuid.uuid4(), at, purchase)


def test_doubling_a_category_multiplier_shows_who_would_earn_what_instead_of_what_they_did() -> None:
    # Ali: 3,000,000 IRR of grocery and 1,000,000 of dairy; Sara: 2,000,000 of dairy; Reza: 500,000 of
    # grocery. Today grocery is x1.5; the candidate doubles it.
    ali = kept("ali", MONDAY_NOON, ("grocery", "3000000"), ("dairy", "1000000"))
    sara = kept("sara", MONDAY_NOON + timedelta(hours=1), ("dairy", "2000000"))
    reza = kept("reza", MONDAY_NOON + timedelta(hours=2), ("grocery", "500000"))
    # What they earned under x1.5: ali 300 + 150 + 100 = 550, sara 200, reza 50 + 25 = 75.
    earned = {ali.event_id: Earned(550), sara.event_id: Earned(200), reza.event_id: Earned(75)}

    found = preview(rules(category_multipliers={"grocery": "2"}), [reza, sara, ali], earned, {}, ())

    # Under x2: ali 300 + 300 + 100 = 700, sara 200 (no grocery), reza 50 + 50 = 100.
    assert (found.purchases, found.members) == (3, 3)
    assert (found.points_now, found.points_candidate, found.difference) == (825, 1000, 175)
    # Sara's points do not change: she is not listed; the largest change comes first.
    assert found.top == (MemberFigures("ali", 1, 550, 700), MemberFigures("reza", 1, 75, 100))


def test_the_tier_held_just_before_each_purchase_earns_its_line() -> None:
    before, after = MONDAY_NOON - timedelta(days=1), MONDAY_NOON + timedelta(days=1)
    steps = {"ali": [Step(before, "gold", Decimal("1.5")), Step(after, "platinum", Decimal("2"))]}
    first = kept("ali", MONDAY_NOON, ("dairy", "1000000"))  # gold: 100 + 50
    second = kept("ali", after + timedelta(hours=1), ("dairy", "1000000"))  # platinum: 100 + 100
    earned = {first.event_id: Earned(150), second.event_id: Earned(200)}

    found = preview(rules(base_rates={"IRR": "0.0002"}), [first, second], earned, steps, ())

    # Twice the base rate: gold 200 + 100, platinum 200 + 200.
    assert (found.points_now, found.points_candidate) == (350, 700)
    assert found.top == (MemberFigures("ali", 2, 350, 700),)


def test_the_welcome_bonus_goes_to_the_members_first_credit_only() -> None:
    first = kept("ali", MONDAY_NOON, ("dairy", "1000000"))
    later = kept("ali", MONDAY_NOON + timedelta(days=2), ("dairy", "1000000"))
    returning = kept("sara", MONDAY_NOON, ("dairy", "1000000"))  # her first credit was before the period
    earned = {k.event_id: Earned(100) for k in (first, later, returning)}

    found = preview(rules(welcome_bonus=500), [first, later, returning], earned, {}, {first.event_id})

    assert (found.points_now, found.points_candidate) == (300, 800)
    assert found.top == (MemberFigures("ali", 2, 200, 700),)


def test_the_cap_per_day_counts_the_members_local_day() -> None:
    # 23:30 and 23:50 in Tehran on Monday, then 00:30 on Tuesday: 400 points each under the candidate.
    late = MONDAY_NOON.replace(hour=20, minute=0)
    a, b, c = (kept("ali", late + timedelta(minutes=m), ("dairy", "2000000")) for m in (0, 20, 60))
    earned = {k.event_id: Earned(200) for k in (a, b, c)}

    found = preview(rules(base_rates={"IRR": "0.0002"}, cap_per_day=600), [a, b, c], earned, {}, ())

    # Monday: 400, then 200 (the cap's room); Tuesday: 400 again.
    assert (found.points_now, found.points_candidate) == (600, 1000)


def test_partner_funded_points_and_purchases_that_earned_nothing_are_left_out() -> None:
    funded = kept("ali", MONDAY_NOON, ("dairy", "1000000"))
    after_the_end = kept("sara", MONDAY_NOON, ("dairy", "1000000"))  # no earn entry: left out
    # 100 by the rules and 40 a partner campaign paid for, which the replay does not give.
    earned = {funded.event_id: Earned(140, partner_funded=40)}

    found = preview(rules(), [funded, after_the_end], earned, {}, ())

    assert (found.purchases, found.members, found.points_now, found.points_candidate) == (1, 1, 100, 100)
    assert found.top == ()


def test_the_top_lists_the_largest_changes_either_way_up_to_its_length() -> None:
    # The candidate takes grocery's x3 away: the members who bought most grocery lose most.
    baskets = {"a": "1000000", "b": "3000000", "c": "2000000"}
    purchases = [kept(m, MONDAY_NOON, ("grocery", amount)) for m, amount in baskets.items()]
    earned = {
        k.event_id: Earned(int(Decimal(baskets[k.purchase.member_id]) * Decimal("0.0003"))) for k in purchases
    }

    found = preview(rules(), purchases, earned, {}, (), top=2)

    assert found.difference == -1200  # 600 points instead of 1,800
    assert found.top == (MemberFigures("b", 1, 900, 300), MemberFigures("c", 1, 600, 200))
