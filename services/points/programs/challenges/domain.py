"""Challenges and badges: "5 visits this month", "3 different categories this month" (pure: no I/O).

Progress is kept per member, challenge and calendar month in the store's time zone: the days a member
visited, or the categories they bought. Reaching the target earns the badge (and its bonus points) once
per month.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import PurchaseRecorded
from shared.contracts.common import MAX_POINTS


class Challenge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["visits", "categories"]
    target: int = Field(ge=2, le=100)
    bonus_points: int = Field(default=0, ge=0, le=MAX_POINTS)
    active: bool = True


def period_of(day: date) -> str:
    return f"{day:%Y-%m}"


def marks(challenge: Challenge, purchase: PurchaseRecorded, day: date) -> set[str]:
    """What a purchase counts toward the challenge: the day visited, or the categories bought."""
    if challenge.kind == "visits":
        return {day.isoformat()}
    return {line.category for line in purchase.lines}


def advance(challenge: Challenge, seen: set[str], new: set[str]) -> tuple[set[str], bool]:
    """The marks after this purchase, and whether this purchase is the one that reached the target."""
    after = seen | new
    return after, len(seen) < challenge.target <= len(after)
