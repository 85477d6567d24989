"""`make report`: one self-contained HTML page a marketing manager can open, from the live store.

Charts are drawn by matplotlib as inline SVG (text as paths), so the page needs nothing but itself:
cohort retention as a heat map, N/V/F/S month by month, the loyalty x profitability matrix, and the
points liability over time, with the headline KPIs of the period above them.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # the object API: no pyplot state, no GUI backend

from services.analytics import figures
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import repository
from shared.contracts.envelope import utcnow
from shared.dates import add_months
from shared.store.db import make_engine

HEADLINE = [
    ("N", "Active customers"),
    ("V", "Net revenue per customer"),
    ("F", "Purchases per customer"),
    ("S", "Units per basket"),
    ("average_transaction_value", "Average transaction value"),
    ("retention_rate", "Retention"),
    ("churn_rate", "Churn"),
    ("repeat_purchase_rate", "Repeat-purchase rate"),
    ("customer_lifetime_value", "Customer lifetime value"),
    ("top_20_percent_revenue_share", "Revenue from the top 20%"),
    ("member_lift", "Member lift over non-members"),
]


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inline


def _num(value: Any) -> float:
    return float(value) if value is not None else float("nan")


def cohort_chart(cohorts: list[dict[str, Any]]) -> Figure:
    width = max((len(c["retention"]) for c in cohorts), default=1)
    grid = [
        [_num(r) for r in c["retention"]] + [float("nan")] * (width - len(c["retention"])) for c in cohorts
    ]
    fig = Figure(figsize=(8, 0.45 * max(len(cohorts), 2) + 1.2))
    ax = fig.subplots()
    image = ax.imshow(grid or [[float("nan")]], cmap="YlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_yticks(range(len(cohorts)), [f"{c['cohort']} ({c['size']})" for c in cohorts])
    ax.set_xticks(range(width), [f"+{k}" for k in range(width)])
    ax.set_xlabel("months after the first purchase")
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            if value == value:  # not NaN
                ax.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="share of the cohort buying")
    ax.set_title("Cohort retention")
    return fig


def nvfs_chart(months: list[str], series: dict[str, list[float]]) -> Figure:
    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(2, 2, sharex=True)
    titles = {
        "N": "N: active customers",
        "V": "V: value per customer",
        "F": "F: frequency",
        "S": "S: basket size",
    }
    for ax, key in zip(axes.flat, titles, strict=True):
        ax.plot(months, series[key], marker="o")
        ax.set_title(titles[key])
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle("N, V, F, S month by month")
    fig.tight_layout()
    return fig


def segment_chart(matrix: dict[str, int]) -> Figure:
    cells = [
        [matrix.get("butterflies", 0), matrix.get("true_friends", 0)],
        [matrix.get("strangers", 0), matrix.get("barnacles", 0)],
    ]
    names = [["Butterflies", "True friends"], ["Strangers", "Barnacles"]]
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.imshow(cells, cmap="Blues")
    darkest = max(max(row) for row in cells) or 1
    for y in range(2):
        for x in range(2):
            ink = "white" if cells[y][x] > darkest / 2 else "black"
            ax.text(x, y, f"{names[y][x]}\n{cells[y][x]}", ha="center", va="center", fontsize=11, color=ink)
    ax.set_xticks([0, 1], ["short-term", "long-term (loyal)"])
    ax.set_yticks([0, 1], ["high (profitable)", "low"])
    ax.set_xlabel("loyalty")
    ax.set_ylabel("profitability")
    ax.set_title(f"Segments (lapsed: {matrix.get('lapsed', 0)})")
    return fig


def liability_chart(
    months: list[str], outstanding: list[int], issued: list[int], redeemed: list[int]
) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.bar(months, issued, label="issued", alpha=0.5)
    ax.bar(months, [-r for r in redeemed], label="redeemed", alpha=0.5)
    ax.plot(months, outstanding, marker="o", color="black", label="outstanding liability (month end)")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    ax.set_title("Points liability")
    return fig


RATIOS = {
    "retention_rate",
    "churn_rate",
    "repeat_purchase_rate",
    "top_20_percent_revenue_share",
    "member_lift",
    "redemption_rate",
    "breakage_rate",
}


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key in RATIOS:
        return f"{value:.1%}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


async def build(settings: AnalyticsSettings, end: datetime, months: int = 12) -> str:
    engine = make_engine(settings, pool_size=1)
    scope = repository.Scope(settings.analytics_currency)
    starts = [add_months(datetime(end.year, end.month, 1, tzinfo=UTC), -k) for k in range(months, -1, -1)]
    periods = [figures.Period(a, b) for a, b in zip(starts, [*starts[1:], end], strict=True) if a < b]
    labels = [p.start.strftime("%Y-%m") for p in periods]
    try:
        async with engine.connect() as conn:
            monthly = [await figures.summary(conn, settings, scope, p) for p in periods]
            points = [await figures.points(conn, scope, p) for p in periods]
            cohorts = await figures.cohorts(conn, scope, end)
            matrix = (await repository.segment_counts(conn, scope.program))["matrix"]
            whole = figures.Period(periods[0].start, end)
            headline = await figures.summary(conn, settings, scope, whole)
            economics = await figures.points(conn, scope, whole)
    finally:
        await engine.dispose()
    series = {k: [_num(m[k]) for m in monthly] for k in ("N", "V", "F", "S")}
    charts = {
        "cohort-retention": cohort_chart(cohorts),
        "nvfs": nvfs_chart(labels, series),
        "segments": segment_chart(matrix),
        "points-liability": liability_chart(
            labels,
            [p["outstanding_liability"] for p in points],
            [p["issued"] for p in points],
            [p["redeemed"] for p in points],
        ),
    }
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td id='kpi-{key}'>{_fmt(key, headline[key])}</td></tr>"
        for key, label in HEADLINE
    )
    rows += "".join(
        f"<tr><th>Points {html.escape(key.replace('_', ' '))}</th><td>{_fmt(key, value)}</td></tr>"
        for key, value in economics.items()
    )
    sections = "".join(f"<figure id='{name}'>{_svg(fig)}</figure>" for name, fig in charts.items())
    period = f"{whole.start:%Y-%m-%d} to {end:%Y-%m-%d %H:%M} UTC, {html.escape(settings.analytics_currency)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vafa loyalty report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2rem; }}
th, td {{ padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }}
figure {{ margin: 2rem 0; }} svg {{ max-width: 100%; height: auto; }}
</style></head>
<body>
<h1>Vafa loyalty report</h1>
<p>{period}. Generated {utcnow():%Y-%m-%d %H:%M} UTC from the analytics store.</p>
<table>{rows}</table>
{sections}
</body></html>
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.analytics.report", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports/vafa-report.html"))
    parser.add_argument(
        "--to", type=datetime.fromisoformat, default=None, help="end of the report (ISO time)"
    )
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    end = args.to or utcnow()
    page = asyncio.run(
        build(AnalyticsSettings(), end if end.tzinfo else end.replace(tzinfo=UTC), args.months)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
