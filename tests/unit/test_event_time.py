"""Arrival order changes nothing: the same events, delivered in any order across batches, give the
same tier history and, once points has applied the corrections the tiers service sends, the same
points for every purchase as delivered in time order."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.points.domain.rules import RuleSet, tier_line
from services.points.domain.tiering import Step, Timeline, correct
from services.points.domain.wallet import points_to_reverse
from services.tiers.domain import (
    LATE,
    Activity,
    Announcement,
    Change,
    Checkpoint,
    Ladder,
    Order,
    Standing,
    announce,
    by_day,
    diverge,
    replay,
    resume_point,
    tier_at,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LADDER = Ladder.model_validate(
    {
        "metric": "spend",
        "window_months": 6,
        "grace_days": 10,
        "vip_tier": "Gold",
        "tiers": [
            {"name": "Bronze", "threshold": "0"},
            {"name": "Silver", "threshold": "1000", "benefits": {"earn_multiplier": "1.1"}},
            {"name": "Gold", "threshold": "3000", "benefits": {"earn_multiplier": "1.25"}},
            {"name": "Platinum", "threshold": "6000", "benefits": {"earn_multiplier": "1.5"}},
        ],
    }
)
RULES = RuleSet(effective_from=T0 - timedelta(days=1), base_rates={"IRR": Decimal("0.1")})


@dataclass(frozen=True)
class Sale:
    key: str
    at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    key: str
    at: datetime
    sale: str
    amount: Decimal


Event = Sale | Refund | Order
KINDS: list[Literal["purchased", "renewed", "cancelled"]] = ["purchased", "renewed", "cancelled"]


@st.composite
def streams(draw: st.DrawFn, days: int = 700, every: timedelta = timedelta(hours=12)) -> list[Event]:
    """A member's purchases (some partly or fully returned later) and paid-membership orders over
    ``days`` (two years), at instants ``every`` apart; several at the same instant now and then."""
    events: list[Event] = []
    for i in range(draw(st.integers(1, 14))):
        at = T0 + every * draw(st.integers(0, timedelta(days=days) // every))
        sale = Sale(f"s{i}", at, Decimal(draw(st.integers(1, 40)) * 100))
        events.append(sale)
        if draw(st.integers(0, 3)) == 0:
            back = Decimal(draw(st.integers(1, int(sale.amount) // 100)) * 100)
            events.append(Refund(f"r{i}", at + timedelta(days=draw(st.integers(0, 60))), sale.key, back))
    for j in range(draw(st.integers(0, 2))):
        at = T0 + timedelta(days=draw(st.integers(0, days)))
        kind = draw(st.sampled_from(KINDS))
        events.append(Order(at, kind, "vip", draw(st.integers(1, 6)), f"o{j}"))
    return events


def _activity(events: Sequence[Event]) -> list[Activity]:
    sales = {e.key: e for e in events if isinstance(e, Sale)}
    out = [Activity(e.at.date(), spend=e.amount, visits=1, at=e.at) for e in sales.values()]
    out += [Activity(e.at.date(), spend=-e.amount, at=e.at) for e in events if isinstance(e, Refund)]
    return out


def _horizon(events: Sequence[Event]) -> datetime:
    return max(e.at for e in events)


@dataclass
class TiersService:
    """What the tiers service does with each batch: keep, replay, announce the difference. With
    ``resuming``, as the service does: a batch resumes at the latest checkpoint none of its events is
    before (the last, or the earlier one), reading only the activity the checkpoint says; any other
    replays everything."""

    known: list[Event] = field(default_factory=list)
    told: list[Change] = field(default_factory=list)
    revision: int = 0
    restated: list[datetime] = field(default_factory=list)
    said: list[Announcement] = field(default_factory=list)
    resuming: bool = False
    ladder: Ladder = LADDER
    checkpoint: Checkpoint | None = None
    earlier: Checkpoint | None = None
    standing: Standing | None = None
    resumed: int = 0
    resumed_earlier: int = 0

    def batch(self, events: Sequence[Event]) -> list[Announcement]:
        self.known += events
        orders = [e for e in self.known if isinstance(e, Order)]
        resume, earlier = (
            resume_point(self.checkpoint, self.earlier, min(e.at for e in events))
            if self.resuming
            else (None, None)
        )
        activity = _activity(self.known)
        if resume is not None:
            activity = [a for a in activity if a.at is not None and a.at >= resume.reads_from(self.ladder)]
            activity = by_day(activity, resume.daily_before)  # as the store reads it
            self.resumed += 1
            self.resumed_earlier += resume is not self.checkpoint
        replayed = replay(self.ladder, activity, orders, _horizon(self.known), resume, earlier)
        kept = [c for c in self.told if c.at <= resume.settled] if resume is not None else []
        after = kept + replayed.changes
        self.revision, said, self.restated = announce(
            self.ladder, self.told, after, self.revision, self.restated
        )
        self.told, self.standing = after, replayed.standing
        self.checkpoint, self.earlier = replayed.checkpoint, replayed.earlier
        self.said += said
        return said


def _batches(events: Sequence[Event], seed: int) -> list[list[Event]]:
    """``events`` shuffled and cut into batches of random sizes."""
    rnd = random.Random(seed)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.sample(range(1, len(shuffled)), min(3, len(shuffled) - 1))) if len(shuffled) > 1 else []
    return [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]


def _in_time_order(events: Sequence[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at, isinstance(e, Refund), e.key))


@settings(max_examples=150, deadline=None)
@given(streams(), st.integers(0, 2**32))
def test_a_tier_history_is_the_same_whatever_order_its_events_arrive_in(
    events: list[Event], seed: int
) -> None:
    in_order = TiersService()
    for event in _in_time_order(events):
        in_order.batch([event])
    shuffled = TiersService()
    for batch in _batches(events, seed):
        shuffled.batch(batch)
    assert [(c.from_tier, c.to_tier, c.reason, c.at) for c in shuffled.told] == [
        (c.from_tier, c.to_tier, c.reason, c.at) for c in in_order.told
    ]
    # In time order nothing is ever corrected (unless two events share an instant) ...
    if len({e.at for e in events}) == len(events):
        assert all(a.corrects_from is None for a in in_order.said)
    # ... and what was told out of order, corrections applied, says the same tier at every instant.
    told = Timeline(_steps(shuffled.said))
    for at in {e.at for e in events} | {c.at for c in in_order.told}:
        for instant in (at, at + timedelta(seconds=1)):
            held = told.before(instant)[0] or LADDER.tiers[0].name
            assert held == tier_at(LADDER, in_order.told, instant - timedelta(microseconds=1))


# The calendar year's windows and periods, a longer grace: what a checkpoint reads differs.
CALENDAR = LADDER.model_copy(update={"period": "calendar_year", "grace_days": 45})


@settings(max_examples=200, deadline=None)
@given(streams(), st.integers(0, 2**32), st.booleans(), st.sampled_from([LADDER, CALENDAR]))
def test_a_replay_resumed_at_a_checkpoint_tells_what_the_whole_history_tells(
    events: list[Event], seed: int, in_time: bool, ladder: Ladder
) -> None:
    _resumed_tells_what_the_whole_tells(events, seed, in_time, ladder)


def _resumed_tells_what_the_whole_tells(
    events: list[Event], seed: int, in_time: bool, ladder: Ladder
) -> None:
    batches = [[e] for e in _in_time_order(events)] if in_time else _batches(events, seed)
    whole, resumed = TiersService(ladder=ladder), TiersService(resuming=True, ladder=ladder)
    for batch in batches:
        assert resumed.batch(batch) == whole.batch(batch)
        assert resumed.standing == whole.standing and resumed.told == whole.told
    # In time order, from the third instant on every batch resumes (no event before the checkpoint).
    if in_time and len({e.at for e in events}) > 2:
        assert resumed.resumed >= 1


# A month's window and two days' grace over ten weeks of purchases minutes apart: several a day, and
# reviews and membership ends due between them, so what a resumed replay reads a total a day is tried
# within the day of its earliest instant too.
MONTHLY = LADDER.model_copy(update={"window_months": 1, "grace_days": 2})


@settings(max_examples=200, deadline=None)
@given(streams(days=70, every=timedelta(minutes=10)), st.integers(0, 2**32), st.booleans())
def test_a_busy_members_resumed_replay_tells_what_the_whole_history_tells(
    events: list[Event], seed: int, in_time: bool
) -> None:
    _resumed_tells_what_the_whole_tells(events, seed, in_time, MONTHLY)


def test_an_event_late_by_less_than_a_day_resumes_at_the_earlier_checkpoint() -> None:
    """Purchases every ten minutes for three days, then ones 5 hours and 30 hours late: the first
    resumes at the checkpoint kept a day back, the second (before it) replays everything; both tell
    what the whole history tells."""
    sales = [Sale(f"s{i}", T0 + timedelta(minutes=10 * i), Decimal(30)) for i in range(3 * 144)]
    whole, resumed = TiersService(), TiersService(resuming=True)
    for sale in sales:
        assert resumed.batch([sale]) == whole.batch([sale])
    assert resumed.checkpoint is not None and resumed.earlier is not None
    assert resumed.checkpoint.at - 2 * LATE <= resumed.earlier.at <= resumed.checkpoint.at - LATE
    last = sales[-1].at
    for late in (Sale("late", last - timedelta(hours=5), Decimal(900)),
                 Sale("later", last - timedelta(hours=30), Decimal(900))):  # fmt: skip
        resumed_before, earlier_before = resumed.resumed, resumed.resumed_earlier
        assert resumed.batch([late]) == whole.batch([late])
        assert resumed.standing == whole.standing and resumed.told == whole.told
        if late.key == "late":
            assert (resumed.resumed, resumed.resumed_earlier) == (resumed_before + 1, earlier_before + 1)
        else:
            assert resumed.resumed == resumed_before  # the whole history again
    # The earlier checkpoint is a day behind the last instant again, not where the replay began.
    assert resumed.earlier is not None and resumed.earlier.at <= last - LATE


def test_resume_point_takes_the_latest_checkpoint_no_event_is_before() -> None:
    standing = Standing("Bronze", T0, T0 + timedelta(days=180))
    stale, early, late = (Checkpoint(T0 + timedelta(hours=h), T0, standing) for h in (23, 24, 72))
    assert resume_point(late, early, T0 + timedelta(days=3)) == (late, early)
    # Two days behind the latest, the earlier checkpoint is replayed from, to move it up.
    assert resume_point(late, stale, T0 + timedelta(days=3)) == (stale, None)
    assert resume_point(late, early, None) == (late, early)  # the clock alone
    assert resume_point(late, early, T0 + timedelta(days=2)) == (early, None)
    assert resume_point(late, early, T0) == (None, None)
    assert resume_point(late, None, T0 + timedelta(days=2)) == (None, None)
    assert resume_point(None, None, T0) == (None, None)


def test_a_checkpoint_reads_the_window_and_the_reviews_still_due_not_the_whole_history() -> None:
    sales = [Sale(f"s{i}", T0 + timedelta(days=30 * i), Decimal(400)) for i in range(36)]  # three years
    tiers = TiersService(resuming=True)
    for sale in sales:
        tiers.batch([sale])
    assert tiers.checkpoint is not None and tiers.resumed == len(sales) - 2  # none before the second
    # Six months' window, ten days' grace: about seven months back from the last sale, not three years.
    reads_from = tiers.checkpoint.reads_from(LADDER)
    assert sales[-1].at - timedelta(days=230) < reads_from < sales[-1].at - timedelta(days=180)
    whole = replay(LADDER, _activity(sales), [], sales[-1].at)
    assert tiers.standing == whole.standing and tiers.told == whole.changes


def test_a_resumed_replay_reads_the_day_of_a_review_still_due_event_by_event() -> None:
    """Silver from a sale at T0, reviewed six months on (10:00) with ten days' grace. That day a sale
    at 08:00 counts at the review and one at 20:00 does not: read as one total a day, the review would
    see both or neither. The batch after the grace resumes at a checkpoint days later."""
    review = datetime(2025, 7, 1, 10, tzinfo=UTC)  # T0 is 1 January, 00:00
    sales = [
        Sale("joined", T0 + timedelta(hours=10), Decimal(1500)),
        Sale("before", review - timedelta(hours=2), Decimal(1000)),
        Sale("after", review + timedelta(hours=10), Decimal(500)),
        Sale("later", review + timedelta(days=4), Decimal(100)),
        Sale("past the grace", review + timedelta(days=14), Decimal(100)),
    ]
    whole, resumed = TiersService(), TiersService(resuming=True)
    for sale in sales:
        assert resumed.batch([sale]) == whole.batch([sale])
    assert resumed.resumed >= 2
    assert resumed.standing == whole.standing and resumed.told == whole.told
    assert whole.standing is not None and whole.standing.tier == "Silver"  # the 1,000 before 10:00 kept it


def _steps(said: Sequence[Announcement]) -> list[Step]:
    return [
        Step(
            a.change.at,
            a.change.to_tier,
            LADDER.tier(a.change.to_tier).benefits.earn_multiplier,
            a.revision,
            a.corrects_from,
            seq,
        )
        for seq, a in enumerate(said)
    ]


@dataclass
class Earn:
    at: datetime
    amount: Decimal
    line: int
    points: int
    reversed: int = 0
    refunded: Decimal = Decimal(0)


@dataclass
class PointsService:
    """What the points service does: earn with the tier known for the purchase's instant, take back
    in proportion on a return, and correct earns when the tier steps it knows change."""

    steps: list[Step] = field(default_factory=list)
    earns: dict[str, Earn] = field(default_factory=dict)
    balance: int = 0

    def apply(self, item: Event | Announcement) -> None:
        if isinstance(item, Announcement):
            a = item.change
            multiplier = LADDER.tier(a.to_tier).benefits.earn_multiplier
            self.steps.append(
                Step(a.at, a.to_tier, multiplier, item.revision, item.corrects_from, len(self.steps))
            )
            timeline = Timeline(self.steps)
            for earn in self.earns.values():
                right = _line(timeline, earn.at, earn.amount)
                fix = correct(earn.line, right, earn.points, earn.amount, earn.refunded, earn.reversed)
                earn.line, earn.points, earn.reversed = (
                    right,
                    earn.points + fix.earned,
                    earn.reversed + fix.reversed,
                )
                self.balance += fix.points
        elif isinstance(item, Sale):
            line = _line(Timeline(self.steps), item.at, item.amount)
            points = RULES.round(item.amount * Decimal("0.1")) + line
            self.earns[item.key] = Earn(item.at, item.amount, line, points)
            self.balance += points
        elif isinstance(item, Refund):
            earn = self.earns[item.sale]
            earn.refunded += item.amount
            back = points_to_reverse(earn.points, earn.amount, earn.refunded, earn.reversed)
            earn.reversed += back
            self.balance -= back


def _line(timeline: Timeline, at: datetime, amount: Decimal) -> int:
    tier, multiplier = timeline.before(at)
    line = tier_line(RULES, tier, multiplier, amount * Decimal("0.1"))
    return line.points if line else 0


def _points_for(batches: Sequence[Sequence[Event]], seed: int) -> PointsService:
    """Tiers gets the batches; points gets the purchases and returns in the same order (a return
    always after its purchase: ingest accepts it only then, on the member's one partition) and what
    tiers told, interleaved at random."""
    tiers, points = TiersService(), PointsService()
    rnd = random.Random(seed)
    waiting: list[Announcement] = []
    for batch in batches:
        for event in batch:
            while waiting and rnd.random() < 0.5:
                points.apply(waiting.pop(0))
            if not isinstance(event, Order):
                points.apply(event)
        waiting += tiers.batch(batch)
    for announcement in waiting:
        points.apply(announcement)
    return points


def _causal(events: Sequence[Event], seed: int) -> list[list[Event]]:
    """Shuffled batches in which each return comes after its purchase."""
    batches = _batches(events, seed)
    flat = [e for b in batches for e in b]
    position = {e.key: i for i, e in enumerate(flat)}
    ordered = sorted(
        flat,
        key=lambda e: (
            max(position[e.key], position[e.sale] + 0.5) if isinstance(e, Refund) else position[e.key]
        ),
    )
    sizes = [len(b) for b in batches]
    out, i = [], 0
    for n in sizes:
        out.append(ordered[i : i + n])
        i += n
    return out


@settings(max_examples=150, deadline=None)
@given(streams(), st.integers(0, 2**32))
def test_points_earned_after_corrections_are_the_same_whatever_the_arrival_order(
    events: list[Event], seed: int
) -> None:
    in_order = _points_for([[e] for e in _in_time_order(events)], seed)
    shuffled = _points_for(_causal(events, seed), seed)
    assert {k: (e.points, e.reversed) for k, e in shuffled.earns.items()} == {
        k: (e.points, e.reversed) for k, e in in_order.earns.items()
    }
    assert shuffled.balance == in_order.balance
    # A tier.changed delivered again (a redrive past the inbox) corrects nothing twice.
    for step in list(shuffled.steps):
        shuffled.apply(Announcement(Change(None, step.tier, "again", step.effective_from), step.revision,
                                    step.corrects_from))  # fmt: skip
    assert shuffled.balance == in_order.balance


def test_a_late_purchase_moves_the_upgrade_to_its_own_time_and_says_so() -> None:
    early, late = Sale("a", T0, Decimal(600)), Sale("b", T0 + timedelta(days=60), Decimal(600))
    tiers = TiersService()
    tiers.batch([late])
    assert tiers.told == []
    said = tiers.batch([Sale("c", T0 + timedelta(days=30), Decimal(500)), early])
    assert [(a.change.to_tier, a.change.at, a.corrects_from) for a in said] == [
        ("Silver", T0 + timedelta(days=30), None)
    ]
    # A return dated before the crossing undoes it: the correction restates Bronze from then on.
    said = tiers.batch([Refund("r", T0 + timedelta(days=1), "a", Decimal(600))])
    first = said[0]
    assert (first.change.from_tier, first.change.to_tier, first.change.reason) == (
        "Bronze",
        "Bronze",
        "correction",
    )
    assert first.corrects_from == T0 + timedelta(days=30) and first.revision == 1
    assert [(c.to_tier, c.at) for c in tiers.told] == [("Silver", T0 + timedelta(days=60))]
    assert diverge(tiers.told, tiers.told) is None
