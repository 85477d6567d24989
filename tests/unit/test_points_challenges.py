"""Challenges: marks per purchase, and the badge exactly when the target is first reached."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.points.programs.challenges.domain import Challenge, advance, marks, period_of
from shared.contracts import LineItem, PurchaseRecorded


def basket(*categories: str) -> PurchaseRecorded:
    lines = [
        LineItem(sku=f"s-{c}", category=c, quantity=Decimal(1), unit_price=Decimal(10), amount=Decimal(10))
        for c in categories
    ]
    return PurchaseRecorded(
        chain_id="c", store_id="s", receipt_no="r", member_id="m", currency="IRR", lines=lines,
        total_amount=Decimal(10 * len(categories)),
    )  # fmt: skip


def test_visits_count_days_and_the_badge_comes_once_at_the_target() -> None:
    visits = Challenge(name="5 visits", kind="visits", target=3)
    seen: set[str] = set()
    reached = []
    for day in (
        date(2026, 11, 1),
        date(2026, 11, 1),
        date(2026, 11, 2),
        date(2026, 11, 5),
        date(2026, 11, 9),
    ):
        seen, now_reached = advance(visits, seen, marks(visits, basket("bread"), day))
        reached.append(now_reached)
    assert reached == [False, False, False, True, False] and len(seen) == 4
    assert period_of(date(2026, 11, 30)) == "2026-11"


def test_categories_count_what_was_bought() -> None:
    tasting = Challenge(name="try 3 categories", kind="categories", target=3)
    seen, reached = advance(tasting, set(), marks(tasting, basket("bread", "dairy"), date(2026, 11, 1)))
    assert (seen, reached) == ({"bread", "dairy"}, False)
    seen, reached = advance(tasting, seen, marks(tasting, basket("dairy", "fruit"), date(2026, 11, 2)))
    assert (len(seen), reached) == (3, True)
