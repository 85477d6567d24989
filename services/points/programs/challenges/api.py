"""Challenges: an operator puts one; a member's progress and badges by month."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from services.points.programs.challenges.domain import Challenge
from services.points.programs.challenges.store import all_challenges, member_challenges, upsert_challenge
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.identity import Caller, Permission, secured
from shared.wire import Out

router = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)
P = Permission


class ChallengeView(Challenge):
    challenge_id: str


class Challenges(Out):
    challenges: list[ChallengeView]


class ChallengeProgress(Out):
    challenge_id: str
    name: str
    period: str = Field(description="YYYY-MM")
    progress: int
    target: int
    badge: bool


class MemberChallenges(Out):
    member_id: str
    challenges: list[ChallengeProgress]


@router.get("/challenges", response_model=Challenges, **secured(P.PROGRAM_READ))
async def list_challenges(request: Request) -> dict[str, Any]:
    """Every challenge, active or not, by id."""
    async with request.app.state.engine.connect() as conn:
        found = await all_challenges(conn)
    return {"challenges": [{"challenge_id": cid, **c.model_dump()} for cid, c in found]}


@router.put("/challenges/{challenge_id}", response_model=ChallengeView, **secured(P.PROGRAM_WRITE))
async def put_challenge(
    challenge_id: Annotated[str, Path(min_length=1, max_length=64)],
    challenge: Challenge,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """A monthly challenge ("5 visits", "3 different categories") with its badge and bonus points."""
    async with request.app.state.engine.begin() as conn:
        await upsert_challenge(conn, challenge_id, challenge)
        await record(conn, caller, "challenge.put", f"challenge:{challenge_id}", after=challenge)
    return {"challenge_id": challenge_id, **challenge.model_dump()}


@router.get("/members/{member_id}/challenges", response_model=MemberChallenges, **secured(P.MEMBER_READ))
async def get_member_challenges(member_id: str, request: Request) -> dict[str, Any]:
    """A member's progress in each challenge by month, and the badges earned."""
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "challenges": await member_challenges(conn, member_id)}
