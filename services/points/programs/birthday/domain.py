"""Birthdays: who is due their tier's birthday bonus at an instant (pure rules, no I/O).

A member's birthday is a month and a day (the bus carries ``--MM-DD``, never the year of birth), in the
member's own time zone: the bonus is paid on that local day, once per local year. A 29 February
birthday is paid on 28 February in years without one. The bonus is the ``birthday_bonus`` of the tier
the member holds when it is paid, as the ``tier.changed`` steps known then say.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.points.domain.tiering import Step, Timeline
from shared.contracts import Envelope, MemberEnrolled, MemberErased, MemberProfileChanged

_BIRTHDAY_NAMESPACE = uuid.UUID("8f1d2c47-3b6a-4e59-a0c8-5d7e9b1f2a63")
# Every local date on Earth at an instant is within these offsets of UTC.
_ZONES_SPAN = (timedelta(hours=-12), timedelta(hours=14))


@dataclass(frozen=True)
class Birthday:
    member_id: str
    month: int | None
    day: int | None
    timezone: str


@dataclass(frozen=True)
class Due:
    member_id: str
    year: int  # the member's local year of the birthday paid
    tier: str
    points: int


def month_day(birthday: str) -> tuple[int, int]:
    """``--MM-DD`` (the contract checked it) as (month, day)."""
    return int(birthday[2:4]), int(birthday[5:7])


def birthday_in(year: int, month: int, day: int) -> date:
    """The day a birthday falls on in ``year``: 29 February is 28 February when ``year`` has none."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def birthday_year(birthday: Birthday, now: datetime) -> int | None:
    """The year whose birthday ``now`` falls on in the member's zone; None on any other day."""
    if birthday.month is None or birthday.day is None:
        return None
    today = now.astimezone(ZoneInfo(birthday.timezone)).date()
    return today.year if birthday_in(today.year, birthday.month, birthday.day) == today else None


def local_dates(now: datetime) -> list[date]:
    """Every date it is somewhere at ``now`` (two or three), earliest first."""
    return sorted({(now + offset).date() for offset in (_ZONES_SPAN[0], timedelta(0), _ZONES_SPAN[1])})


def candidate_days(now: datetime) -> set[tuple[int, int]]:
    """The (month, day) birthdays that may be today somewhere: the store's cheap first filter."""
    days = set()
    for d in local_dates(now):
        days.add((d.month, d.day))
        if (d.month, d.day) == (2, 28) and not calendar.isleap(d.year):
            days.add((2, 29))
    return days


def source(member_id: str, year: int) -> uuid.UUID:
    """The ledger source of a member's bonus for a year: the ledger's unique (source, kind) pays it once."""
    return uuid.uuid5(_BIRTHDAY_NAMESPACE, f"{member_id}/{year}")


def due(birthday: Birthday, now: datetime, steps: Sequence[Step], bonuses: Mapping[int, int]) -> Due | None:
    """What the member is due at ``now``: the bonus of the tier step in force (``bonuses``: step seq ->
    its birthday_bonus); None when it is not their birthday, they hold no tier, or its bonus is 0."""
    year = birthday_year(birthday, now)
    if year is None:
        return None
    step = Timeline(steps).step_before(now)
    points = bonuses.get(step.seq, 0) if step is not None else 0
    if step is None or points <= 0:
        return None
    return Due(birthday.member_id, year, step.tier, points)


def fold(known: Mapping[str, Birthday | None], events: Iterable[Envelope[Any]]) -> dict[str, Birthday | None]:
    """Each member's birthday and zone after ``events`` in order (None: erased, forget it). A profile
    change gives only what changed; an erasure forgets the birthday with everything else."""
    after: dict[str, Birthday | None] = dict(known)
    for event in events:
        p = event.payload
        if isinstance(p, MemberErased):
            after[p.member_id] = None
            continue
        if not isinstance(p, MemberEnrolled | MemberProfileChanged):
            continue
        held = after.get(p.member_id) or Birthday(p.member_id, None, None, "Asia/Tehran")
        if p.timezone is not None:
            held = replace(held, timezone=p.timezone)
        if p.birthday is not None:
            month, day = month_day(p.birthday)
            held = replace(held, month=month, day=day)
        after[p.member_id] = held
    return after
