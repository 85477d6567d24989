"""When points expire: a fixed number of months after they were earned, or after months without
any activity (each activity pushes every lot's date out again), or never."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Literal

ExpiryPolicy = Literal["earned", "inactivity", "never"]


def add_months(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def lot_expiry(policy: ExpiryPolicy, months: int, earned_at: datetime) -> datetime | None:
    return None if policy == "never" else add_months(earned_at, months)
