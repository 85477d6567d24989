"""A time-limited program's end: put (or moved) by an operator, read by anyone with the right."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from services.points.domain.loyalty import MAIN
from services.points.http import InProgram
from services.points.programs.sunset.domain import ProgramEnd
from services.points.programs.sunset.store import (
    all_program_ends,
    open_programs,
    program_end_of,
    upsert_program_end,
)
from services.points.store.ledger import balance_of
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.money import Currency, Money
from shared.errors import Conflict, NotFound
from shared.identity import Caller, Permission, secured
from shared.wire import OpenOut, Out

router = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)
P = Permission


class ProgramView(OpenOut):
    """The time-limited program as put (its configuration's keys too), and when it was settled."""

    program_id: str
    closed_at: datetime | None


class ProgramViews(Out):
    programs: list[ProgramView]


@router.get("/programs", response_model=ProgramViews, **secured(P.PROGRAM_READ))
async def list_program_ends(request: Request) -> dict[str, Any]:
    """Every time-limited program, the one ending first first, settled ones with when."""
    async with request.app.state.engine.connect() as conn:
        rows = await all_program_ends(conn)
    return {"programs": [_view(row) for row in rows]}


@router.put("/programs/{program_id}", response_model=ProgramView, **secured(P.PROGRAM_WRITE))
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


@router.get("/programs/{program_id}", response_model=ProgramView, **secured(P.PROGRAM_READ))
async def get_program_end(program_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        row = await program_end_of(conn, program_id)
    if row is None:
        raise NotFound(f"no program {program_id!r}", title="Unknown program")
    return _view(row)


def _view(row: Any) -> dict[str, Any]:
    return {"program_id": row.program_id, **row.config, "closed_at": row.closed_at}


class PointsValue(Out):
    member_id: str
    points: int
    value: Money = Field(description="what the points become in money when the program ends")
    currency: Currency
    program_id: str = Field(description="the time-limited program that converts them")
    ends_at: datetime


@router.get("/members/{member_id}/points-value", response_model=PointsValue, **secured(P.MEMBER_READ))
async def points_value(member_id: str, request: Request, loyalty: InProgram = MAIN) -> dict[str, Any]:
    """What a member's balance is worth in money: only where a conversion applies, that is a
    time-limited program ending with its points converted at ``convert_rate`` (404 otherwise: points
    have no money value of their own)."""
    async with request.app.state.engine.connect() as conn:
        ending = [(p, e) for p, e in await open_programs(conn) if e.loyalty_program == loyalty]
        found = await balance_of(conn, member_id, loyalty)
    # The first end settles the balance: a parting gift then is no money.
    program_id, end = min(ending, key=lambda one: one[1].ends_at) if ending else ("", None)
    points = found[0] if found else 0
    value: Decimal | None = end.value_of(points) if end is not None else None
    if end is None or value is None:
        raise NotFound("no conversion applies to these points", title="No conversion")
    return {"member_id": member_id, "points": points, "value": value, "currency": end.currency,
            "program_id": program_id, "ends_at": end.ends_at}  # fmt: skip
