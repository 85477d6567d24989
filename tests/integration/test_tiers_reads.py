"""What a tiers batch reads of a member's past: a replay resumed at a checkpoint gets what came before
the earliest instant it asks about a total a day, so a member who buys a thousand times a day (a shop's
house card) costs a row a day, not a row a purchase; from that instant on, each instant as it is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.tiers.domain import by_day
from services.tiers.programs import MAIN
from services.tiers.store import MIGRATIONS
from services.tiers.store.repository import activity_since, add_events
from tests.support import Stack, migrated_engine

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _spend(i: int) -> Decimal:
    return Decimal(-500 if i == 70 else 1000 + i)


async def test_a_resumed_replay_reads_the_past_a_day_to_a_row_and_from_its_earliest_instant_event_by_event(
    stack: Stack,
) -> None:
    engine = await migrated_engine(stack, "tiers", MIGRATIONS)
    # Four days of 300 purchases each, 4 minutes apart from 01:00 (the 70th a return), and another
    # member's the same.
    rows = [
        {
            "event_id": uuid.uuid4(), "program_id": MAIN, "member_id": member,
            "occurred_at": DAY + timedelta(days=d, hours=1, minutes=4 * i),
            "spend": _spend(i), "points": 10 + i % 3, "visits": 0 if i == 70 else 1,
        }
        for member in ("house-card", "ana")
        for d in range(4)
        for i in range(300)
    ]  # fmt: skip
    start, daily = DAY + timedelta(hours=5), DAY + timedelta(days=3, hours=10)
    try:
        async with engine.begin() as conn:
            await add_events(conn, rows, [])
        async with engine.connect() as conn:
            each = (await activity_since(conn, MAIN, {"house-card": None}))["house-card"]
            read = await activity_since(conn, MAIN, {"house-card": (start, daily), "ana": None})
    finally:
        await engine.dispose()
    assert len(each) == 1_200 and len(read["ana"]) == 1_200
    summed = read["house-card"]
    # The first day from 05:00 on, the next two, and the last before 10:00, a row each (135 purchases
    # in that last); from 10:00 on, an instant a row.
    assert len(summed) == 3 + 1 + 165
    assert summed == by_day([a for a in each if a.at is not None and a.at >= start], daily)
    first = summed[0]
    # From 05:00 (the 60th on), the 70th a return: its day's last instant, 239 visits, the spend net.
    assert first.at == DAY + timedelta(hours=1, minutes=4 * 299) and first.visits == 239
    assert first.spend == sum(_spend(i) for i in range(60, 300))
    # The last day before 10:00: the 135 purchases up to 09:56 (the 70th a return), at 09:56.
    morning = summed[3]
    assert morning.at == DAY + timedelta(days=3, hours=1, minutes=4 * 134) and morning.visits == 134
    assert morning.spend == sum(_spend(i) for i in range(135)) and summed[4].at == daily
