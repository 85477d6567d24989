"""The points HTTP API: reads for members and support staff, and the operator's and POS's writes.

Every route names the permission it needs (shared/identity.py); who made a write comes from the
caller's token, and every operator write is recorded in the audit log with the state before and after.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.points import actions
from services.points import schemas as out
from services.points.domain import opening
from services.points.domain.loyalty import MAIN, PROGRAM_ID, LoyaltyProgram
from services.points.domain.rules import RuleSet
from services.points.http import InProgram, known_program, on_behalf, write_through
from services.points.preview import preview
from services.points.program import Program
from services.points.settings import PointsSettings
from services.points.store.earning import (
    add_rule_set,
    earned_by_purchases,
    first_credits,
    partner_settlement,
    purchases_between,
    rule_set_versions,
    tier_steps_of,
)
from services.points.store.ledger import balance_of, balances_of, ledger_page, open_lots
from services.points.store.loyalty import loyalty_program, loyalty_programs, put_loyalty_program
from services.points.store.rewards import catalog, redemption_member, upsert_reward
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts import LOYALTY_PROGRAM_DEFINED, LoyaltyProgramDefined
from shared.contracts.common import MAX_POINTS
from shared.contracts.envelope import utcnow
from shared.errors import Declined, Invalid, NotFound
from shared.identity import Caller, Permission, require_member, secured
from shared.outbox import append, emitted
from shared.refusal import Refused

api = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)


P = Permission
# The most ledger entries one export carries (a member with more is exported by the ledger's pages).
EXPORT_LIMIT = 100_000
# A preview's longest period (the purchases it replays are kept VAFA_POINTS_PURCHASE_HISTORY_DAYS, 120 by
# default), and the most purchases one replays: it runs in the request, off the event loop, in seconds.
PREVIEW_MAX_DAYS = 120
PREVIEW_MAX_PURCHASES = 200_000


@api.get("/members/{member_id}/balance", response_model=out.Balance, **secured(P.MEMBER_READ))
async def get_balance(member_id: str, request: Request, program: InProgram = MAIN) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        found = await balance_of(conn, member_id, program)
    if found is None:
        raise NotFound(f"member {member_id!r} has no points yet", title="Unknown member")
    return {"member_id": member_id, "balance": found[0], "debt": found[1]}


@api.get("/members/{member_id}/ledger", response_model=out.Ledger, **secured(P.MEMBER_READ))
async def get_ledger(
    member_id: str,
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="entry id to page back from")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    program: InProgram = MAIN,
) -> dict[str, Any]:
    """Every entry, newest first, each with its explanation (the rules that gave the points)."""
    async with request.app.state.engine.connect() as conn:
        entries = await ledger_page(conn, member_id, before, limit, program)
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
    return await write_through(
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


class OpeningRow(BaseModel):
    """A row as it was in the file: points judges each row and says what is wrong with it, rather than
    refusing the whole file for one bad row."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=1, le=10 * opening.MAX_ROWS)
    member_id: str = Field(max_length=1000)
    points: str = Field(max_length=100)


class OpeningImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    import_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$", description="e.g. the file's SHA-256"
    )
    dry_run: bool = True
    rows: list[OpeningRow] = Field(min_length=1, max_length=opening.MAX_ROWS)


@api.post("/imports/opening-balances", response_model=out.OpeningImport, **secured(P.POINTS_ADJUST))
async def import_opening_balances(
    body: OpeningImportIn, caller: Caller, request: Request, program: InProgram = MAIN
) -> dict[str, Any]:
    """Members' opening balances from the program a chain moves from: each good row credits an
    ``opening_balance`` entry (one per member and program, ever: a second upload credits nothing twice);
    each bad row is answered with its field and rule. ``dry_run`` (the default) changes nothing. The
    import is audited under the operator's name."""
    rows = [(r.row, r.member_id, r.points.strip()) for r in body.rows]
    async with request.app.state.engine.begin() as conn:
        await known_program(conn, program)
        answer = await actions.import_openings(
            conn, request.app.state.settings, body.import_id, rows, body.dry_run, program, caller.actor,
            utcnow(),
        )  # fmt: skip
        if not body.dry_run:
            summary = {k: v for k, v in answer.items() if k != "errors"} | {"bad_rows": len(answer["errors"])}
            await record(conn, caller, "opening_balances.import", f"import:{body.import_id}", after=summary)
    request.app.state.wake_relay()
    return answer


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
    return await write_through(
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
async def list_rules(request: Request, program: InProgram = MAIN) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        versions = await rule_set_versions(conn, None, program)
    settings: PointsSettings = request.app.state.settings
    if not versions:
        return {"versions": [{"version": 0, "rules": settings.default_rule_set().model_dump(mode="json")}]}
    return {"versions": [{"version": v, "rules": r.model_dump(mode="json")} for v, r in versions]}


@api.post("/rules", status_code=201, response_model=out.RulesAdded, **secured(P.PROGRAM_WRITE))
async def add_rules(
    rules: RuleSet, caller: Caller, request: Request, program: InProgram = MAIN
) -> dict[str, Any]:
    """A new version of a program's earning rules, in force for purchases made from its effective_from."""
    async with request.app.state.engine.begin() as conn:
        await known_program(conn, program)
        versions = await rule_set_versions(conn, None, program)
        version = await add_rule_set(conn, rules, caller.actor, program)
        before = versions[-1][1] if versions else None
        target = f"rules:{version}" if program == MAIN else f"rules:{program}:{version}"
        await record(conn, caller, "rules.publish", target, before=before, after=rules)
    return {"version": version, "effective_from": rules.effective_from.isoformat()}


@api.get("/partners/{partner_id}/settlement", response_model=out.Settlement, **secured(P.INSIGHT_READ))
async def settlement(
    partner_id: str,
    request: Request,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
    program: InProgram = MAIN,
) -> dict[str, Any]:
    """The points a partner brand funded in a period, per campaign, for its invoice."""
    async with request.app.state.engine.connect() as conn:
        lines = await partner_settlement(conn, partner_id, start, end, program)
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
    return await write_through(
        request,
        actions.reserve,
        body.request_id,
        body.member_id,
        body.reward_id,
        utcnow(),
        audit=on_behalf(caller, "redemption.reserve", f"member:{body.member_id}"),
    )


@api.post(
    "/redemptions/{redemption_id}/confirm",
    response_model=out.Redemption,
    response_model_exclude_unset=True,
    **secured(P.MEMBER_ACT, member_in_body=True),
)
async def confirm(redemption_id: uuid.UUID, caller: Caller, request: Request) -> dict[str, Any]:
    """Step two: the sale went through (or, in the member portal, the member takes the reward); the
    reward's code is issued. A member confirms only a redemption of their own."""
    if caller.kind == "member":
        async with request.app.state.engine.connect() as conn:
            whose = await redemption_member(conn, redemption_id)
        # One that does not exist is refused the same: a member learns nothing of others' ids.
        require_member(request, caller, P.MEMBER_ACT, whose or "")
    target = f"redemption:{redemption_id}"
    return await write_through(
        request, actions.confirm, redemption_id, audit=on_behalf(caller, "redemption.confirm", target)
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
    return await write_through(
        request,
        actions.release,
        redemption_id,
        "cancelled",
        utcnow(),
        audit=on_behalf(caller, "redemption.cancel", target),
    )


@api.get("/members/{member_id}/balances", response_model=out.Balances, **secured(P.MEMBER_READ))
async def get_balances(member_id: str, request: Request) -> dict[str, Any]:
    """The member's balance in each loyalty program they have points in."""
    async with request.app.state.engine.connect() as conn:
        found = await balances_of(conn, member_id)
    return {"member_id": member_id, "programs": found}


@api.get("/loyalty-programs", response_model=out.LoyaltyPrograms, **secured(P.PROGRAM_READ))
async def list_loyalty_programs(request: Request) -> dict[str, Any]:
    """The loyalty programs run side by side: ``main`` (every chain) and any other, each with the chains
    and partner brands whose purchases earn in it."""
    async with request.app.state.engine.connect() as conn:
        found = await loyalty_programs(conn)
    return {"programs": [{"program_id": k, **v.model_dump(mode="json")} for k, v in found.items()]}


@api.put("/loyalty-programs/{program_id}", response_model=out.LoyaltyProgramView, **secured(P.PROGRAM_WRITE))
async def put_loyalty_program_(
    program_id: Annotated[str, Path(pattern=PROGRAM_ID)],
    program: LoyaltyProgram,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """Run a loyalty program beside the others (a chain's own beside a coalition), or change one. Its
    purchases earn by its own rules (``POST /v1/rules?program=``), into its own balances."""
    if program_id == MAIN and (program.chains or not program.active):
        raise Invalid(
            "main is open to every chain and cannot be closed", field="chains", rule="main_program_open"
        )
    async with request.app.state.engine.begin() as conn:
        before = await loyalty_program(conn, program_id)
        await put_loyalty_program(conn, program_id, program)
        # Tiers and analytics keep a ladder and KPIs per program: they learn of it from the bus.
        told = LoyaltyProgramDefined(program_id=program_id, **program.model_dump(mode="json"))
        await append(conn, [emitted(request.app.state.settings, LOYALTY_PROGRAM_DEFINED, program_id, told)])
        await record(conn, caller, "loyalty_program.put", f"loyalty_program:{program_id}", before=before,
                     after=program)  # fmt: skip
    request.app.state.wake_relay()
    return {"program_id": program_id, **program.model_dump(mode="json")}


@api.get("/members/{member_id}/export", response_model=out.Export, **secured(P.MEMBER_READ))
async def export(member_id: str, request: Request) -> dict[str, Any]:
    """Everything points holds of the member, as one JSON document: balance, every ledger entry with
    its explanation, and each program's part (referrals, challenges); ingest, tiers and notify export
    their own parts."""
    programs: list[Program] = request.app.state.programs
    async with request.app.state.engine.connect() as conn:
        found = await balance_of(conn, member_id)
        document = {
            "member_id": member_id,
            "balance": found[0] if found else 0,
            "debt": found[1] if found else 0,
            "ledger": await ledger_page(conn, member_id, None, EXPORT_LIMIT),
        }
        for program in programs:
            if program.export is not None:
                document |= await program.export(conn, member_id)
        return document


class PreviewIn(BaseModel):
    """A candidate rule set and the period to replay it over: the last ``days``, or ``from`` and ``to``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rules: RuleSet
    days: int | None = Field(default=None, ge=1, le=PREVIEW_MAX_DAYS)
    start: AwareDatetime | None = Field(default=None, alias="from")
    end: AwareDatetime | None = Field(default=None, alias="to")
    top: int = Field(default=10, ge=1, le=100, description="how many members to list")

    @model_validator(mode="after")
    def _one_period(self) -> PreviewIn:
        if (self.days is None) == (self.start is None and self.end is None):
            raise Refused("days", "one_period", "give days, or from and to")
        if self.days is None:
            if self.start is None or self.end is None:
                raise Refused("to" if self.end is None else "from", "period_incomplete", "give from and to")
            if self.end <= self.start:
                raise Refused("to", "window_empty", "to must be after from")
            if self.end - self.start > timedelta(days=PREVIEW_MAX_DAYS):
                raise Refused("to", "period_too_long", f"a period is at most {PREVIEW_MAX_DAYS} days")
        return self


@api.post("/rules/preview", response_model=out.RulePreview, **secured(P.PROGRAM_WRITE))
async def preview_rules(body: PreviewIn, request: Request, program: InProgram = MAIN) -> dict[str, Any]:
    """Had ``rules`` been in force over the period, what the purchases made in it would have earned,
    against what they did: totals and the members whose points change most. Changes nothing.

    Replays the purchases kept as they came through the rules engine (``services/points/preview.py``
    says what it leaves out: partner campaigns, targeted promotions, returns). program:write, not
    program:read: it is the rules editor's tool, it names members and what they earned (program:read
    is every member's own right, to read the rules), and each call replays up to months of purchases."""
    settings: PointsSettings = request.app.state.settings
    now = utcnow()
    end = min(body.end or now, now)
    start = body.start or end - timedelta(days=body.days or 0)
    kept_since = now - timedelta(days=settings.points_purchase_history_days)
    if start < kept_since:
        field = "from" if body.start else "days"
        raise Declined(
            f"purchases are kept {settings.points_purchase_history_days:g} days: the period starts before",
            field=field, rule="before_history",
        )  # fmt: skip
    async with request.app.state.engine.connect() as conn:
        loyalty = (await loyalty_programs(conn)).get(program)
        if loyalty is None:
            raise NotFound(f"there is no loyalty program {program!r}", title="Unknown program")
        kept = await purchases_between(conn, start, end, limit=PREVIEW_MAX_PURCHASES + 1)
        if len(kept) > PREVIEW_MAX_PURCHASES:
            raise Declined(
                f"the period holds more than {PREVIEW_MAX_PURCHASES} purchases: preview a shorter one",
                field="from" if body.start else "days", rule="too_many_purchases",
            )  # fmt: skip
        kept = [k for k in kept if loyalty.takes_chain(k.purchase.chain_id)]  # the program's purchases
        members = {k.purchase.member_id for k in kept}
        ids = [k.event_id for k in kept]
        earned = await earned_by_purchases(conn, ids, program)
        tiers = await tier_steps_of(conn, members, program)
        firsts = await first_credits(conn, members, program)
    # CPU-bound: off the event loop, so the service's consumer and other requests go on meanwhile.
    found = await asyncio.to_thread(preview, body.rules, kept, earned, tiers, firsts, body.top)
    return {
        "from": start, "to": end, "purchases": found.purchases, "members": found.members,
        "points_now": found.points_now, "points_candidate": found.points_candidate,
        "difference": found.difference,
        "top": [
            {"member_id": f.member_id, "purchases": f.purchases, "now": f.now, "candidate": f.candidate,
             "difference": f.difference}
            for f in found.top
        ],
    }  # fmt: skip


@api.get("/members/{member_id}/lots", response_model=out.Lots, **secured(P.MEMBER_READ))
async def get_lots(member_id: str, request: Request, program: InProgram = MAIN) -> dict[str, Any]:
    """The member's lots with points left, oldest first (spent and expiring in that order), each with
    when it was earned and when what is left of it expires."""
    async with request.app.state.engine.connect() as conn:
        if await balance_of(conn, member_id, program) is None:
            raise NotFound(f"member {member_id!r} has no points yet", title="Unknown member")
        return {"member_id": member_id, "lots": await open_lots(conn, member_id, program)}
