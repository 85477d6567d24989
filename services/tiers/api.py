"""HTTP reads: a member's tier, progress to the next, and history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from services.tiers.domain import Ladder, qualifying_value
from services.tiers.store.repository import activity_between, history_of, standing_of
from shared.boundary import GuardedRoute
from shared.contracts.envelope import utcnow
from shared.errors import NotFound
from shared.identity import Permission, secured
from shared.wire import Out

api = APIRouter(prefix="/v1", tags=["tiers"], route_class=GuardedRoute)


class NextTier(Out):
    tier: str
    remaining: Decimal | int = Field(description="qualifying value still needed to reach it")


class TierView(Out):
    member_id: str
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
    changes: list[Change]
    next_offset: int | None


class Standing(Out):
    tier: str
    since: datetime


class Export(Out):
    member_id: str
    standing: Standing | None
    changes: list[Change]


@api.get("/members/{member_id}/tier", response_model=TierView, **secured(Permission.MEMBER_READ))
async def get_tier(member_id: str, request: Request) -> dict[str, Any]:
    ladder = request.app.state.ladder
    now = utcnow()
    async with request.app.state.engine.connect() as conn:
        standing = await standing_of(conn, member_id)
        if standing is None:
            raise NotFound(f"member {member_id!r} has no tier yet", title="Unknown member")
        activity = await activity_between(conn, [member_id], ladder.window(now)[0], now)
    value = qualifying_value(ladder, activity.get(member_id, []), now)
    rank = ladder.rank(standing.tier)
    following = ladder.tiers[rank + 1] if rank + 1 < len(ladder.tiers) else None
    return {
        "member_id": member_id,
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
) -> dict[str, Any]:
    """The member's tier changes, oldest first, a page at a time (``next_offset`` while there is more)."""
    async with request.app.state.engine.connect() as conn:
        changes = await history_of(conn, member_id, offset, limit + 1)  # one more: is there a next page
    more = len(changes) > limit
    return {
        "member_id": member_id,
        "changes": changes[:limit],
        "next_offset": offset + limit if more else None,
    }


@api.get("/ladder", response_model=Ladder, **secured(Permission.PROGRAM_READ))
async def get_ladder(request: Request) -> Ladder:
    ladder: Ladder = request.app.state.ladder
    return ladder


@api.get("/members/{member_id}/export", response_model=Export, **secured(Permission.MEMBER_READ))
async def export(member_id: str, request: Request) -> dict[str, Any]:
    """What tiers holds of the member, as one JSON document: the standing and every tier change."""
    async with request.app.state.engine.connect() as conn:
        standing = await standing_of(conn, member_id)
        changes = await history_of(conn, member_id, 0, 100_000)
    return {
        "member_id": member_id,
        "standing": None if standing is None else {"tier": standing.tier, "since": standing.since},
        "changes": changes,
    }
