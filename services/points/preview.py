"""A rule set's preview: had this candidate been in force over a period, what would the purchases made in
it have earned, against what they did earn. The backtest a marketer reads before publishing.

The purchases kept as they came (``purchase_history``) are replayed, oldest first, through the same
``evaluate`` a purchase goes through when it is processed, with the context the store knows now:

- the tier the member held just before the purchase, from the tier steps stored (corrections
  included), so the tier line is the one the purchase earns with today;
- the welcome bonus on the purchase that was the member's first credit ever;
- the cap per day, from what the replay itself gave the member earlier that local day.

What it leaves out, on both sides so the difference is the rule set's alone:

- partner campaigns: their points are funded by a partner within a budget, not given by the rule set;
  they are not replayed and the points they funded are taken out of what the purchases earned;
- targeted promotions (those with an ``audience``): who gets one is chosen by a job while it runs, so
  the replay gives them to nobody;
- returns: both figures are what the purchases earned, before any return took points back;
- the cap per day on the period's first day counts only what the period holds of that day, and
  purchases are replayed in the order they were made, not the order they were processed.

Pure: the caller reads the purchases and their context from the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.points.domain.rules import MemberContext, RuleSet, evaluate
from services.points.domain.tiering import Step, Timeline
from shared.contracts import PurchaseRecorded


@dataclass(frozen=True)
class Kept:
    """A purchase as it came, and when it was made."""

    event_id: uuid.UUID
    occurred_at: datetime
    purchase: PurchaseRecorded


@dataclass(frozen=True)
class Earned:
    """What a purchase's earn entry gave (tier corrections of it included), and of that what partner
    campaigns funded."""

    points: int
    partner_funded: int = 0

    @property
    def by_rules(self) -> int:
        return self.points - self.partner_funded


@dataclass(frozen=True)
class MemberFigures:
    member_id: str
    purchases: int
    now: int
    candidate: int

    @property
    def difference(self) -> int:
        return self.candidate - self.now


@dataclass(frozen=True)
class Preview:
    purchases: int
    members: int
    points_now: int
    points_candidate: int
    top: tuple[MemberFigures, ...]  # the members whose points change most, either way, most first

    @property
    def difference(self) -> int:
        return self.points_candidate - self.points_now


def preview(
    candidate: RuleSet,
    purchases: Sequence[Kept],
    earned: Mapping[uuid.UUID, Earned],
    tiers: Mapping[str, Sequence[Step]],
    first_credits: Collection[uuid.UUID],
    top: int = 10,
) -> Preview:
    """``earned``: each purchase's earn (a purchase without one earned nothing there, e.g. made after
    the program ended, and is left out); ``first_credits``: the purchases that were their member's
    first credit ever (they got the welcome bonus)."""
    timelines = {member: Timeline(steps) for member, steps in tiers.items()}
    no_tier = Timeline(())
    today: dict[tuple[str, date], int] = {}
    figures: dict[str, list[int]] = {}  # member -> [purchases, now, candidate]
    for kept in sorted(purchases, key=lambda k: (k.occurred_at, k.event_id)):
        actual = earned.get(kept.event_id)
        if actual is None:
            continue
        member = kept.purchase.member_id
        day = (member, kept.occurred_at.astimezone(ZoneInfo(kept.purchase.timezone)).date())
        tier, multiplier = timelines.get(member, no_tier).before(kept.occurred_at)
        context = MemberContext(
            first_purchase=kept.event_id in first_credits,
            earned_today=today.get(day, 0),
            tier=tier,
            tier_multiplier=multiplier,
        )
        points = evaluate(candidate, kept.purchase, kept.occurred_at, context).points
        today[day] = today.get(day, 0) + points
        row = figures.setdefault(member, [0, 0, 0])
        row[0] += 1
        row[1] += actual.by_rules
        row[2] += points
    members = [MemberFigures(m, n, now, cand) for m, (n, now, cand) in figures.items()]
    changed = [f for f in members if f.difference]
    ranked = sorted(changed, key=lambda f: (-abs(f.difference), f.member_id))
    return Preview(
        purchases=sum(f.purchases for f in members),
        members=len(members),
        points_now=sum(f.now for f in members),
        points_candidate=sum(f.candidate for f in members),
        top=tuple(ranked[:top]),
    )
