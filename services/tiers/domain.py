"""The tier ladder and how members move on it: pure rules, no I/O, every moment passed in.

- Upgrade the moment a member's qualifying value (spend, points or visits over a rolling window,
  computed at the event's own time) reaches a higher tier's threshold.
- Downgrade only at review: the end of the member's qualification period plus a grace period, and by
  at most one tier (a soft landing), never below what they qualify for. A return lowers the qualifying
  value but cannot downgrade anyone on the spot.
- A paid VIP membership grants its tier for its term regardless of the value; when it ends the member
  falls back to what they qualify for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import TierBenefits
from shared.dates import add_months


class Tier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    threshold: Decimal = Field(ge=0, description="qualifying value over the window to reach this tier")
    benefits: TierBenefits = TierBenefits()


class Ladder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Literal["spend", "points", "visits"] = "spend"
    currency: str = "IRR"  # spend in other currencies does not qualify
    # rolling: the last window_months; calendar_year: the year so far, and a tier earned in a year is
    # kept through the next one.
    period: Literal["rolling", "calendar_year"] = "rolling"
    window_months: int = Field(default=12, ge=1, le=36)
    grace_days: int = Field(default=30, ge=0, le=365)
    nudge_within: Decimal = Field(
        default=Decimal("0.1"), gt=0, le=1, description="nudge when this share of the next threshold is left"
    )
    tiers: list[Tier] = Field(min_length=1)
    vip_tier: str

    @model_validator(mode="after")
    def _ordered(self) -> Ladder:
        thresholds = [t.threshold for t in self.tiers]
        if thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tiers climb: the first threshold is 0 and each is higher than the last")
        if self.vip_tier not in {t.name for t in self.tiers}:
            raise ValueError(f"vip_tier {self.vip_tier!r} is not on the ladder")
        return self

    def rank(self, name: str) -> int:
        return next(i for i, t in enumerate(self.tiers) if t.name == name)

    def tier(self, name: str) -> Tier:
        return self.tiers[self.rank(name)]

    def qualified(self, value: Decimal) -> Tier:
        """The highest tier ``value`` reaches; the first tier for anything below 0 (more returned
        than bought in the window)."""
        return [t for t in self.tiers if t.threshold <= max(value, Decimal(0))][-1]

    def qualifying_spend(self, currency: str, amount: Decimal) -> Decimal:
        """Spend counts in the ladder's currency only; other currencies do not qualify."""
        return amount if currency == self.currency else Decimal(0)

    def window(self, until: datetime) -> tuple[datetime, datetime]:
        """The qualification window ending at ``until`` (exclusive start, inclusive end)."""
        if self.period == "calendar_year":
            new_year = until.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            return new_year - timedelta(microseconds=1), until
        return add_months(until, -self.window_months), until

    def period_before(self, end: datetime) -> tuple[datetime, datetime]:
        """The qualification period a review at ``end`` looks back on."""
        return add_months(end, -self.months_per_period), end

    @property
    def months_per_period(self) -> int:
        return 12 if self.period == "calendar_year" else self.window_months

    def review_after(self, at: datetime) -> datetime:
        """When a tier reached at ``at`` is first reviewed."""
        if self.period == "calendar_year":
            return at.replace(year=at.year + 2, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return add_months(at, self.window_months)


@dataclass(frozen=True)
class Standing:
    tier: str
    since: datetime
    review_at: datetime  # end of the qualification period; the downgrade review is grace_days later
    vip_until: datetime | None = None
    nudged_for: str | None = None  # the next tier a progress nudge was already sent for


@dataclass(frozen=True)
class Change:
    from_tier: str | None
    to_tier: str
    reason: str
    at: datetime


def start(ladder: Ladder, at: datetime) -> Standing:
    return Standing(ladder.tiers[0].name, at, ladder.review_after(at))


def _vip_active(standing: Standing, at: datetime) -> bool:
    return standing.vip_until is not None and at < standing.vip_until


def after_activity(
    ladder: Ladder, standing: Standing, value: Decimal, at: datetime
) -> tuple[Standing, Change | None]:
    """Qualifying value ``value`` at event time ``at``: upgrade at once if it reaches higher."""
    qualified = ladder.qualified(value)
    if ladder.rank(qualified.name) <= ladder.rank(standing.tier):
        return standing, None
    change = Change(standing.tier, qualified.name, "qualified", at)
    return replace(standing, tier=qualified.name, since=at, review_at=ladder.review_after(at)), change


def review(
    ladder: Ladder, standing: Standing, value_at_period_end: Decimal, now: datetime
) -> tuple[Standing, Change | None]:
    """At the end of the period plus grace: keep the tier for another period if still qualified
    (or a VIP), else step down one tier, no lower than what the member qualifies for."""
    if now < standing.review_at + timedelta(days=ladder.grace_days):
        return standing, None
    next_period = replace(standing, review_at=add_months(standing.review_at, ladder.months_per_period))
    qualified = ladder.qualified(value_at_period_end)
    current = ladder.rank(standing.tier)
    if _vip_active(standing, now) or ladder.rank(qualified.name) >= current or current == 0:
        return next_period, None
    lower = ladder.tiers[max(current - 1, ladder.rank(qualified.name))].name
    return replace(next_period, tier=lower, since=now), Change(standing.tier, lower, "period_end", now)


def vip_started(
    ladder: Ladder, standing: Standing, until: datetime, at: datetime
) -> tuple[Standing, Change | None]:
    standing = replace(standing, vip_until=until)
    if ladder.rank(ladder.vip_tier) <= ladder.rank(standing.tier):
        return standing, None
    change = Change(standing.tier, ladder.vip_tier, "vip_started", at)
    return replace(standing, tier=ladder.vip_tier, since=at), change


def vip_ended(
    ladder: Ladder, standing: Standing, value: Decimal, at: datetime
) -> tuple[Standing, Change | None]:
    """The term is over: back to what the member qualifies for now (if that is lower)."""
    standing = replace(standing, vip_until=None)
    qualified = ladder.qualified(value)
    if ladder.rank(qualified.name) >= ladder.rank(standing.tier):
        return standing, None
    change = Change(standing.tier, qualified.name, "vip_ended", at)
    return replace(standing, tier=qualified.name, since=at, review_at=ladder.review_after(at)), change


def nudge(ladder: Ladder, standing: Standing, value: Decimal) -> tuple[Standing, tuple[str, Decimal] | None]:
    """(next tier, what is left) when the member is within reach of it and was not nudged for it."""
    rank = ladder.rank(standing.tier)
    if rank + 1 >= len(ladder.tiers):
        return standing, None
    target = ladder.tiers[rank + 1]
    left = target.threshold - value
    if left <= 0 or left > target.threshold * ladder.nudge_within or standing.nudged_for == target.name:
        return standing, None
    return replace(standing, nudged_for=target.name), (target.name, left)


@dataclass(frozen=True)
class Activity:
    """One member's qualifying activity on one (UTC) day."""

    day: date
    spend: Decimal = Decimal(0)
    points: int = 0
    visits: int = 0


def qualifying_value(
    ladder: Ladder, activity: list[Activity], at: datetime, *, at_review: bool = False
) -> Decimal:
    """The ladder's metric summed over the days of the window ending at ``at`` (event time, not
    arrival), or over the period a review at ``at`` looks back on: the first day is excluded, the
    day of ``at`` included."""
    start_, end = ladder.period_before(at) if at_review else ladder.window(at)
    inside = [a for a in activity if start_.date() < a.day <= end.date()]
    if ladder.metric == "spend":
        return sum((a.spend for a in inside), Decimal(0))
    return Decimal(sum(a.points if ladder.metric == "points" else a.visits for a in inside))
