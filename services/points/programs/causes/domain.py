"""Value-based program: members give points to causes the brand supports, and the brand may match."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal


def brand_match(points: int, ratio: Decimal, budget_left: int) -> int:
    """What the brand adds to a gift: ``ratio`` points per point given, rounded down, never past what
    is left of the match budget."""
    wanted = int((Decimal(points) * ratio).to_integral_value(ROUND_FLOOR))
    return max(0, min(wanted, budget_left))
