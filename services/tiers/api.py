"""HTTP reads: a member's tier, progress to the next, and history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.tiers.domain import qualifying_value
from services.tiers.store.repository import activity_between, history_of, standing_of
from shared.contracts.envelope import utcnow
from shared.problems import ProblemError

api = APIRouter(prefix="/v1", tags=["tiers"])


@api.get("/members/{member_id}/tier")
async def get_tier(member_id: str, request: Request) -> dict[str, Any]:
    ladder = request.app.state.ladder
    now = utcnow()
    async with request.app.state.engine.connect() as conn:
        standing = await standing_of(conn, member_id)
        if standing is None:
            raise ProblemError(404, "Unknown member", f"member {member_id!r} has no tier yet")
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


@api.get("/members/{member_id}/tier/history")
async def get_history(member_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "changes": await history_of(conn, member_id)}


@api.get("/ladder")
async def get_ladder(request: Request) -> dict[str, Any]:
    ladder_json: dict[str, Any] = request.app.state.ladder.model_dump(mode="json")
    return ladder_json
