"""The Insight page: the program's KPIs, as analytics computes them (``/v1/kpis/*``: the same figures
as its gauges and `make report`), for a period, a chain and a loyalty program, drawn as charts a
marketer reads at a glance; and the same figures as CSV. ``insight:read`` (admin, marketer, analyst,
read-only): program-wide commercial figures, not what support needs at the desk (support has no
``insight:read`` in shared/identity.py)."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import charts
from services.console.render import render
from services.console.session import signed_in
from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN
from shared.identity import Permission, declared
from shared.web.backends import Backends, Block
from shared.web.session import settings_of

P = Permission
insight_pages = APIRouter(default_response_class=HTMLResponse)
# The period's length: the form offers 7, 30, 90 and 365 days; analytics takes up to a year and a day.
Days = Annotated[int, Query(ge=1, le=366)]
# The period is cut into this many slices for the trend of active customers and revenue.
SLICES = 6
# The headline KPIs, in the order the page and the CSV give them (analytics' summary keys).
HEADLINE = ("N", "V", "F", "S", "average_transaction_value", "net_revenue", "customer_lifetime_value")
RATIOS = ("retention_rate", "churn_rate", "repeat_purchase_rate", "top_20_percent_revenue_share")
POINTS = ("issued", "redeemed", "expired", "outstanding_liability", "redemption_rate", "breakage_rate")


@dataclass(frozen=True)
class Filters:
    days: int
    end: date  # the period's last day, whole (UTC)
    chain: str
    program: str

    @property
    def period(self) -> tuple[datetime, datetime]:
        stop = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)
        return stop - timedelta(days=self.days), stop

    def slices(self) -> list[tuple[datetime, datetime]]:
        start, stop = self.period
        step = (stop - start) / SLICES
        return [(start + step * i, start + step * (i + 1)) for i in range(SLICES)]

    def params(self, start: datetime | None = None, stop: datetime | None = None) -> dict[str, str]:
        """Analytics' query for this scope and the period (or a slice of it)."""
        whole = self.period
        found = {"from": (start or whole[0]).isoformat(), "to": (stop or whole[1]).isoformat(),
                 "program": self.program}  # fmt: skip
        return found | ({"chain": self.chain} if self.chain else {})

    def query(self) -> str:
        """This page's own query (for the CSV link)."""
        found = {"days": self.days, "to": self.end.isoformat(), "program": self.program}
        return urlencode(found | ({"chain": self.chain} if self.chain else {}))


Chain = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")]
Program = Annotated[str, Query(max_length=64, pattern=PROGRAM_ID_PATTERN)]
ToDay = Annotated[date | None, Query(alias="to", ge=date(1971, 1, 2), le=date(2998, 12, 30))]


def _asked(days: Days = 30, to: ToDay = None, chain: Chain = "", program: Program = MAIN_PROGRAM) -> Filters:
    """The page's query: the period's length and last day (today by default), the chain, the program."""
    return Filters(days, to or datetime.now(UTC).date(), chain.strip(), program or MAIN_PROGRAM)


Asked = Annotated[Filters, Depends(_asked)]


async def _figures(request: Request, token: str, f: Filters) -> dict[str, Any]:
    """Every block of the page, each from analytics (the programs from points), asked at once."""
    async with Backends(settings_of(request), token) as call:
        summary, points, segments, programs, *trend = await asyncio.gather(
            call.get("analytics", "/v1/kpis/summary", P.INSIGHT_READ, params=f.params()),
            call.get("analytics", "/v1/kpis/points", P.INSIGHT_READ, params=f.params()),
            call.get("analytics", "/v1/kpis/segments", P.INSIGHT_READ, params={"program": f.program}),
            call.get("points", "/v1/loyalty-programs", P.PROGRAM_READ),
            *(call.get("analytics", "/v1/kpis/summary", P.INSIGHT_READ, params=f.params(a, b))
              for a, b in f.slices()),
        )  # fmt: skip
    return {"summary": summary, "points": points, "segments": segments, "programs": programs, "trend": trend}


def _decimal(value: Any, places: Decimal = Decimal("0.01")) -> Decimal | int | None:
    """A figure as the page shows it: a whole number, or a decimal to ``places`` (ratios keep theirs)."""
    if value is None or isinstance(value, int):
        return value
    return Decimal(str(value)).quantize(places)


def _ratio(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _view(f: Filters, blocks: dict[str, Any]) -> dict[str, Any]:
    summary, points, segments, trend = (
        blocks["summary"],
        blocks["points"],
        blocks["segments"],
        blocks["trend"],
    )
    view: dict[str, Any] = {"f": f, "period": f.period, "csv": f"/insight.csv?{f.query()}"}
    view |= {"summary": summary, "points": points, "segments": segments}
    view["programs"] = (
        [(p["program_id"], p["name"]) for p in blocks["programs"].data["programs"]]
        if blocks["programs"].ok
        else [(MAIN_PROGRAM, MAIN_PROGRAM)]
    )
    if summary.ok:
        view["headline"] = [(k, _decimal(summary.data[k])) for k in HEADLINE]
        view["ratios"] = [(k, _ratio(summary.data[k]), charts.share(summary.data[k])) for k in RATIOS]
    if points.ok:
        view["points_figures"] = [
            (k, _ratio(points.data[k]) if k.endswith("_rate") else points.data[k]) for k in POINTS
        ]
        moves = [(k, int(points.data[k])) for k in ("issued", "redeemed", "expired")]
        view["points_columns"] = charts.columns(moves, width=300)
    if segments.ok:
        view["matrix"] = charts.matrix(segments.data["matrix"])
        view["lapsed"] = segments.data["matrix"].get("lapsed", 0)
    if all(s.ok for s in trend):
        # Each slice under the day it starts on.
        starts = [a.date() for a, _ in f.slices()]
        view["trend_n"] = charts.columns([(a, s.data["N"]) for a, s in zip(starts, trend, strict=True)])
        revenue = [(a, _decimal(s.data["net_revenue"]) or 0) for a, s in zip(starts, trend, strict=True)]
        view["trend_revenue"] = charts.columns(revenue)
    return view


@insight_pages.get("/insight", **declared(P.INSIGHT_READ))
async def insight(request: Request, f: Asked) -> Response:
    """The KPIs of the period (its last ``days`` to ``to``, whole UTC days), of one chain or all, in one
    loyalty program."""
    current = signed_in(request, P.INSIGHT_READ)
    blocks = await _figures(request, current.token, f)
    return render(request, "insight.html.j2", current, **_view(f, blocks))


@insight_pages.get("/insight.csv", **declared(P.INSIGHT_READ))
async def insight_csv(request: Request, f: Asked) -> Response:
    """What the page shows, one figure a row (``section,figure,value``), decimals as analytics gives them."""
    current = signed_in(request, P.INSIGHT_READ)
    blocks = await _figures(request, current.token, f)
    wanted = [blocks["summary"], blocks["points"], blocks["segments"], *blocks["trend"]]
    if not all(b.ok for b in wanted):
        # A file missing a block would read as zeros: no file, but the page, which says what is missing.
        return RedirectResponse(f"/insight?{f.query()}", status_code=303)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "figure", "value"])
    start, stop = f.period
    scope = [
        ("from", start.isoformat()),
        ("to", stop.isoformat()),
        ("chain", f.chain),
        ("program", f.program),
    ]
    writer.writerows(("scope", k, v) for k, v in scope)
    rows: list[tuple[str, Block, tuple[str, ...]]] = [
        ("summary", blocks["summary"], (*HEADLINE, *RATIOS)),
        ("points", blocks["points"], POINTS),
    ]
    for section, block, keys in rows:
        writer.writerows((section, k, "" if block.data[k] is None else block.data[k]) for k in keys)
    counts = blocks["segments"].data["matrix"]
    writer.writerows(("segments", c.segment, c.members) for c in charts.matrix(counts))
    writer.writerow(("segments", "lapsed", counts.get("lapsed", 0)))
    for (a, b), s in zip(f.slices(), blocks["trend"], strict=True):
        writer.writerow(("trend", f"N {a.isoformat()}/{b.isoformat()}", s.data["N"]))
        writer.writerow(("trend", f"net_revenue {a.isoformat()}/{b.isoformat()}", s.data["net_revenue"]))
    name = f"vafa-insight-{f.program}-{f.end.isoformat()}-{f.days}d.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
