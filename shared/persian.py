"""Persian as a reader expects it: Persian digits and the Jalali calendar. Notify's messages and the
console's pages write numbers and dates with these."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import jdatetime

_PERSIAN_DIGITS = str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")  # the Persian decimal mark
THOUSANDS = "٬"  # the Persian thousands separator (a comma in text stays a comma)


def fa_digits(value: Any) -> str:
    return str(value).translate(_PERSIAN_DIGITS)


def jalali(value: datetime | date, with_time: bool = False) -> str:
    """A date (and its time of day) in the Jalali calendar, in Persian digits."""
    if with_time and isinstance(value, datetime):
        return fa_digits(jdatetime.datetime.fromgregorian(datetime=value).strftime("%Y/%m/%d %H:%M"))
    day = value.date() if isinstance(value, datetime) else value
    return fa_digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))
