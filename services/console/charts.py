"""The geometry of the console's charts, drawn by the templates as SVG: every size and position is an
attribute worked out here, and every colour a class in the stylesheet (the Content-Security-Policy
refuses inline styles, so matplotlib's SVG, which styles each element inline, cannot be shown as is).
The figures themselves are analytics' (services/analytics/figures.py, read through its API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

# The plot area of a column chart, in SVG user units (the SVG scales to its box).
WIDTH, HEIGHT = 560.0, 180.0
# The four cells of the loyalty x profitability matrix, as the report draws them: rows high then low
# profitability, columns short-term then long-term loyalty.
MATRIX = (("butterflies", "true_friends"), ("strangers", "barnacles"))
# Shades of a cell, from the emptiest to the fullest (classes heat-0 .. heat-4).
SHADES = 5


@dataclass(frozen=True)
class Column:
    label: object  # a word key's end, or a date
    value: Decimal | int
    x: float
    y: float
    width: float
    height: float


def columns(
    values: Sequence[tuple[object, Decimal | int]], width: float = WIDTH, height: float = HEIGHT
) -> list[Column]:
    """One column per value, scaled so the largest fills the height (all flat when none is above 0)."""
    top = max((v for _, v in values), default=0) or 1
    slot = width / max(len(values), 1)
    gap = slot * 0.25
    drawn = []
    for i, (label, value) in enumerate(values):
        tall = float(max(value, 0) / top) * height if top > 0 else 0.0
        drawn.append(Column(label, value, i * slot + gap / 2, height - tall, slot - gap, tall))
    return drawn


def share(ratio: Decimal | str | None) -> float:
    """A ratio (0..1) as a length out of 100, kept inside the track."""
    if ratio is None:
        return 0.0
    return max(0.0, min(float(Decimal(ratio)) * 100, 100.0))


@dataclass(frozen=True)
class Cell:
    segment: str
    members: int
    shade: int
    row: int
    column: int


def matrix(counts: Mapping[str, int]) -> list[Cell]:
    fullest = max((counts.get(s, 0) for row in MATRIX for s in row), default=0) or 1
    return [
        Cell(segment, counts.get(segment, 0), round(counts.get(segment, 0) / fullest * (SHADES - 1)), r, c)
        for r, row in enumerate(MATRIX)
        for c, segment in enumerate(row)
    ]
