"""A time-limited program's reminders before its end, and its settlement at the end."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.actions import release, reward_code
from services.points.domain.loyalty import MAIN
from services.points.programs.sunset.store import (
    close_program,
    holders_not_reminded,
    mark_program_reminded,
    open_programs,
)
from services.points.settings import PointsSettings
from services.points.store.ledger import holders, open_book, post
from services.points.store.rewards import held_past
from shared.contracts import PROGRAM_ENDED, PROGRAM_ENDING, ProgramEnded, ProgramEnding
from shared.outbox import append, emitted


async def remind_program_end(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500
) -> int:
    """Each due reminder of a time-limited program, once per member still holding points."""
    sent = 0
    for program_id, end in await open_programs(conn):
        for days in end.reminders_due(now):
            due = await holders_not_reminded(conn, program_id, days, limit - sent, end.loyalty_program)
            messages = [
                emitted(settings, PROGRAM_ENDING, member, ProgramEnding(
                    member_id=member, program_id=program_id, name=end.name, ends_at=end.ends_at,
                    days_left=max((end.ends_at - now).days, 0), points=points, parting=end.parting,
                    loyalty_program=end.loyalty_program,
                ))
                for member, points in due
            ]  # fmt: skip
            await append(conn, messages)
            await mark_program_reminded(conn, program_id, days, [m for m, _ in due])
            sent += len(due)
            if sent >= limit:
                return sent
    return sent


async def settle_ended_programs(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 200
) -> int:
    """At a program's end every member's remaining points become a voucher or a parting gift with a code
    (ledger kind ``sunset``); when no member holds points any more, the program is closed."""
    settled = 0
    for program_id, end in await open_programs(conn):
        if now < end.ends_at:
            continue
        # A reservation still open would give its points back after the settlement, to a closed program:
        # release it first, so its points are settled with the rest.
        ending = end.loyalty_program
        if ending == MAIN:  # redemptions are main's
            for redemption_id in await held_past(conn, None, limit):
                await release(conn, settings, redemption_id, "program ended", now)
        members = await holders(conn, limit, ending)
        if not members:
            await close_program(conn, program_id, now)
            continue
        book = await open_book(conn, settings, members, with_lots=members, program_id=ending)
        for member in members:
            points = book.balance(member)
            offer, kind, value = end.parting_offer(points)
            code = reward_code()
            # Driven by the balance, committed with it: a member settled once holds nothing to settle again.
            details = {"program_id": program_id, "offer": offer, "code": code}
            book.debit(member, "sunset", points, uuid.uuid4(), end.ends_at, details)
            payload = ProgramEnded(
                member_id=member, program_id=program_id, name=end.name, points=points,
                offer=offer, kind=kind, value=value, code=code, loyalty_program=ending,
            )  # fmt: skip
            book.emit(PROGRAM_ENDED, member, payload)
        await post(conn, book)
        settled += len(members)
        if len(members) < limit:  # every holder is settled: the program is closed
            await close_program(conn, program_id, now)
    return settled
