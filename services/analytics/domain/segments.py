"""Who the customers are, from their last twelve months (pure).

- The loyalty x profitability matrix: loyal when a customer buys at least as often as the median
  customer, profitable when their net spend is at least the median. True friends are both, butterflies
  profitable but not loyal, barnacles loyal but not profitable, strangers neither.
- RFM: recency, frequency and monetary value each scored 1-5 by quintile among the customers (equal
  values score the same), and a label from the scores.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

MATRIX = {
    (True, True): "true_friends",
    (False, True): "butterflies",
    (True, False): "barnacles",
    (False, False): "strangers",
}
LAPSED = "lapsed"  # no purchase in the window any more


@dataclass(frozen=True)
class Segment:
    segment: str
    rfm: str
    rfm_label: str


LAPSED_SEGMENT = Segment(LAPSED, "000", LAPSED)  # a member with a segment who is no customer any more


def _scores(values: Sequence[Any]) -> list[int]:
    ordered = sorted(values)
    return [1 + (5 * bisect_left(ordered, v)) // len(ordered) for v in values]


def rfm_label(r: int, f: int, m: int, purchases: int) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r <= 2 and f >= 3:
        return "at_risk"
    if f >= 4:
        return "loyal"
    if purchases == 1 and r >= 4:
        return "new"
    if r <= 2:
        return "hibernating"
    return "regular"


def segments(customers: Sequence[tuple[str, int, Decimal, datetime]]) -> dict[str, Segment]:
    """``customers``: (member, purchases, net spend, last purchase) over the window."""
    if not customers:
        return {}
    counts = [c[1] for c in customers]
    nets = [c[2] for c in customers]
    f_median, m_median = median(counts), median(nets)
    rs, fs, ms = _scores([c[3] for c in customers]), _scores(counts), _scores(nets)
    out = {}
    for i, (member, purchases, net, _) in enumerate(customers):
        value = MATRIX[(purchases >= f_median, net >= m_median)]
        out[member] = Segment(value, f"{rs[i]}{fs[i]}{ms[i]}", rfm_label(rs[i], fs[i], ms[i], purchases))
    return out
