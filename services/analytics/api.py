"""HTTP reads of every KPI, for a period and scope (loyalty program, currency, chain, store, segment;
partner where it applies). Periods are [from, to) in UTC; the last 30 days when not given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime

from services.analytics import figures
from services.analytics import schemas as out
from services.analytics.domain.facts import MAIN
from services.analytics.domain.kpis import Group, promotion_lift
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import repository
from shared.boundary import GuardedRoute
from shared.contracts.common import PROGRAM_ID_PATTERN
from shared.contracts.envelope import utcnow
from shared.errors import Invalid, NotFound
from shared.identity import Permission, secured

api = APIRouter(prefix="/v1/kpis", tags=["analytics"], route_class=GuardedRoute)
INSIGHT = secured(Permission.INSIGHT_READ)
EARLIEST, LATEST = datetime(1971, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC)


def exact(figures: dict[str, Any]) -> dict[str, Any]:
    """Decimals as JSON strings: money and ratios keep every digit (FastAPI would make them floats)."""
    encoded: dict[str, Any] = jsonable_encoder(figures, custom_encoder={Decimal: str})
    return encoded


async def known_program(
    request: Request,
    program: Annotated[
        str,
        Query(
            pattern=PROGRAM_ID_PATTERN,
            description="the loyalty program (default: main, every chain)",
        ),
    ] = MAIN,
) -> str:
    """The program asked for, known to analytics (main, or one points has told of), or a 404."""
    if program != MAIN:
        async with request.app.state.engine.connect() as conn:
            if program not in await repository.programs(conn):
                raise NotFound(f"there is no loyalty program {program!r}", title="Unknown program")
    return program


Program = Annotated[str, Depends(known_program)]


class Filters:
    def __init__(
        self,
        request: Request,
        start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        currency: str | None = None,
        chain: str | None = None,
        store: str | None = None,
        segment: str | None = None,
    ) -> None:
        settings: AnalyticsSettings = request.app.state.settings
        end = end or utcnow()
        # Periods are compared with the one before them and the year before their end: keep those in
        # range (the fuzzer asked for the year 1 and got a 500 before this).
        if not EARLIEST <= end <= LATEST or (start is not None and start < EARLIEST):
            raise Invalid(f"a period lies between {EARLIEST:%Y} and {LATEST:%Y}")
        start = start or end - timedelta(days=30)
        if start >= end:
            raise Invalid(f"'from' ({start}) must be before 'to' ({end})", title="Empty period")
        if end - start > timedelta(days=settings.analytics_max_period_days):
            longest = settings.analytics_max_period_days
            raise Invalid(
                f"a period is at most {longest} days, not {(end - start).days}",
                field="from",
                rule="period_too_long",
                message=f"ask for {longest} days or less",
            )
        self.period = figures.Period(start, end)
        self.scope = repository.Scope(currency or settings.analytics_currency, chain, store, segment)
        self.settings = settings
        self.engine = request.app.state.engine


Unscoped = Annotated[Filters, Depends()]


def for_program(f: Unscoped, program: Program) -> Filters:
    f.scope = replace(f.scope, program=program)
    return f


Chosen = Annotated[Filters, Depends(for_program)]


@api.get("/summary", response_model=out.Summary, **INSIGHT)
async def summary(f: Chosen) -> dict[str, Any]:
    """N, V, F, S, revenue, ATV, repeat rate, retention and churn, annual sales per customer, CLV, the
    80/20 share, members vs non-members."""
    async with f.engine.connect() as conn:
        return {"period": vars(f.period), "scope": vars(f.scope)} | await figures.summary(
            conn, f.settings, f.scope, f.period
        )


@api.get("/cohorts", response_model=out.Cohorts, **INSIGHT)
async def cohorts(f: Chosen) -> dict[str, Any]:
    """Monthly cohorts by first purchase, and the share of each buying in every later month."""
    async with f.engine.connect() as conn:
        return exact({"to": f.period.end, "cohorts": await figures.cohorts(conn, f.scope, f.period.end)})


@api.get("/points", response_model=out.PointsFigures, **INSIGHT)
async def points(f: Chosen) -> dict[str, Any]:
    """Points issued, redeemed, expired, outstanding liability, redemption and breakage rates."""
    async with f.engine.connect() as conn:
        return exact(await figures.points(conn, f.scope, f.period))


@api.get("/tiers", response_model=out.TiersFigures, **INSIGHT)
async def tiers(f: Chosen) -> dict[str, Any]:
    """Members per tier at the period's end, moves between tiers in it, and paid VIP members."""
    async with f.engine.connect() as conn:
        moves = await repository.tiers_at(conn, f.scope, f.period.start, f.period.end)
        return exact(moves | {"vip": await figures.vip(conn, f.scope, f.period)})


@api.get("/partners", response_model=out.Partners, **INSIGHT)
async def partners(f: Chosen, partner: str | None = None) -> dict[str, Any]:
    """Co-brand contribution per partner: purchases, amount, members reached."""
    async with f.engine.connect() as conn:
        found = await repository.partners_between(conn, f.scope, f.period.start, f.period.end, partner)
        return exact({"partners": found})


@api.get("/segments", response_model=out.Segments, **INSIGHT)
async def segments(request: Request, program: Program) -> dict[str, Any]:
    """The program's members per loyalty x profitability segment and per RFM label, as last computed."""
    async with request.app.state.engine.connect() as conn:
        return await repository.segment_counts(conn, program)


@api.get("/notifications", response_model=out.Notifications, **INSIGHT)
async def notifications(f: Unscoped) -> dict[str, Any]:
    """Messages per channel and outcome."""
    async with f.engine.connect() as conn:
        return {"channels": await repository.notifications_between(conn, f.period.start, f.period.end)}


@api.get("/promotions", response_model=out.Promotions, **INSIGHT)
async def promotions(f: Chosen, promotion: str | None = None) -> dict[str, Any]:
    """Each targeted promotion's lift: the members it chose, treatment against holdout, from their
    choosing to the period's end (``from`` is not used: a promotion is followed from its start)."""
    empty = Group(0, 0, 0, Decimal(0))
    async with f.engine.connect() as conn:
        found = await repository.promotion_groups(conn, f.scope, f.period.end, promotion)
    return exact(
        {
            "to": f.period.end,
            "promotions": [
                {"promotion": name}
                | promotion_lift(groups.get("treatment", empty), groups.get("holdout", empty))
                for name, groups in sorted(found.items())
            ],
        }
    )
