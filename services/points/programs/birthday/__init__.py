"""Birthdays: each member's tier ``birthday_bonus``, paid on their birthday in their own time zone, once
a year (ingest keeps the birth date; the bus carries only the month and day)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.program import Program
from services.points.programs.birthday import actions, store
from services.points.settings import PointsSettings
from shared.contracts import MEMBER_ENROLLED, MEMBER_ERASED, MEMBER_PROFILE_CHANGED, TIER_CHANGED
from shared.service import Job


def jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [Job("pay-birthday-bonuses", every, lambda c, now: actions.pay_birthdays(c, settings, now))]


async def export(conn: AsyncConnection, member_id: str) -> dict[str, Any]:
    return {"birthday": await store.birthday_of(conn, member_id)}


PROGRAM = Program(
    "birthday",
    jobs=jobs,
    # tier.changed is the ledger's too: the program reads it for the bonus, the ledger still applies it.
    consumes=(MEMBER_ENROLLED, MEMBER_PROFILE_CHANGED, MEMBER_ERASED, TIER_CHANGED),
    record=actions.record_birthdays,
    export=export,
)
