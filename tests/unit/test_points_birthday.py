"""Birthday rules by hand: who is due at an instant in their own zone, 29 February, the tier's bonus,
and what enrolments, profile changes and erasures leave of a birthday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from services.points.domain.tiering import Step
from services.points.programs.birthday.domain import (
    Birthday,
    Due,
    birthday_year,
    candidate_days,
    due,
    fold,
    source,
)
from shared.contracts import (
    MEMBER_ENROLLED,
    MEMBER_ERASED,
    MEMBER_PROFILE_CHANGED,
    Contract,
    Envelope,
    MemberEnrolled,
    MemberErased,
    MemberProfileChanged,
)

GOLD = Step(datetime(2026, 1, 1, tzinfo=UTC), "Gold", Decimal("1.5"), seq=7)
BONUSES = {7: 500}


def born(month: int, day: int, zone: str = "Asia/Tehran") -> Birthday:
    return Birthday("ava", month, day, zone)


@pytest.mark.parametrize(
    ("now", "year"),
    [
        (datetime(2027, 3, 20, 20, 29, tzinfo=UTC), None),  # 23:59 on 20 March in Tehran: the day before
        (
            datetime(2027, 3, 20, 20, 30, tzinfo=UTC),
            2027,
        ),  # 00:00 on 21 March in Tehran, still the 20th in UTC
        (datetime(2027, 3, 21, 20, 29, tzinfo=UTC), 2027),  # 23:59 on the 21st in Tehran
        (datetime(2027, 3, 21, 20, 30, tzinfo=UTC), None),  # the day after
    ],
)
def test_the_birthday_is_the_members_own_local_day(now: datetime, year: int | None) -> None:
    assert birthday_year(born(3, 21), now) == year
    assert (3, 21) in candidate_days(now) or year is None


def test_a_29_february_birthday_is_paid_on_28_february_in_other_years_and_on_the_day_in_leap_years() -> None:
    leap_day = born(2, 29, "UTC")
    assert birthday_year(leap_day, datetime(2027, 2, 28, 12, tzinfo=UTC)) == 2027
    assert birthday_year(leap_day, datetime(2027, 3, 1, 12, tzinfo=UTC)) is None
    assert birthday_year(leap_day, datetime(2028, 2, 28, 12, tzinfo=UTC)) is None
    assert birthday_year(leap_day, datetime(2028, 2, 29, 12, tzinfo=UTC)) == 2028
    assert (2, 29) in candidate_days(datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert (2, 29) not in candidate_days(datetime(2028, 2, 28, 1, tzinfo=UTC))  # 2028 has a 29th


def test_the_bonus_is_that_of_the_tier_held_when_it_is_paid() -> None:
    silver = Step(datetime(2025, 1, 1, tzinfo=UTC), "Silver", Decimal("1.2"), seq=3)
    on_the_day = datetime(2027, 3, 21, 8, tzinfo=UTC)
    assert due(born(3, 21), on_the_day, [silver, GOLD], {3: 200, 7: 500}) == Due("ava", 2027, "Gold", 500)
    assert due(born(3, 21), on_the_day, [silver], {3: 200, 7: 500}) == Due("ava", 2027, "Silver", 200)
    # A tier whose bonus is 0 (no row), no tier at all, no birthday, or another day: nothing.
    assert due(born(3, 21), on_the_day, [silver], {7: 500}) is None
    assert due(born(3, 21), on_the_day, [], BONUSES) is None
    assert due(Birthday("ava", None, None, "UTC"), on_the_day, [GOLD], BONUSES) is None
    assert due(born(3, 22), on_the_day, [GOLD], BONUSES) is None
    # Gold voided by a correction from before the birthday: the Silver step stands.
    void = Step(
        datetime(2025, 6, 1, tzinfo=UTC), "Silver", Decimal("1.2"), 1, datetime(2025, 6, 1, tzinfo=UTC), 9
    )
    assert due(born(3, 21), on_the_day, [silver, GOLD, void], {3: 200, 7: 500, 9: 200}) == Due(
        "ava", 2027, "Silver", 200
    )


def test_once_a_year_one_source_per_member_and_year() -> None:
    assert source("ava", 2027) == source("ava", 2027)
    assert len({source("ava", 2027), source("ava", 2028), source("ben", 2027)}) == 3


def test_enrolments_profile_changes_and_erasures_leave_the_latest_birthday_and_zone() -> None:
    def event(contract: Contract[Any], payload: BaseModel) -> Envelope[Any]:
        return contract.envelope(key="ava", producer="test", payload=payload)

    events = [
        event(MEMBER_ENROLLED, MemberEnrolled(member_id="ava", chain_id="c", timezone="Europe/Berlin")),
        event(MEMBER_PROFILE_CHANGED, MemberProfileChanged(member_id="ava", birthday="--02-29")),
        event(MEMBER_ENROLLED, MemberEnrolled(member_id="ben", chain_id="c", birthday="--12-25")),
    ]
    after = fold({}, events)
    assert after == {
        "ava": Birthday("ava", 2, 29, "Europe/Berlin"),
        "ben": Birthday("ben", 12, 25, "Asia/Tehran"),
    }
    # A later change of zone keeps the birthday; an erasure forgets it.
    moved = event(MEMBER_PROFILE_CHANGED, MemberProfileChanged(member_id="ava", timezone="UTC"))
    erased = event(MEMBER_ERASED, MemberErased(member_id="ben"))
    assert fold(after, [moved, erased]) == {"ava": Birthday("ava", 2, 29, "UTC"), "ben": None}


def test_in_a_zone_far_ahead_the_birthday_can_come_while_it_is_still_the_day_before_in_utc() -> None:
    kiritimati = born(1, 1, "Pacific/Kiritimati")  # UTC+14
    now = datetime(2026, 12, 31, 10, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 there
    assert birthday_year(kiritimati, now) == 2027
    assert (1, 1) in candidate_days(now)
    assert birthday_year(kiritimati, now - timedelta(hours=1)) is None
