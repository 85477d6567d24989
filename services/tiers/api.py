"""HTTP: a member's tier in a loyalty program, progress to the next, and history; each program's
ladder (main's from the settings, another's set here by an operator)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import Ladder, qualifying_value
from services.tiers.programs import MAIN, PROGRAM_ID
from services.tiers.store.programs import ladders_of, programs, put_ladder
from services.tiers.store.repository import activity_between, history_of, standing_of, standings_of
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.envelope import utcnow
from shared.errors import Invalid, NotFound
from shared.identity import Caller, Permission, secured
from shared.wire import Out

api = APIRouter(prefix="/v1", tags=["tiers"], route_class=GuardedRoute)
ProgramQuery = Annotated[
    str, Query(alias="program", pattern=PROGRAM_ID, description="the loyalty program (main when left out)")
]
ProgramPath = Annotated[str, Path(pattern=PROGRAM_ID)]


class NextTier(Out):
    tier: str
    remaining: Decimal | int = Field(description="qualifying value still needed to reach it")


class TierView(Out):
    member_id: str
    program_id: str
    tier: str
    since: datetime
    review_at: datetime = Field(description="when the tier is next reviewed (a downgrade happens only then)")
    vip_until: datetime | None = Field(description="when the paid membership granting a tier ends")
    benefits: Any = Field(description="the tier's benefits, as the ladder states them")
    metric: str = Field(description="spend, points or visits")
    qualifying_value: Decimal | int
    next: NextTier | None = Field(description="null at the top of the ladder")


class Change(Out):
    from_tier: str | None
    to_tier: str
    reason: str
    at: datetime


class History(Out):
    member_id: str
    program_id: str
    changes: list[Change]
    next_offset: int | None


class Standing(Out):
    tier: str
    since: datetime


class ProgramPart(Out):
    program_id: str
    standing: Standing
    changes: list[Change]


class Export(Out):
    member_id: str
    standing: Standing | None = Field(description="in main")
    changes: list[Change] = Field(description="in main")
    programs: list[ProgramPart] = Field(description="the other loyalty programs they stand in")


async def _ladder(conn: AsyncConnection, request: Request, program_id: str) -> Ladder:
    found = (await ladders_of(conn, request.app.state.ladder)).get(program_id)
    if found is None:
        raise NotFound(f"loyalty program {program_id!r} has no ladder", title="Unknown ladder")
    return found


@api.get("/members/{member_id}/tier", response_model=TierView, **secured(Permission.MEMBER_READ))
async def get_tier(member_id: str, request: Request, program: ProgramQuery = MAIN) -> dict[str, Any]:
    """The member's tier on the program's ladder, what it gives, and how far the next one is."""
    now = utcnow()
    async with request.app.state.engine.connect() as conn:
        ladder = await _ladder(conn, request, program)
        standing = await standing_of(conn, program, member_id)
        if standing is None:
            raise NotFound(f"member {member_id!r} has no tier in {program!r} yet", title="Unknown member")
        activity = await activity_between(conn, program, [member_id], ladder.window(now)[0], now)
    value = qualifying_value(ladder, activity.get(member_id, []), now)
    rank = ladder.rank(standing.tier)
    following = ladder.tiers[rank + 1] if rank + 1 < len(ladder.tiers) else None
    return {
        "member_id": member_id,
        "program_id": program,
        "tier": standing.tier,
        "since": standing.since,
        "review_at": standing.review_at,
        "vip_until": standing.vip_until,
        "benefits": ladder.tier(standing.tier).benefits.model_dump(mode="json"),
        "metric": ladder.metric,
        "qualifying_value": value,
        "next": {"tier": following.name, "remaining": max(following.threshold - value, 0)}
        if following
        else None,
    }


@api.get("/members/{member_id}/tier/history", response_model=History, **secured(Permission.MEMBER_READ))
async def get_history(
    member_id: str,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    program: ProgramQuery = MAIN,
) -> dict[str, Any]:
    """The member's tier changes in the program, oldest first, a page at a time (``next_offset`` while
    there is more)."""
    async with request.app.state.engine.connect() as conn:
        changes = await history_of(conn, program, member_id, offset, limit + 1)  # one more: a next page?
    more = len(changes) > limit
    return {
        "member_id": member_id,
        "program_id": program,
        "changes": changes[:limit],
        "next_offset": offset + limit if more else None,
    }


@api.get("/ladder", response_model=Ladder, **secured(Permission.PROGRAM_READ))
async def get_ladder(request: Request) -> Ladder:
    """Main's ladder (``/v1/ladders/{program_id}`` reads any program's)."""
    ladder: Ladder = request.app.state.ladder
    return ladder


@api.get("/ladders/{program_id}", response_model=Ladder, **secured(Permission.PROGRAM_READ))
async def get_program_ladder(program_id: ProgramPath, request: Request) -> Ladder:
    async with request.app.state.engine.connect() as conn:
        return await _ladder(conn, request, program_id)


@api.put("/ladders/{program_id}", response_model=Ladder, **secured(Permission.PROGRAM_WRITE))
async def put_program_ladder(
    program_id: ProgramPath, ladder: Ladder, caller: Caller, request: Request
) -> Ladder:
    """Set a loyalty program's own ladder: its members climb it on that program's purchases only (from
    their next event on). Main's ladder is the deployment's setting; paid VIP membership is main's."""
    if program_id == MAIN:
        raise Invalid(
            "main's ladder is the deployment's setting (VAFA_TIERS_LADDER_FILE)", rule="main_ladder_set"
        )
    if ladder.vip_tier is not None:
        raise Invalid("paid VIP membership is main's", field="vip_tier", rule="vip_is_main")
    async with request.app.state.engine.begin() as conn:
        if program_id not in await programs(conn):
            # Points tells of the programs it runs; one just defined there arrives in a moment.
            raise NotFound(f"no loyalty program {program_id!r} has been told of", title="Unknown program")
        before = await put_ladder(conn, program_id, ladder)
        await record(conn, caller, "ladder.put", f"ladder:{program_id}", before=before, after=ladder)
    return ladder


@api.get("/members/{member_id}/export", response_model=Export, **secured(Permission.MEMBER_READ))
async def export(member_id: str, request: Request) -> dict[str, Any]:
    """What tiers holds of the member, as one JSON document: the standing and every tier change in
    main, and in each other program they stand in."""
    async with request.app.state.engine.connect() as conn:
        found = await standings_of(conn, member_id)
        changes = {p: await history_of(conn, p, member_id, 0, 100_000) for p in {MAIN, *found}}
    standing = {p: {"tier": s.tier, "since": s.since} for p, s in found.items()}
    return {
        "member_id": member_id,
        "standing": standing.get(MAIN),
        "changes": changes[MAIN],
        "programs": [
            {"program_id": p, "standing": standing[p], "changes": changes[p]}
            for p in sorted(found)
            if p != MAIN
        ],
    }
