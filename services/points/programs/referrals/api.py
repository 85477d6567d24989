"""Referrals: the program's terms, a member's code to share, and where their friends stand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from services.points.domain.loyalty import MAIN
from services.points.http import InProgram, known_program
from services.points.programs.referrals import store as referrals
from services.points.programs.referrals.domain import ReferralProgram
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.errors import NotFound
from shared.identity import Caller, Permission, secured
from shared.wire import Out

router = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)
P = Permission


class ReferralCode(Out):
    member_id: str
    code: str


class Referral(Out):
    friend_id: str
    referrer_id: str | None
    code: str
    enrolled_at: datetime
    status: str = Field(description="pending, rewarded, refused or lapsed")
    reason: str
    purchase_event_id: uuid.UUID | None
    rewarded_at: datetime | None


class MemberReferrals(Out):
    member_id: str
    code: str | None
    referred: list[Referral]
    referred_by: Referral | None


class ProgramTerms(ReferralProgram):
    program: str = Field(description="the loyalty program whose terms these are")


class AllTerms(Out):
    programs: list[ProgramTerms]


@router.get("/referrals/programs", response_model=AllTerms, **secured(P.PROGRAM_READ))
async def list_referral_programs(request: Request) -> dict[str, Any]:
    """Every loyalty program's referral terms (those that have some)."""
    async with request.app.state.engine.connect() as conn:
        found = await referrals.terms_by_program(conn)
    return {"programs": [{"program": p, **terms.model_dump(mode="json")} for p, terms in found]}


@router.put("/referrals/program", response_model=ReferralProgram, **secured(P.PROGRAM_WRITE))
async def put_referral_program(
    program: ReferralProgram, caller: Caller, request: Request, loyalty: InProgram = MAIN
) -> dict[str, Any]:
    """A loyalty program's referral terms: points for each side, the friend's minimum purchase, the
    return window it must clear, and how long after enrolling the friend has to make it. Each program
    rewards by its own terms, in its own points, on the friend's purchases that earn in it; a program's
    terms reach the friends who enrol after they are set (main keeps every referral)."""
    async with request.app.state.engine.begin() as conn:
        await known_program(conn, loyalty)
        before = await referrals.program_terms(conn, loyalty)
        await referrals.put_program_terms(conn, program, loyalty)
        target = "referrals:program" if loyalty == MAIN else f"referrals:{loyalty}"
        await record(conn, caller, "referrals.put", target, before=before, after=program)
    return program.model_dump(mode="json")


@router.get("/referrals/program", response_model=ReferralProgram, **secured(P.PROGRAM_READ))
async def get_referral_program(request: Request, loyalty: InProgram = MAIN) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        program = await referrals.program_terms(conn, loyalty)
    if program is None:
        raise NotFound("no referral program has been set up", title="No referral program")
    return program.model_dump(mode="json")


@router.post("/members/{member_id}/referral-code", response_model=ReferralCode, **secured(P.MEMBER_ACT))
async def referral_code(
    member_id: Annotated[str, Path(min_length=1, max_length=128)], request: Request
) -> dict[str, Any]:
    """The member's code to share (made on first asking; the same code ever after)."""
    async with request.app.state.engine.begin() as conn:
        return {"member_id": member_id, "code": await referrals.issue_code(conn, member_id)}


@router.get("/members/{member_id}/referrals", response_model=MemberReferrals, **secured(P.MEMBER_READ))
async def member_referrals(member_id: str, request: Request, loyalty: InProgram = MAIN) -> dict[str, Any]:
    """A member's code, the friends they referred with where each stands, and who referred them."""
    async with request.app.state.engine.connect() as conn:
        return await referrals.of_member(conn, member_id, loyalty)
