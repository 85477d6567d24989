"""Causes: an operator puts a cause (with the brand's match and its budget), members give points to it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from services.points.http import on_behalf, write_through
from services.points.programs.causes import actions
from services.points.programs.causes.store import cause_report, donations_by, upsert_cause
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.common import MAX_POINTS
from shared.contracts.envelope import utcnow
from shared.errors import NotFound
from shared.identity import Caller, Permission, secured
from shared.wire import Out

router = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)
P = Permission


class Cause(Out):
    cause_id: str
    name: str
    active: bool
    match_ratio: str = Field(description="brand points added per point given, a decimal string")
    given_points: int
    matched_points: int
    total_points: int
    donors: int
    donations: int
    match_budget_left: int


class Causes(Out):
    causes: list[Cause]


class Donation(Out):
    donation_id: str
    member_id: str
    cause_id: str
    points: int
    matched: int
    at: datetime
    balance: int | None = Field(default=None, description="absent when the donation was already made")


class MemberDonation(Out):
    donation_id: uuid.UUID
    cause_id: str
    cause_name: str
    points: int
    matched: int
    at: datetime


class MemberDonations(Out):
    member_id: str
    donations: list[MemberDonation] = Field(description="newest first")


class CauseIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    match_ratio: Decimal = Field(
        default=Decimal(0), ge=0, le=10, decimal_places=2, description="brand points added per point given"
    )
    match_budget_points: int = Field(default=0, ge=0, le=MAX_POINTS)
    active: bool = True


@router.put("/causes/{cause_id}", response_model=Cause, **secured(P.PROGRAM_WRITE))
async def put_cause(
    cause_id: Annotated[str, Path(min_length=1, max_length=64)],
    cause: CauseIn,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """A cause members can give points to (value-based program), with the brand's match and its budget."""
    values = {"name": cause.name, "match_ratio": cause.match_ratio, "match_budget": cause.match_budget_points}
    async with request.app.state.engine.begin() as conn:
        before = await cause_report(conn, cause_id)
        await upsert_cause(conn, cause_id, values | {"active": cause.active})
        (report,) = await cause_report(conn, cause_id)
        await record(conn, caller, "cause.put", f"cause:{cause_id}", before=before or None, after=report)
    return report


class DonationIn(BaseModel):
    request_id: uuid.UUID = Field(description="the donation's id: a retry is the same donation")
    cause_id: str = Field(min_length=1, max_length=64)
    points: int = Field(gt=0, le=MAX_POINTS)


@router.post(
    "/members/{member_id}/donations",
    status_code=201,
    response_model=Donation,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT),
)
async def donate(member_id: str, body: DonationIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Give points to a cause; the brand's match is added while its budget lasts."""
    return await write_through(
        request,
        actions.donate,
        body.request_id,
        member_id,
        body.cause_id,
        body.points,
        utcnow(),
        audit=on_behalf(caller, "donation", f"member:{member_id}"),
    )


@router.get("/causes", response_model=Causes, **secured(P.PROGRAM_READ))
async def list_causes(request: Request) -> dict[str, Any]:
    """Every cause with what was given, matched, by how many members: the report of what was given."""
    async with request.app.state.engine.connect() as conn:
        return {"causes": await cause_report(conn)}


@router.get("/causes/{cause_id}", response_model=Cause, **secured(P.PROGRAM_READ))
async def get_cause(cause_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        found = await cause_report(conn, cause_id)
    if not found:
        raise NotFound(f"no cause {cause_id!r}", title="Unknown cause")
    return found[0]


@router.get("/members/{member_id}/donations", response_model=MemberDonations, **secured(P.MEMBER_READ))
async def member_donations(
    member_id: str, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """What a member gave, newest first, to which cause and what the brand added."""
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "donations": await donations_by(conn, member_id, limit)}
