"""The tier ladder and how members move on it: pure rules, no I/O, every moment passed in.

- Upgrade the moment a member's qualifying value (spend, points or visits over a rolling window,
  computed at the event's own time) reaches a higher tier's threshold.
- Downgrade only at review: the end of the member's qualification period plus a grace period, and by
  at most one tier (a soft landing), never below what they qualify for. A return lowers the qualifying
  value but cannot downgrade anyone on the spot.
- A paid VIP membership grants its tier for its term regardless of the value; when it ends the member
  falls back to what they qualify for.
- A member's history is ``replay``: every event they have, in event time, and the clock (reviews, the
  end of a membership) at the instants it strikes. Arrival order cannot change it; a late event only
  changes what comes after its own time, and ``diverge`` says from when.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import accumulate, groupby
from typing import Any, Literal, NamedTuple

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
    # Paid VIP membership is main's: main's ladder names the tier it grants, another program's none.
    vip_tier: str | None = Field(default=None, description="the tier a paid VIP membership grants (main's)")

    @model_validator(mode="after")
    def _ordered(self) -> Ladder:
        thresholds = [t.threshold for t in self.tiers]
        if thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tiers climb: the first threshold is 0 and each is higher than the last")
        if self.vip_tier is not None and self.vip_tier not in {t.name for t in self.tiers}:
            raise ValueError(f"vip_tier {self.vip_tier!r} is not on the ladder")
        return self

    # Looked up at every moment of every replay: built once, on first use. Cached properties live in the
    # instance's dict, read at plain attribute speed (pydantic's private attributes are not), and
    # pydantic leaves them out of equality and dumps; a copy builds its own (``model_copy``).
    @cached_property
    def _ranks(self) -> dict[str, int]:
        ranks: dict[str, int] = {}
        for i, t in enumerate(self.tiers):
            ranks.setdefault(t.name, i)  # the first of a name, as a search from the bottom finds
        return ranks

    @cached_property
    def _thresholds(self) -> list[Decimal]:
        return [t.threshold for t in self.tiers]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Ladder:
        copied = super().model_copy(update=update, deep=deep)
        for kept in ("_ranks", "_thresholds"):  # pydantic copies the instance's dict, lookups and all
            copied.__dict__.pop(kept, None)
        return copied

    @property
    def vip(self) -> str:
        """The tier a paid membership grants; only main's ladder has one (the settings check it)."""
        if self.vip_tier is None:
            raise ValueError("this ladder grants no tier for a paid membership")
        return self.vip_tier

    def rank(self, name: str) -> int:
        try:
            return self._ranks[name]
        except KeyError:
            raise ValueError(f"tier {name!r} is not on the ladder") from None

    def tier(self, name: str) -> Tier:
        return self.tiers[self.rank(name)]

    def qualified(self, value: Decimal) -> Tier:
        """The highest tier ``value`` reaches; the first tier for anything below 0 (more returned
        than bought in the window)."""
        return self.tiers[max(bisect_right(self._thresholds, value), 1) - 1]

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
    review_at: datetime | None = field(default=None, compare=False)  # of the standing it led to


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
    if ladder.rank(ladder.vip) <= ladder.rank(standing.tier):
        return standing, None
    change = Change(standing.tier, ladder.vip, "vip_started", at)
    return replace(standing, tier=ladder.vip, since=at), change


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


class Activity(NamedTuple):
    """One member's qualifying activity on one (UTC) day; with ``at``, one event's, which counts only
    from that instant on. A tuple: a batch reads each concerned member's whole history, a row each, and
    a frozen dataclass took three times as long to build (1.2 µs a row against 0.4)."""

    day: date
    spend: Decimal = Decimal(0)
    points: int = 0
    visits: int = 0
    at: datetime | None = None


def qualifying_value(
    ladder: Ladder, activity: list[Activity], at: datetime, *, at_review: bool = False
) -> Decimal:
    """The ladder's metric summed over the days of the window ending at ``at`` (event time, not
    arrival), or over the period a review at ``at`` looks back on: the first day is excluded, the
    day of ``at`` included."""
    start_, end = ladder.period_before(at) if at_review else ladder.window(at)
    inside = [a for a in activity if start_.date() < a.day <= end.date() and (a.at is None or a.at <= end)]
    if ladder.metric == "spend":
        return sum((a.spend for a in inside), Decimal(0))
    return Decimal(sum(a.points if ladder.metric == "points" else a.visits for a in inside))


@dataclass(frozen=True)
class Order:
    """A paid membership order (``vip.purchased``, ``vip.renewed`` or ``vip.cancelled``)."""

    at: datetime
    kind: Literal["purchased", "renewed", "cancelled"]
    plan: str
    term_months: int
    key: str = ""  # the event id: orders at the same instant are taken in a fixed order


@dataclass(frozen=True)
class Notice:
    """A membership moment the replay passed: started, renewed or ended (``key`` is the order's, or
    empty when the term ran out)."""

    kind: Literal["started", "renewed", "ended"]
    plan: str
    ends_at: datetime
    key: str


@dataclass(frozen=True)
class Checkpoint:
    """Where a member's replay can resume: their last instant with events (``at``), and the standing
    and plan just before it, the clock run to the instant before (``settled``), not beyond. A replay
    resumed here, given every event from ``at`` on and the activity from ``reads_from`` on, tells the
    changes after ``settled`` that a replay of the whole history tells; those up to ``settled`` stand as
    told. An event before ``at`` needs the whole history again.

    A member's history grows with every year they shop; a replay that resumes reads a window of it."""

    at: datetime
    settled: datetime
    standing: Standing
    plan: str = ""

    @property
    def _earliest(self) -> datetime:
        """The earliest instant a replay resumed here asks a value at: its own, or a review or a
        membership end still due from before it."""
        s = self.standing
        return min(self.at, s.review_at, s.vip_until or self.at)

    def reads_from(self, ladder: Ladder) -> datetime:
        """The earliest activity a replay resumed here can sum: the window of any moment from ``at`` on,
        and the periods of the reviews and the membership end the clock may still run from before
        ``at``. A week more than that, for the months' uneven lengths; reading more is harmless."""
        months = max(ladder.window_months, ladder.months_per_period)
        return add_months(self._earliest, -months) - timedelta(days=7)

    @property
    def daily_before(self) -> datetime:
        """Activity before this instant (the earliest a resumed replay asks a value at) can be read as a
        total a day (``by_day``): every value asked for from here on counts such a day whole or not at
        all, its window starting at a day's end and ending at or after this instant. So a member who
        buys a thousand times a day costs a row a day, their checkpoint's day too, not a thousand."""
        return self._earliest


def resume_point(
    latest: Checkpoint | None, earlier: Checkpoint | None, first: datetime | None
) -> tuple[Checkpoint | None, Checkpoint | None]:
    """Where a replay of events from ``first`` on resumes (``first`` None: the clock only), and the
    earlier checkpoint that stays true: the latest checkpoint not after ``first``; none (the whole
    history) when an event is before both. The earlier one, when it fell two LATEs behind the latest:
    a member whose events come in time order never replays the moments it could move to otherwise,
    and this replay moves it to about a LATE behind again (one replay of two days' moments a day)."""
    if latest is not None and (first is None or latest.at <= first):
        if earlier is None or earlier.at >= latest.at:
            return latest, None
        return (earlier, None) if earlier.at < latest.at - 2 * LATE else (latest, earlier)
    if earlier is not None and (first is None or earlier.at <= first):
        return earlier, None
    return None, None


def by_day(activity: Sequence[Activity], before: datetime) -> list[Activity]:
    """``activity`` before ``before`` summed into one a UTC day, at that day's last instant:
    what a replay resumed at a checkpoint needs of the past (``Checkpoint.daily_before``)."""
    days: dict[date, Activity] = {}
    out = []
    for a in activity:
        if a.at is None or a.at >= before:
            out.append(a)
        elif (kept := days.get(a.day)) is None:
            days[a.day] = a
        else:
            days[a.day] = Activity(
                a.day,
                kept.spend + a.spend,
                kept.points + a.points,
                kept.visits + a.visits,
                max(kept.at or a.at, a.at),
            )
    return sorted([*days.values(), *out], key=lambda a: (a.at is None, a.at or before))


# How far behind a member's last instant their earlier checkpoint is kept. Events arrive late by this
# much as a matter of course: tiers reads purchases and points from two topics, each at its own offset,
# and a consumer catching up takes each topic a fetch at a time (at a busy chain, hours of purchases);
# a till uploads after a short outage. Each such event would otherwise replay the member's whole
# history, which for a house card is thousands of purchases a day.
LATE = timedelta(days=1)


@dataclass
class Replay:
    standing: Standing | None = None
    changes: list[Change] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    values: _Values | None = None  # the replayed activity's, to ask for the value at an instant
    checkpoint: Checkpoint | None = None  # where the next replay can resume
    # Where a replay of an event before ``checkpoint`` can resume: the last checkpoint at least LATE
    # before it, else the oldest known.
    earlier: Checkpoint | None = None

    def value_at(self, at: datetime) -> Decimal:
        """``qualifying_value`` of the replayed activity at ``at``, by the replay's prefix sums."""
        return self.values.at(at) if self.values is not None else Decimal(0)


def replay(
    ladder: Ladder,
    activity: Sequence[Activity],
    orders: Sequence[Order],
    until: datetime,
    resume: Checkpoint | None = None,
    earlier: Checkpoint | None = None,
) -> Replay:
    """A member's tier history from all their events, in event time, with the clock run up to
    ``until`` (or to their last event, if later): the same events give the same history whatever
    order they arrived in. At one instant the clock strikes first, then activity, then orders.

    From ``resume``, when given: only the moments from its instant on are replayed, and the changes are
    those after its ``settled`` (the ones before stand as told). ``earlier``: a checkpoint before
    ``resume``, still true (no event before ``resume`` arrived), kept unless one LATE back is made."""
    values = _Values(ladder, activity)
    moments: list[tuple[datetime, int, str, Activity | Order]] = [(t, 0, "", a) for t, a in values.timed]
    moments += [(o.at, 1, f"{'prc'.index(o.kind[0])}{o.key}", o) for o in orders]
    moments.sort(key=lambda m: m[:3])
    out = Replay(values=values, earlier=earlier)
    plan = ""
    if resume is not None:
        moments = moments[bisect_left(moments, resume.at, key=lambda m: m[0]) :]
        out.standing, plan = resume.standing, resume.plan
    top = len(ladder.tiers) - 1
    last = resume.settled if resume is not None else None
    late = moments[-1][0] - LATE if moments else None
    for at, group in groupby(moments, key=lambda m: m[0]):
        items = [m[3] for m in group]
        if out.standing is not None and last is not None:
            out.checkpoint = Checkpoint(at, last, out.standing, plan)
            if out.earlier is None or (late is not None and at <= late):
                out.earlier = out.checkpoint
        last = at
        standing = out.standing or start(ladder, at)
        standing = _clock(ladder, standing, values, at, out, plan)
        # At the top of the ladder activity can lift no one: the value need not be summed.
        if ladder.rank(standing.tier) < top and any(isinstance(i, Activity) for i in items):
            standing, change = after_activity(ladder, standing, values.at(at), at)
            _note(out, change, standing)
        for order in (i for i in items if isinstance(i, Order)):
            plan = order.plan
            standing = _order(ladder, standing, values, order, out)
        out.standing = standing
    if out.standing is not None:
        out.standing = _clock(ladder, out.standing, values, until, out, plan)
    return out


def _note(out: Replay, change: Change | None, standing: Standing) -> None:
    if change is not None:
        out.changes.append(replace(change, review_at=standing.review_at))


class _Values:
    """Qualifying values of one member's events (each with ``at``) at any instant, by prefix sums:
    a replay asks at every event, so summing the window each time would be quadratic."""

    def __init__(self, ladder: Ladder, activity: Sequence[Activity]) -> None:
        self.ladder = ladder
        self.timed = sorted(((a.at, a) for a in activity if a.at is not None), key=lambda x: x[0])
        self.times = [t for t, _ in self.timed]
        self.days = [a.day for _, a in self.timed]
        metric = ladder.metric
        amounts = [
            a.spend if metric == "spend" else Decimal(a.points if metric == "points" else a.visits)
            for _, a in self.timed
        ]
        self.sums = [Decimal(0), *accumulate(amounts)]

    def at(self, at: datetime, *, at_review: bool = False) -> Decimal:
        """As ``qualifying_value``: the first day of the window excluded, up to ``at`` included."""
        start_, end = self.ladder.period_before(at) if at_review else self.ladder.window(at)
        first = bisect_right(self.days, start_.date())
        last = bisect_right(self.times, end)
        return self.sums[last] - self.sums[first] if last > first else Decimal(0)


def _clock(
    ladder: Ladder, standing: Standing, values: _Values, until: datetime, out: Replay, plan: str
) -> Standing:
    """The reviews and membership ends due up to ``until``, each at its own instant."""
    while True:
        review_due = standing.review_at + timedelta(days=ladder.grace_days)
        vip_due = standing.vip_until
        if vip_due is not None and vip_due <= min(review_due, until):
            standing, change = vip_ended(ladder, standing, values.at(vip_due), vip_due)
            out.notices.append(Notice("ended", plan, vip_due, ""))
        elif review_due <= until:
            value = values.at(standing.review_at, at_review=True)
            standing, change = review(ladder, standing, value, review_due)
        else:
            return standing
        _note(out, change, standing)


def _order(ladder: Ladder, standing: Standing, values: _Values, order: Order, out: Replay) -> Standing:
    at = order.at
    if order.kind == "cancelled":
        if standing.vip_until is None:
            return standing
        ended_at = min(at, standing.vip_until)
        standing, change = vip_ended(ladder, standing, values.at(at), at)
        _note(out, change, standing)
        out.notices.append(Notice("ended", order.plan, ended_at, order.key))
        return standing
    renewing = standing.vip_until is not None and standing.vip_until > at
    until = add_months(standing.vip_until if renewing and standing.vip_until else at, order.term_months)
    standing, change = vip_started(ladder, standing, until, at)
    _note(out, change, standing)
    out.notices.append(Notice("renewed" if renewing else "started", order.plan, until, order.key))
    return standing


def diverge(before: Sequence[Change], after: Sequence[Change]) -> datetime | None:
    """The first instant from which two histories differ, or None when ``before`` is a beginning of
    ``after`` (nothing said so far was wrong; ``after`` may only add to it)."""
    for old, new in zip(before, after, strict=False):
        if old != new:
            return min(old.at, new.at)
    if len(before) > len(after):
        return before[len(after)].at
    return None


def tier_at(ladder: Ladder, changes: Sequence[Change], at: datetime) -> str:
    """The tier a history says the member held at ``at``."""
    held = ladder.tiers[0].name
    for change in changes:
        if change.at > at:
            break
        held = change.to_tier
    return held


@dataclass(frozen=True)
class Announcement:
    """A change as ``tier.changed`` tells it. A correction (``corrects_from`` set) voids every change
    of a lower revision effective from that instant on; its first announcement may restate the tier
    held from then (``from_tier == to_tier``) when no change falls on that very instant."""

    change: Change
    revision: int
    corrects_from: datetime | None = None


def announce(
    ladder: Ladder,
    before: Sequence[Change],
    after: Sequence[Change],
    revision: int,
    restated: Sequence[datetime] = (),
) -> tuple[int, list[Announcement], list[datetime]]:
    """What to tell the others when the history ``before`` (already told, at ``revision``) becomes
    ``after``: the changes it adds, or, when it rewrites what was told, a correction from the first
    instant that differs (with the next revision).

    ``restated`` are the instants of restatements told earlier and not voided since: steps the others
    hold that no change of ``before`` shows. A change added at or before one of them would be
    overridden by it, so it is told as a correction too. Returns the revision, the announcements and
    the restatements that stand after them."""
    since = diverge(before, after)
    if since is None:
        added = after[len(before) :]
        if not added or not any(r >= added[0].at for r in restated):
            return revision, [Announcement(c, revision) for c in added], list(restated)
        since = added[0].at
    revision += 1
    fresh = [replace(c, reason="correction") for c in after if c.at >= since]
    standing = [r for r in restated if r < since]  # a correction voids what was told from ``since`` on
    if not fresh or fresh[0].at != since:
        held = tier_at(ladder, after, since)
        fresh.insert(0, Change(held, held, "correction", since))
        standing.append(since)
    return revision, [Announcement(c, revision, since) for c in fresh], standing
