"""When points expire: a fixed number of months after they were earned, or after months without
any activity (each activity pushes every lot's date out again), or never."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.dates import add_months

ExpiryPolicy = Literal["earned", "inactivity", "never"]


def lot_expiry(policy: ExpiryPolicy, months: int, earned_at: datetime) -> datetime | None:
    return None if policy == "never" else add_months(earned_at, months)
