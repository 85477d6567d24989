"""Birthdays: the members' birthdays and their tiers' bonuses recorded as the events come, and the daily
job that pays each member due today, once a year."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.programs.birthday import store
from services.points.programs.birthday.domain import Due, candidate_days, due, fold, local_dates, source
from services.points.settings import PointsSettings
from services.points.store.earning import tier_steps_of
from services.points.store.ledger import open_book, post
from shared.contracts import BIRTHDAY_BONUS, BirthdayBonus, Envelope, TierChanged


async def record_birthdays(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> None:
    """Enrolments, profile changes and erasures to each member's birthday and zone; each tier change's
    birthday bonus by the event that told it (the ledger keeps the step itself)."""
    members = [e for e in events if not isinstance(e.payload, TierChanged)]
    if members:
        known = await store.birthdays_of(conn, (e.payload.member_id for e in members))
        await store.save(conn, fold(known, members))
    await store.keep_tier_bonuses(
        conn,
        {e.event_id: e.payload.benefits.birthday_bonus for e in events if isinstance(e.payload, TierChanged)},
    )


async def pay_birthdays(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500
) -> int:
    """Pay up to ``limit`` members whose birthday it is at ``now`` in their zone the birthday bonus of
    the tier they hold (ledger kind ``birthday``, ``points.birthday_bonus``); returns how many were
    paid (the job repeats while there are more)."""
    days, earliest = candidate_days(now), local_dates(now)[0]
    found: list[Due] = []
    seen: dict[str, date] = {}
    after = ""
    while len(found) < limit and (page := await store.born_on(conn, days, earliest, after, limit)):
        after = page[-1].member_id
        ids = [b.member_id for b in page]
        steps, bonuses = await tier_steps_of(conn, ids), await store.bonuses_of(conn, ids)
        for birthday in page:
            if found_due := due(birthday, now, steps.get(birthday.member_id, []), bonuses):
                found.append(found_due)
                seen[birthday.member_id] = now.astimezone(ZoneInfo(birthday.timezone)).date()
        if len(page) < limit:
            break
    # Paid already (this year, before the birthday moved): the ledger says, whatever the bookmark says.
    done = await store.paid(conn, (source(d.member_id, d.year) for d in found))
    owed = [d for d in found if source(d.member_id, d.year) not in done]
    if owed:
        book = await open_book(conn, settings, (d.member_id for d in owed), with_lots=())
        for d in owed:
            details = {"tier": d.tier, "year": d.year}
            book.credit(d.member_id, "birthday", d.points, source(d.member_id, d.year), now, details)
            payload = BirthdayBonus(
                member_id=d.member_id, tier=d.tier, year=d.year, points=d.points,
                balance=book.balance(d.member_id),
            )  # fmt: skip
            book.emit(BIRTHDAY_BONUS, d.member_id, payload, at=now)
        await post(conn, book)
    await store.mark_paid(conn, seen)
    return len(owed)
