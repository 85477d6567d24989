from decimal import Decimal

import pytest

from services.points.domain import earn
from shared.contracts import PurchaseRecorded


def bought(amount: str, currency: str = "IRR") -> PurchaseRecorded:
    return PurchaseRecorded(
        chain_id="c",
        store_id="s",
        receipt_no="r",
        member_id="m",
        currency=currency,
        total_amount=Decimal(amount),
    )


@pytest.mark.parametrize(
    ("amount", "rate", "points"),
    [
        ("123.99", "1", 123),  # never a fraction of a point, never rounded up
        ("0.99", "1", 0),
        ("0", "1", 0),
        ("10.00", "2.5", 25),
        ("10.01", "0.1", 1),
        ("99999999999999.9999", "1", 99999999999999),  # no float drift on big receipts
    ],
)
def test_base_rate_rounds_down_to_whole_points(amount: str, rate: str, points: int) -> None:
    assert earn(bought(amount), Decimal(rate)).points == points


def test_earning_explains_which_rule_gave_the_points() -> None:
    earning = earn(bought("40.00", "EUR"), Decimal("3"))
    assert [(r.rule, r.points) for r in earning.rules] == [("base: 3 per EUR", 120)]
    assert sum(r.points for r in earning.rules) == earning.points
