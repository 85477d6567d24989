"""The tier a member held at an instant, from the ``tier.changed`` events the tiers service sent, and
what a purchase's earn must change by when that turns out different from what it earned with.

Each ``tier.changed`` is a step: the tier from ``effective_from`` on. A correction (``corrects_from``
with a higher ``revision``) voids the steps of lower revisions from that instant on, so the steps
known give the same answer whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.points.domain.wallet import points_to_reverse


@dataclass(frozen=True)
class Step:
    effective_from: datetime
    tier: str
    multiplier: Decimal
    revision: int = 0
    corrects_from: datetime | None = None
    seq: int = 0  # the order the tiers service told them in: breaks a tie at one instant


class Timeline:
    def __init__(self, steps: Sequence[Step]) -> None:
        corrections = [s for s in steps if s.corrects_from is not None]
        self.live = sorted(
            (
                s
                for s in steps
                if not any(
                    c.revision > s.revision
                    and c.corrects_from is not None
                    and c.corrects_from <= s.effective_from
                    for c in corrections
                )
            ),
            key=lambda s: (s.effective_from, s.revision, s.seq),
        )

    def step_before(self, at: datetime) -> Step | None:
        """The step in force just before ``at`` (None before the first)."""
        held = None
        for step in self.live:
            if step.effective_from >= at:
                break
            held = step
        return held

    def before(self, at: datetime) -> tuple[str | None, Decimal]:
        """The tier held just before ``at`` and its earn multiplier (none, x1, before the first step):
        a purchase earns with the tier it found, so the one that crosses a threshold earns at the old
        rate, and events arriving in time order need no correction."""
        step = self.step_before(at)
        return (None, Decimal(1)) if step is None else (step.tier, step.multiplier)


@dataclass(frozen=True)
class Correction:
    """How a purchase's points move when its tier line is corrected: ``earned`` on the earn, and
    ``reversed`` more taken back by the returns already made of it, as if it had earned right."""

    earned: int
    reversed: int

    @property
    def points(self) -> int:
        return self.earned - self.reversed


def correct(
    earned_line: int, right_line: int, earned: int, amount: Decimal, refunded: Decimal, reversed_: int
) -> Correction:
    """``earned``: what the purchase's earn counts now (returns take their share of it)."""
    delta = right_line - earned_line
    if delta == 0:
        return Correction(0, 0)
    due = points_to_reverse(earned + delta, amount, refunded, 0) if refunded else 0
    return Correction(delta, due - reversed_)
