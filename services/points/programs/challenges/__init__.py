"""Challenges and badges: "5 visits this month", "3 different categories", with bonus points."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.program import Program
from services.points.programs.challenges.api import router
from services.points.programs.challenges.hook import load
from services.points.programs.challenges.store import member_challenges


async def export(conn: AsyncConnection, member_id: str) -> dict[str, Any]:
    return {"challenges": await member_challenges(conn, member_id)}


PROGRAM = Program("challenges", router=router, purchases=load, export=export)
