"""Every figure of the program for a period and scope: read from the store, meant by the domain.

The HTTP API, the KPI gauges and `make report` all take their numbers from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.domain import kpis
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import repository as store
from services.analytics.store.repository import Scope

YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def discount(self, yearly: Decimal) -> Decimal:
        """The yearly discount rate scaled to this period's length."""
        years = Decimal((self.end - self.start).total_seconds()) / Decimal(YEAR.total_seconds())
        return (1 + yearly) ** years - 1


async def summary(
    conn: AsyncConnection, settings: AnalyticsSettings, scope: Scope, period: Period
) -> dict[str, Any]:
    totals = await store.totals_of(conn, scope, period.start, period.end)
    year_net, year_customers = await store.totals_between(conn, scope, period.end - YEAR, period.end)
    return kpis.summary(
        totals,
        year_net=year_net,
        year_customers=year_customers,
        margin=settings.analytics_gross_margin,
        period_discount=period.discount(settings.analytics_discount_rate),
    )


async def cohorts(conn: AsyncConnection, scope: Scope, end: datetime) -> list[dict[str, Any]]:
    months = await store.months_of(conn, scope, end)
    first: dict[str, str] = {}
    for member, month in months:
        first[member] = min(month, first.get(member, month))
    return kpis.cohort_retention(first, months)


async def points(conn: AsyncConnection, scope: Scope, period: Period) -> dict[str, Any]:
    moves, funded, outstanding = await store.points_between(conn, scope, period.start, period.end)
    return kpis.points_economics(moves, funded, outstanding)


async def vip(conn: AsyncConnection, scope: Scope, period: Period) -> dict[str, Any]:
    held = kpis.vip_at(await store.vip_orders_until(conn, scope, period.end), period.start, period.end)
    holders = set(held.pop("holders"))
    customers = await store.customers_between(conn, scope, period.start, period.end)
    held["revenue"] = sum((c.net for c in customers if c.member_id in holders), Decimal(0))
    return held


async def everything(
    conn: AsyncConnection,
    settings: AnalyticsSettings,
    scope: Scope,
    period: Period,
    partner: str | None = None,
) -> dict[str, Any]:
    return {
        "period": {"from": period.start, "to": period.end},
        "scope": vars(scope),
        "summary": await summary(conn, settings, scope, period),
        "cohorts": await cohorts(conn, scope, period.end),
        "points": await points(conn, scope, period),
        "tiers": await store.tiers_at(conn, scope, period.start, period.end),
        "vip": await vip(conn, scope, period),
        "partners": await store.partners_between(conn, scope, period.start, period.end, partner),
        "segments": await store.segment_counts(conn, scope.program),
        "notifications": await store.notifications_between(conn, period.start, period.end),
    }
