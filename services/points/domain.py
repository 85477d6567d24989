"""Earning rules: pure functions, no I/O. Money is Decimal; points are integers, rounded down."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from shared.contracts import PurchaseRecorded, RuleContribution


@dataclass(frozen=True)
class Earning:
    member_id: str
    points: int
    rules: tuple[RuleContribution, ...]


def earn(purchase: PurchaseRecorded, rate: Decimal) -> Earning:
    """The flat base rate: ``rate`` points per currency unit, never a fraction of a point."""
    points = int((purchase.total_amount * rate).to_integral_value(rounding=ROUND_FLOOR))
    return Earning(
        member_id=purchase.member_id,
        points=points,
        rules=(RuleContribution(rule=f"base: {rate} per {purchase.currency}", points=points),),
    )
