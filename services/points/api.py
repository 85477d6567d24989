"""The points HTTP API: reads for members and support staff, and the operator's and POS's writes.

Every route names the permission it needs (shared/identity.py); who made a write comes from the
caller's token, and every operator write is recorded in the audit log with the state before and after.
"""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from services.points import actions
from services.points import schemas as out
from services.points.domain.challenges import Challenge
from services.points.domain.games import Game, commitment
from services.points.domain.referrals import ReferralProgram
from services.points.domain.rules import RuleSet
from services.points.domain.sunset import ProgramEnd
from services.points.settings import PointsSettings
from services.points.store import referrals
from services.points.store.repository import (
    add_rule_set,
    balance_of,
    catalog,
    cause_report,
    create_game,
    game_of,
    ledger_page,
    member_challenges,
    partner_settlement,
    plays_of,
    program_end_of,
    rule_set_versions,
    upsert_cause,
    upsert_challenge,
    upsert_program_end,
    upsert_reward,
)
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.common import MAX_POINTS
from shared.contracts.envelope import utcnow
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller, Permission, Principal, require_member, secured

api = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)


P = Permission
# The most ledger entries one export carries (a member with more is exported by the ledger's pages).
EXPORT_LIMIT = 100_000


async def _write(
    request: Request, action: Any, *args: Any, audit: tuple[Principal, str, str] | None = None
) -> dict[str, Any]:
    """Run an action in one transaction (with its audit entry: who, what, on what), then let the relay
    publish what it emitted."""
    async with request.app.state.engine.begin() as conn:
        answer: dict[str, Any] = await action(conn, request.app.state.settings, *args)
        if audit is not None:
            await record(conn, *audit, after=answer)
    request.app.state.wake_relay()
    return answer


def _on_behalf(caller: Principal, action: str, target: str) -> tuple[Principal, str, str] | None:
    """A member's own act is in their ledger; an operator's on a member's behalf is audited too."""
    return (caller, action, target) if caller.kind == "operator" else None


@api.get("/members/{member_id}/balance", response_model=out.Balance, **secured(P.MEMBER_READ))
async def get_balance(member_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        found = await balance_of(conn, member_id)
    if found is None:
        raise NotFound(f"member {member_id!r} has no points yet", title="Unknown member")
    return {"member_id": member_id, "balance": found[0], "debt": found[1]}


@api.get("/members/{member_id}/ledger", response_model=out.Ledger, **secured(P.MEMBER_READ))
async def get_ledger(
    member_id: str,
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="entry id to page back from")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Every entry, newest first, each with its explanation (the rules that gave the points)."""
    async with request.app.state.engine.connect() as conn:
        entries = await ledger_page(conn, member_id, before, limit)
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return {"member_id": member_id, "entries": entries, "next_before": next_before}


class AdjustmentIn(BaseModel):
    request_id: uuid.UUID
    points: int = Field(
        ge=-MAX_POINTS, le=MAX_POINTS, description="positive credits, negative debits; never zero"
    )
    reason: str = Field(min_length=3, max_length=500)


@api.post(
    "/members/{member_id}/adjustments",
    status_code=201,
    response_model=out.Adjusted,
    response_model_exclude_unset=True,
    **secured(P.POINTS_ADJUST),
)
async def adjust(member_id: str, body: AdjustmentIn, caller: Caller, request: Request) -> dict[str, Any]:
    """A manual correction, with the reason and the operator recorded in the ledger and the audit log."""
    if body.points == 0:
        raise Invalid("an adjustment of zero points changes nothing")
    return await _write(
        request,
        actions.adjust,
        body.request_id,
        member_id,
        body.points,
        body.reason,
        caller.actor,
        utcnow(),
        audit=(caller, "points.adjust", f"member:{member_id}"),
    )


class TransferIn(BaseModel):
    request_id: uuid.UUID
    to_member_id: str = Field(min_length=1, max_length=128)
    points: int = Field(gt=0, le=MAX_POINTS)
    note: str = Field(default="", max_length=500)


@api.post(
    "/members/{member_id}/transfers",
    status_code=201,
    response_model=out.Transferred,
    response_model_exclude_unset=True,
    **secured(P.POINTS_ADJUST),
)
async def transfer(member_id: str, body: TransferIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Give points to another member; idempotent by request_id."""
    return await _write(
        request,
        actions.transfer,
        body.request_id,
        member_id,
        body.to_member_id,
        body.points,
        body.note,
        utcnow(),
        audit=(caller, "points.transfer", f"member:{member_id}"),
    )


@api.get("/rules", response_model=out.Rules, **secured(P.PROGRAM_READ))
async def list_rules(request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        versions = await rule_set_versions(conn)
    settings: PointsSettings = request.app.state.settings
    if not versions:
        return {"versions": [{"version": 0, "rules": settings.default_rule_set().model_dump(mode="json")}]}
    return {"versions": [{"version": v, "rules": r.model_dump(mode="json")} for v, r in versions]}


@api.post("/rules", status_code=201, response_model=out.RulesAdded, **secured(P.PROGRAM_WRITE))
async def add_rules(rules: RuleSet, caller: Caller, request: Request) -> dict[str, Any]:
    """A new version of the earning rules, in force for purchases made from its effective_from."""
    async with request.app.state.engine.begin() as conn:
        versions = await rule_set_versions(conn)
        version = await add_rule_set(conn, rules, caller.actor)
        before = versions[-1][1] if versions else None
        await record(conn, caller, "rules.publish", f"rules:{version}", before=before, after=rules)
    return {"version": version, "effective_from": rules.effective_from.isoformat()}


@api.get("/partners/{partner_id}/settlement", response_model=out.Settlement, **secured(P.INSIGHT_READ))
async def settlement(
    partner_id: str,
    request: Request,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
) -> dict[str, Any]:
    """The points a partner brand funded in a period, per campaign, for its invoice."""
    async with request.app.state.engine.connect() as conn:
        lines = await partner_settlement(conn, partner_id, start, end)
    total = sum(line["points"] for line in lines)
    return {"partner_id": partner_id, "from": start, "to": end, "points": total, "lines": lines}


class RewardIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["discount_code", "free_item", "voucher"]
    cost_points: int = Field(gt=0, le=MAX_POINTS)
    stock: int | None = Field(default=None, ge=0, le=2**31 - 1, description="null: unlimited")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    active: bool = True


@api.get("/rewards", response_model=out.Catalog, **secured(P.PROGRAM_READ))
async def list_rewards(request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        return {"rewards": await catalog(conn)}


@api.put("/rewards/{reward_id}", response_model=out.Reward, **secured(P.PROGRAM_WRITE))
async def put_reward(reward_id: str, reward: RewardIn, caller: Caller, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.begin() as conn:
        before = next((r for r in await catalog(conn) if r.get("reward_id") == reward_id), None)
        await upsert_reward(conn, reward_id, reward.model_dump())
        await record(conn, caller, "reward.put", f"reward:{reward_id}", before=before, after=reward)
    return {"reward_id": reward_id, **reward.model_dump(mode="json")}


class RedemptionIn(BaseModel):
    request_id: uuid.UUID = Field(description="the POS's id for this redemption: a retry is the same one")
    member_id: str = Field(min_length=1, max_length=128)
    reward_id: str = Field(min_length=1, max_length=64)


@api.post(
    "/redemptions",
    status_code=201,
    response_model=out.Redemption,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT, member_in_body=True),
)
async def reserve(body: RedemptionIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Step one: hold the points and a unit of stock until confirmed, cancelled or timed out."""
    require_member(request, caller, P.MEMBER_ACT, body.member_id)
    return await _write(
        request,
        actions.reserve,
        body.request_id,
        body.member_id,
        body.reward_id,
        utcnow(),
        audit=_on_behalf(caller, "redemption.reserve", f"member:{body.member_id}"),
    )


@api.post(
    "/redemptions/{redemption_id}/confirm",
    response_model=out.Redemption,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT),
)
async def confirm(redemption_id: uuid.UUID, caller: Caller, request: Request) -> dict[str, Any]:
    """Step two: the sale went through; the reward's code is issued."""
    target = f"redemption:{redemption_id}"
    return await _write(
        request, actions.confirm, redemption_id, audit=_on_behalf(caller, "redemption.confirm", target)
    )


@api.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=out.Redemption,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT),
)
async def cancel(redemption_id: uuid.UUID, caller: Caller, request: Request) -> dict[str, Any]:
    """The sale did not go through: the points go back where they came from."""
    target = f"redemption:{redemption_id}"
    return await _write(
        request,
        actions.release,
        redemption_id,
        "cancelled",
        utcnow(),
        audit=_on_behalf(caller, "redemption.cancel", target),
    )


class CauseIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    match_ratio: Decimal = Field(
        default=Decimal(0), ge=0, le=10, decimal_places=2, description="brand points added per point given"
    )
    match_budget_points: int = Field(default=0, ge=0, le=MAX_POINTS)
    active: bool = True


@api.put("/causes/{cause_id}", response_model=out.Cause, **secured(P.PROGRAM_WRITE))
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


@api.post(
    "/members/{member_id}/donations",
    status_code=201,
    response_model=out.Donation,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT),
)
async def donate(member_id: str, body: DonationIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Give points to a cause; the brand's match is added while its budget lasts."""
    return await _write(
        request,
        actions.donate,
        body.request_id,
        member_id,
        body.cause_id,
        body.points,
        utcnow(),
        audit=_on_behalf(caller, "donation", f"member:{member_id}"),
    )


@api.get("/causes", response_model=out.Causes, **secured(P.PROGRAM_READ))
async def list_causes(request: Request) -> dict[str, Any]:
    """Every cause with what was given, matched, by how many members: the report of what was given."""
    async with request.app.state.engine.connect() as conn:
        return {"causes": await cause_report(conn)}


@api.get("/causes/{cause_id}", response_model=out.Cause, **secured(P.PROGRAM_READ))
async def get_cause(cause_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        found = await cause_report(conn, cause_id)
    if not found:
        raise NotFound(f"no cause {cause_id!r}", title="Unknown cause")
    return found[0]


@api.put("/games/{game_id}", status_code=201, response_model=out.GameView, **secured(P.PROGRAM_WRITE))
async def create_game_(
    game_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
    game: Game,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """An instant-win game (odds of winning something at least 25%): its seed is drawn now and only its
    SHA-256 is published, so the draws cannot be chosen later. A game cannot be changed once created."""
    seed = secrets.token_bytes(32)
    async with request.app.state.engine.begin() as conn:
        if not await create_game(conn, game_id, game, seed, commitment(seed)):
            detail = f"game {game_id!r} exists and cannot change: its seed is committed"
            raise Conflict(detail, title="Game exists")
        await record(conn, caller, "game.create", f"game:{game_id}", after=game)
    return await get_game(game_id, request)


@api.get("/games/{game_id}", response_model=out.GameView, **secured(P.PROGRAM_READ))
async def get_game(game_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        row = await game_of(conn, game_id)
        if row is None:
            raise NotFound(f"no game {game_id!r}", title="Unknown game")
        plays = await plays_of(conn, game_id)
    return {
        "game_id": game_id,
        **row.config,
        "win_odds": f"{Game.model_validate(row.config).win_odds:f}",
        "commitment": row.commitment,
        "plays": len(plays),
        "prizes_won": sum(1 for p in plays if p["prize"]),
        "budget_left": row.budget_left,
        "stock_left": row.stock_left,
    }


@api.get("/games/{game_id}/audit", response_model=out.GameAudit, **secured(P.INSIGHT_READ))
async def game_audit(
    game_id: str,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    """Every play with its proof, oldest first, a page at a time (``next_offset`` while there is more);
    once the game has ended, the seed too, so anyone can check it against the commitment published at
    creation and recompute every draw."""
    async with request.app.state.engine.connect() as conn:
        row = await game_of(conn, game_id)
        if row is None:
            raise NotFound(f"no game {game_id!r}", title="Unknown game")
        plays = await plays_of(conn, game_id, offset, limit + 1)  # one more: is there a next page
    more = len(plays) > limit
    plays = plays[:limit]
    ended = utcnow() >= row.ends_at
    return {
        "game_id": game_id,
        "commitment": row.commitment,
        "seed": row.seed.hex() if ended else None,
        "how_to_verify": "sha256(seed) == commitment; each proof == HMAC-SHA256(seed, "
        "'<game_id>:<play_id>'); the roll is the proof's first 16 hex digits / 2^64, and the prize the one "
        "whose slice of the published odds, in order, holds it",
        "plays": [_play_json(p) for p in plays],
        "next_offset": offset + limit if more else None,
    }


def _play_json(play: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in play.items() if k != "game_id"}


@api.put("/programs/{program_id}", response_model=out.ProgramView, **secured(P.PROGRAM_WRITE))
async def put_program_end(
    program_id: Annotated[str, Path(min_length=1, max_length=64)],
    end: ProgramEnd,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """A time-limited program: when it ends, the reminders before, and what members' remaining points
    become at the end (a voucher at ``convert_rate``, or a parting gift). Settled programs stay settled."""
    async with request.app.state.engine.begin() as conn:
        before = await program_end_of(conn, program_id)
        if not await upsert_program_end(conn, program_id, end):
            raise Conflict(f"program {program_id!r} has ended and was settled", title="Program closed")
        old = before.config if before is not None else None
        await record(conn, caller, "program.put", f"program:{program_id}", before=old, after=end)
    return await get_program_end(program_id, request)


@api.get("/programs/{program_id}", response_model=out.ProgramView, **secured(P.PROGRAM_READ))
async def get_program_end(program_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        row = await program_end_of(conn, program_id)
    if row is None:
        raise NotFound(f"no program {program_id!r}", title="Unknown program")
    return {"program_id": program_id, **row.config, "closed_at": row.closed_at}


@api.put("/challenges/{challenge_id}", response_model=out.ChallengeView, **secured(P.PROGRAM_WRITE))
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


@api.get("/members/{member_id}/challenges", response_model=out.MemberChallenges, **secured(P.MEMBER_READ))
async def get_member_challenges(member_id: str, request: Request) -> dict[str, Any]:
    """A member's progress in each challenge by month, and the badges earned."""
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "challenges": await member_challenges(conn, member_id)}


@api.put("/referrals/program", response_model=ReferralProgram, **secured(P.PROGRAM_WRITE))
async def put_referral_program(program: ReferralProgram, caller: Caller, request: Request) -> dict[str, Any]:
    """The referral program's terms: points for each side, the friend's minimum purchase, the return
    window it must clear, and how long after enrolling the friend has to make it."""
    async with request.app.state.engine.begin() as conn:
        before = await referrals.program_terms(conn)
        await referrals.put_program_terms(conn, program)
        await record(conn, caller, "referrals.put", "referrals:program", before=before, after=program)
    return program.model_dump(mode="json")


@api.get("/referrals/program", response_model=ReferralProgram, **secured(P.PROGRAM_READ))
async def get_referral_program(request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        program = await referrals.program_terms(conn)
    if program is None:
        raise NotFound("no referral program has been set up", title="No referral program")
    return program.model_dump(mode="json")


@api.post("/members/{member_id}/referral-code", response_model=out.ReferralCode, **secured(P.MEMBER_ACT))
async def referral_code(
    member_id: Annotated[str, Path(min_length=1, max_length=128)], request: Request
) -> dict[str, Any]:
    """The member's code to share (made on first asking; the same code ever after)."""
    async with request.app.state.engine.begin() as conn:
        return {"member_id": member_id, "code": await referrals.issue_code(conn, member_id)}


@api.get("/members/{member_id}/referrals", response_model=out.MemberReferrals, **secured(P.MEMBER_READ))
async def member_referrals(member_id: str, request: Request) -> dict[str, Any]:
    """A member's code, the friends they referred with where each stands, and who referred them."""
    async with request.app.state.engine.connect() as conn:
        return await referrals.of_member(conn, member_id)


@api.get("/members/{member_id}/export", response_model=out.Export, **secured(P.MEMBER_READ))
async def export(member_id: str, request: Request) -> dict[str, Any]:
    """Everything points holds of the member, as one JSON document: balance, every ledger entry with
    its explanation, referrals, challenges (ingest, tiers and notify export their own parts)."""
    async with request.app.state.engine.connect() as conn:
        found = await balance_of(conn, member_id)
        return {
            "member_id": member_id,
            "balance": found[0] if found else 0,
            "debt": found[1] if found else 0,
            "ledger": await ledger_page(conn, member_id, None, EXPORT_LIMIT),
            "referrals": await referrals.of_member(conn, member_id),
            "challenges": await member_challenges(conn, member_id),
        }
