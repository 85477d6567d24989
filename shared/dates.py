"""Calendar arithmetic the services share."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (or earlier), on the month's last day when it is shorter."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = moment.day
    if day > 28:  # the only days some month lacks
        day = min(day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
