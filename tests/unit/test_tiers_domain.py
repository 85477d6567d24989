"""The ladder's rules with a controllable clock: upgrades at once, soft landings at review."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.tiers.domain import (
    Activity,
    Ladder,
    Order,
    Tier,
    after_activity,
    nudge,
    qualifying_value,
    replay,
    review,
    start,
    vip_ended,
    vip_started,
)
from shared.dates import add_months

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LADDER = Ladder.model_validate(
    {
        "metric": "spend",
        "window_months": 12,
        "grace_days": 30,
        "tiers": [
            {"name": "Bronze", "threshold": "0"},
            {"name": "Silver", "threshold": "1000"},
            {
                "name": "Gold",
                "threshold": "5000",
                "benefits": {"earn_multiplier": "1.25", "perks": ["lounge"]},
            },
            {"name": "Platinum", "threshold": "20000"},
        ],
        "vip_tier": "Gold",
    }
)


def test_a_member_is_upgraded_the_moment_they_cross_a_threshold_even_skipping_tiers() -> None:
    standing = start(LADDER, T0)
    standing, change = after_activity(LADDER, standing, Decimal(999), T0)
    assert change is None and standing.tier == "Bronze"
    standing, change = after_activity(LADDER, standing, Decimal(6000), T0 + timedelta(days=3))
    assert change is not None and (change.from_tier, change.to_tier, change.reason) == (
        "Bronze",
        "Gold",
        "qualified",
    )
    assert standing.review_at == datetime(2027, 1, 13, 12, 0, tzinfo=UTC)


def test_lower_value_never_downgrades_before_the_review_and_grace() -> None:
    standing, _ = after_activity(LADDER, start(LADDER, T0), Decimal(6000), T0)
    # A return brings the value down the same day: no change until review + grace.
    standing, change = after_activity(LADDER, standing, Decimal(100), T0)
    assert change is None and standing.tier == "Gold"
    same, change = review(LADDER, standing, Decimal(100), standing.review_at + timedelta(days=29))
    assert change is None and same == standing


def test_at_review_a_member_drops_at_most_one_tier() -> None:
    standing, _ = after_activity(LADDER, start(LADDER, T0), Decimal(25000), T0)
    assert standing.tier == "Platinum"
    at = standing.review_at + timedelta(days=30)
    standing, change = review(LADDER, standing, Decimal(0), at)
    assert change is not None and (change.from_tier, change.to_tier, change.reason) == (
        "Platinum",
        "Gold",
        "period_end",
    )
    standing, change = review(LADDER, standing, Decimal(0), standing.review_at + timedelta(days=30))
    assert change is not None and change.to_tier == "Silver"


def test_more_returned_than_bought_in_the_window_is_the_first_tier() -> None:
    assert LADDER.qualified(Decimal(-500)).name == "Bronze"


def test_a_member_who_still_qualifies_keeps_the_tier_for_another_period() -> None:
    standing, _ = after_activity(LADDER, start(LADDER, T0), Decimal(6000), T0)
    first_review = standing.review_at
    standing, change = review(LADDER, standing, Decimal(5500), first_review + timedelta(days=31))
    assert change is None and standing.tier == "Gold"
    assert standing.review_at == datetime(2028, 1, 10, 12, 0, tzinfo=UTC)


def test_vip_membership_grants_its_tier_for_the_term_then_falls_back_to_what_is_qualified() -> None:
    standing = start(LADDER, T0)
    standing, change = vip_started(LADDER, standing, until=T0 + timedelta(days=800), at=T0)
    assert change is not None and (change.to_tier, change.reason) == ("Gold", "vip_started")
    # Still a VIP at review: kept whatever the spend.
    kept, change = review(LADDER, standing, Decimal(0), standing.review_at + timedelta(days=30))
    assert change is None and kept.tier == "Gold"
    ended, change = vip_ended(LADDER, standing, Decimal(1500), T0 + timedelta(days=800))
    assert change is not None and (change.to_tier, change.reason) == ("Silver", "vip_ended")
    assert ended.vip_until is None


def test_a_nudge_when_within_reach_of_the_next_tier_once() -> None:
    standing, _ = after_activity(LADDER, start(LADDER, T0), Decimal(1200), T0)
    standing, far = nudge(LADDER, standing, Decimal(1200))
    assert far is None
    standing, near = nudge(LADDER, standing, Decimal(4600))
    assert near == ("Gold", Decimal(400))
    standing, again = nudge(LADDER, standing, Decimal(4700))
    assert again is None


def test_a_ladder_must_climb() -> None:
    with pytest.raises(ValidationError, match="tiers climb"):
        Ladder.model_validate(
            {"tiers": [{"name": "A", "threshold": "0"}, {"name": "B", "threshold": "0"}], "vip_tier": "A"}
        )
    with pytest.raises(ValidationError, match="not on the ladder"):
        Ladder.model_validate({"tiers": [{"name": "A", "threshold": "0"}], "vip_tier": "Z"})


CALENDAR = LADDER.model_copy(update={"period": "calendar_year"})


def test_a_calendar_year_ladder_counts_the_year_so_far_and_keeps_a_tier_through_the_next_year() -> None:
    december = Activity(date(2025, 12, 20), spend=Decimal(4000))
    february = Activity(date(2026, 2, 3), spend=Decimal(2000))
    at = datetime(2026, 2, 3, 18, 0, tzinfo=UTC)
    # Last December's spend belongs to last year: this year so far is 2000.
    assert qualifying_value(CALENDAR, [december, february], at) == Decimal(2000)
    assert qualifying_value(LADDER, [december, february], at) == Decimal(6000)  # rolling 12 months
    standing, change = after_activity(CALENDAR, start(CALENDAR, at), Decimal(6000), at)
    assert change is not None and change.to_tier == "Gold"
    assert standing.review_at == datetime(2028, 1, 1, tzinfo=UTC)
    # At that review, 2027 is the year looked back on.
    in_2027 = Activity(date(2027, 6, 1), spend=Decimal(5500))
    looked_back = qualifying_value(CALENDAR, [february, in_2027], standing.review_at, at_review=True)
    assert looked_back == Decimal(5500)


def test_only_spend_in_the_ladder_currency_qualifies() -> None:
    assert LADDER.model_copy(update={"currency": "IRR"}).qualifying_spend("IRR", Decimal(500)) == Decimal(500)
    assert LADDER.model_copy(update={"currency": "IRR"}).qualifying_spend("EUR", Decimal(500)) == Decimal(0)


@pytest.mark.parametrize(
    ("value", "tier"),
    [("0", "Bronze"), ("999.99", "Bronze"), ("1000", "Silver"), ("4999", "Silver"), ("5000", "Gold"),
     ("20000", "Platinum"), ("1e9", "Platinum")],
)  # fmt: skip
def test_a_value_qualifies_for_the_highest_tier_whose_threshold_it_reaches(value: str, tier: str) -> None:
    assert LADDER.qualified(Decimal(value)).name == tier
    assert LADDER.rank(tier) == ["Bronze", "Silver", "Gold", "Platinum"].index(tier)


def test_a_ladder_read_again_from_its_json_is_the_same_ladder_and_answers_alike() -> None:
    again = Ladder.model_validate_json(LADDER.model_dump_json())
    assert again.qualified(Decimal(5000)).name == "Gold" and again.rank("Gold") == 2  # its lookups built
    assert again == LADDER and again.model_dump() == LADDER.model_dump()
    other = again.model_copy(update={"tiers": [Tier(name="Base", threshold=Decimal(0)), LADDER.tiers[2]]})
    assert other.rank("Gold") == 1 and other.qualified(Decimal(6000)).name == "Gold"  # not the copied lookups
    with pytest.raises(ValueError, match="Diamond"):
        LADDER.rank("Diamond")


@pytest.mark.parametrize(
    ("moment", "months", "then"),
    [
        (datetime(2028, 1, 31, 9, tzinfo=UTC), 1, datetime(2028, 2, 29, 9, tzinfo=UTC)),  # a leap year
        (datetime(2027, 1, 31, 9, tzinfo=UTC), 1, datetime(2027, 2, 28, 9, tzinfo=UTC)),
        (datetime(2027, 3, 31, 9, tzinfo=UTC), -1, datetime(2027, 2, 28, 9, tzinfo=UTC)),
        (datetime(2027, 5, 31, 9, tzinfo=UTC), 1, datetime(2027, 6, 30, 9, tzinfo=UTC)),
        (datetime(2027, 1, 29, 9, tzinfo=UTC), 13, datetime(2028, 2, 29, 9, tzinfo=UTC)),
        (datetime(2026, 1, 28, 9, tzinfo=UTC), -12, datetime(2025, 1, 28, 9, tzinfo=UTC)),
        (datetime(2026, 12, 15, 9, tzinfo=UTC), 1, datetime(2027, 1, 15, 9, tzinfo=UTC)),
    ],
)
def test_months_are_added_on_the_same_day_or_the_months_last(
    moment: datetime, months: int, then: datetime
) -> None:
    assert add_months(moment, months) == then


_SPREAD_S = 3 * 366 * 24 * 3600  # three years of instants, so windows begin and end inside them


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, _SPREAD_S),
            st.integers(-500, 3000),
            st.integers(-50, 300),
        ),
        max_size=40,
    ),
    asked=st.lists(st.integers(-30 * 24 * 3600, _SPREAD_S + 30 * 24 * 3600), min_size=1, max_size=5),
    metric=st.sampled_from(["spend", "points", "visits"]),
    period=st.sampled_from(["rolling", "calendar_year"]),
)
def test_the_replays_value_at_an_instant_is_the_qualifying_value(
    events: list[tuple[int, int, int]], asked: list[int], metric: str, period: str
) -> None:
    """A progress nudge reads the value off the replay's sums: the same as summing the window."""
    ladder = LADDER.model_copy(update={"metric": metric, "period": period})
    activity = []
    for offset, spend, points in events:
        at = T0 + timedelta(seconds=offset)
        activity.append(Activity(at.date(), Decimal(spend) / 4, points, 1 if spend > 0 else 0, at))
    replayed = replay(ladder, activity, [], T0 + timedelta(seconds=_SPREAD_S))
    for offset in asked:
        at = T0 + timedelta(seconds=offset)
        assert replayed.value_at(at) == qualifying_value(ladder, activity, at)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, _SPREAD_S), st.integers(-8000, 16000)), max_size=40),
    period=st.sampled_from(["rolling", "calendar_year"]),
)
def test_a_replay_at_the_top_of_the_ladder_is_the_replay_of_a_ladder_with_a_tier_above(
    events: list[tuple[int, int]], period: str
) -> None:
    """A member at the top is not lifted by activity, so the replay skips summing the value there: the
    same history as on a ladder with one more tier above, which no one reaches (nothing is skipped)."""
    ladder = LADDER.model_copy(update={"period": period})
    higher = ladder.model_copy(
        update={"tiers": [*ladder.tiers, Tier(name="Beyond", threshold=Decimal(10**12))]}
    )
    activity = [
        Activity((T0 + timedelta(seconds=s)).date(), Decimal(spend), 0, 1, T0 + timedelta(seconds=s))
        for s, spend in events
    ]
    until = T0 + timedelta(seconds=_SPREAD_S + 400 * 24 * 3600)  # the clock runs on past the last event
    capped, uncapped = replay(ladder, activity, [], until), replay(higher, activity, [], until)
    assert (capped.standing, capped.changes) == (uncapped.standing, uncapped.changes)


def _summed_per_instant(activity: list[Activity]) -> list[Activity]:
    """What the store reads: an instant's activity as one row (``activity_between``)."""
    summed: dict[datetime, Activity] = {}
    for a in activity:
        assert a.at is not None
        was = summed.get(a.at)
        summed[a.at] = (
            a if was is None else was._replace(spend=was.spend + a.spend, points=was.points + a.points,
                                               visits=was.visits + a.visits)
        )  # fmt: skip
    return [summed[at] for at in sorted(summed)]


@settings(max_examples=200, deadline=None)
@given(
    # Few instants, so that several events share one (a purchase and the points it earned do).
    events=st.lists(
        st.tuples(st.integers(0, 24), st.integers(-3000, 9000), st.integers(-50, 3000), st.integers(0, 1)),
        max_size=40,
    ),
    orders=st.lists(
        st.tuples(st.integers(0, 24), st.sampled_from(["purchased", "renewed", "cancelled"])), max_size=3
    ),
    asked=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    metric=st.sampled_from(["spend", "points", "visits"]),
    period=st.sampled_from(["rolling", "calendar_year"]),
)
def test_activity_summed_per_instant_replays_the_same(
    events: list[tuple[int, int, int, int]],
    orders: list[tuple[int, str]],
    asked: list[int],
    metric: str,
    period: str,
) -> None:
    """The store sums an instant's activity into one row: the replay of the sums is the replay of the
    events, change for change, notice for notice, and the value at any instant is the same."""
    ladder = LADDER.model_copy(update={"metric": metric, "period": period})
    step = timedelta(days=45)  # 25 instants over three years: reviews and windows fall between them

    def at(n: int) -> datetime:
        return T0 + n * step

    activity = [
        Activity(at(n).date(), Decimal(spend) / 4, points, visits, at(n))
        for n, spend, points, visits in events
    ]
    paid = [Order(at(n), kind, "vip", 6, f"o{i}") for i, (n, kind) in enumerate(orders)]  # type: ignore[arg-type]
    until = at(30)
    each, summed = (
        replay(ladder, activity, paid, until),
        replay(ladder, _summed_per_instant(activity), paid, until),
    )
    assert (summed.standing, summed.changes, summed.notices) == (each.standing, each.changes, each.notices)
    for n in asked:
        assert summed.value_at(at(n)) == each.value_at(at(n))
