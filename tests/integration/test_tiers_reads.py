"""What a tiers batch reads of a member's past: a replay resumed at a checkpoint gets what came before
the earliest instant it asks about a total a day, so a member who buys a thousand times a day (a shop's
house card) costs a row a day, not a row a purchase; from that instant on, each instant as it is."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from services.tiers.domain import LATE, by_day
from services.tiers.handlers import CONSUMES, standings_handler
from services.tiers.programs import MAIN
from services.tiers.settings import DEFAULT_LADDER, TiersSettings
from services.tiers.store import MIGRATIONS
from services.tiers.store.repository import activity_since, add_events, history_of, load_standings
from services.tiers.views import PointsGiven, PurchaseTotal
from shared.contracts import Envelope
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


def _points(member: str, at: datetime, points: int = 500) -> Envelope[PointsGiven]:
    earned = CONSUMES[2]  # points.earned, read as tiers reads it
    assert earned.payload is PointsGiven
    payload = PointsGiven(member_id=member, points=points)
    return earned.envelope(key=member, producer="points", occurred_at=at, payload=payload)


def _bought(member: str, at: datetime, amount: int) -> Envelope[PurchaseTotal]:
    payload = PurchaseTotal(
        chain_id="hyperstar", member_id=member, currency="IRR", total_amount=Decimal(amount)
    )
    return CONSUMES[0].envelope(key=member, producer="ingest", occurred_at=at, payload=payload)


async def test_a_purchase_hours_late_resumes_a_day_back_and_tells_what_in_time_order_tells(
    stack: Stack,
) -> None:
    """Two members buy the same every 30 minutes for three days, 500,000 each (Silver after the
    hundredth), and once 150,000,000 five hours before their last (Gold then). Sara's arrive in time
    order; Omid's big one comes last, after his checkpoint, which is past it: his history is Sara's,
    and he keeps a checkpoint a day or two back for the next late one."""
    engine = await migrated_engine(stack, "tiers", MIGRATIONS)
    handle = standings_handler(TiersSettings())
    times = [DAY + timedelta(minutes=30 * i) for i in range(144)]
    big_at = times[-1] - timedelta(hours=5, minutes=1)
    sara = sorted([*(_bought("sara", t, 500_000) for t in times), _bought("sara", big_at, 150_000_000)],
                  key=lambda e: e.occurred_at)  # fmt: skip
    omid = [*(_bought("omid", t, 500_000) for t in times), _bought("omid", big_at, 150_000_000)]
    try:
        for start in range(0, len(sara), 20):
            async with engine.begin() as conn:
                await handle(conn, [*sara[start : start + 20], *omid[start : start + 20]])
        async with engine.connect() as conn:
            histories = {m: await history_of(conn, MAIN, m) for m in ("sara", "omid")}
            kept = await load_standings(conn, MAIN, ["omid"])
    finally:
        await engine.dispose()
    told = {m: [(h["from_tier"], h["to_tier"], h["at"]) for h in rows] for m, rows in histories.items()}
    assert told["sara"] == [("Bronze", "Silver", times[99]), ("Silver", "Gold", big_at)]
    assert told["omid"] == told["sara"]
    checkpoint, earlier = kept["omid"].checkpoint, kept["omid"].earlier
    assert checkpoint is not None and checkpoint.at == times[-1]
    assert earlier is not None and times[-1] - 2 * LATE <= earlier.at <= times[-1] - LATE


async def test_points_on_a_ladder_of_spend_are_kept_and_replay_no_one_who_has_a_standing(
    stack: Stack,
) -> None:
    """On the default ladder (spend), Sara's points.earned, dated a day before her purchase and arriving
    after it, leave her standing row as it was (no replay); they are kept, for a ladder of points.
    Omid, with only points so far, gets his first standing from them."""
    engine = await migrated_engine(stack, "tiers", MIGRATIONS)
    handle = standings_handler(TiersSettings())

    try:
        async with engine.begin() as conn:
            await handle(conn, [_bought("sara", DAY + timedelta(days=1), 60_000_000)])
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT * FROM standings WHERE member_id = 'sara'"))).one()
        async with engine.begin() as conn:
            await handle(conn, [_points("sara", DAY), _points("omid", DAY)])
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT * FROM standings WHERE member_id = 'sara'"))).one()
            kept = await activity_since(conn, MAIN, {"sara": None})
            omid = await load_standings(conn, MAIN, ["omid"])
    finally:
        await engine.dispose()
    assert before.tier == "Silver" and after == before
    assert [a.points for a in kept["sara"]] == [500, 0]
    assert omid["omid"].standing.tier == "Bronze"


async def test_on_a_ladder_of_points_a_points_event_moves_a_member_who_has_a_standing(
    stack: Stack, tmp_path: Path
) -> None:
    tiers = [{"name": "Bronze", "threshold": "0"}, {"name": "Silver", "threshold": "1000"}]
    ladder = {**DEFAULT_LADDER, "metric": "points", "vip_tier": "Silver", "tiers": tiers}
    (tmp_path / "ladder.json").write_text(json.dumps(ladder))
    engine = await migrated_engine(stack, "tiers", MIGRATIONS)
    handle = standings_handler(TiersSettings(tiers_ladder_file=str(tmp_path / "ladder.json")))
    try:
        for at in (DAY, DAY + timedelta(hours=1)):
            async with engine.begin() as conn:
                await handle(conn, [_points("omid", at, 600)])
        async with engine.connect() as conn:
            omid = await load_standings(conn, MAIN, ["omid"])
    finally:
        await engine.dispose()
    assert omid["omid"].standing.tier == "Silver"
