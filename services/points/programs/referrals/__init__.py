"""Referrals: a member's code to share; both sides rewarded once the friend's first qualifying purchase
clears the return window; rings and self-referrals refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.program import Program
from services.points.programs.referrals import actions
from services.points.programs.referrals import store as referrals
from services.points.programs.referrals.api import router
from services.points.settings import PointsSettings
from shared.contracts import MEMBER_ENROLLED
from shared.service import Job


def jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [Job("reward-referrals", every, lambda c, now: actions.reward_referrals(c, settings, now))]


async def export(conn: AsyncConnection, member_id: str) -> dict[str, Any]:
    return {"referrals": await referrals.of_member(conn, member_id)}


PROGRAM = Program(
    "referrals",
    router=router,
    jobs=jobs,
    consumes=(MEMBER_ENROLLED,),
    record=actions.record_referrals,
    export=export,
)
