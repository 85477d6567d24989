"""Analytics on a clock: segments recomputed (segment.changed for each member whose segment moved) and
the KPI gauges Prometheus scrapes for the business dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics import figures
from services.analytics.domain.facts import MAIN
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import MIGRATIONS, tables
from services.analytics.store import repository as store
from services.analytics.store.tables import member_segments
from shared.contracts import SEGMENT_CHANGED, SegmentChanged
from shared.outbox import append, emitted
from shared.service import Job, jobs_command, retention_job, run_jobs_once

# Members whose segment a round writes and tells of, at most: a round holds their events until it commits
# (the outbox's), so a program's first round, where every customer's segment is new, is many rounds.
SEGMENTS_A_ROUND = 5000


async def refresh_segments(conn: AsyncConnection, settings: AnalyticsSettings, now: datetime) -> int:
    """Segments over the last twelve months as of ``now``, in each loyalty program, for at most
    ``SEGMENTS_A_ROUND`` members of each whose segment moved; returns how many moved (the job's rounds
    repeat until none did)."""
    changed = 0
    for program in await store.programs(conn):
        changed += await _refresh_program(conn, settings, program, now)
    return changed


async def _refresh_program(
    conn: AsyncConnection, settings: AnalyticsSettings, program: str, now: datetime
) -> int:
    scope = store.Scope(settings.analytics_currency, program=program)
    changed = await store.segment_changes(conn, scope, now - figures.YEAR, now, SEGMENTS_A_ROUND)
    if not changed:
        return 0
    upsert = insert(member_segments)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[member_segments.c.program_id, member_segments.c.member_id],
            set_={c: upsert.excluded[c] for c in ("segment", "rfm", "rfm_label", "as_of")},
        ),
        [
            {
                "program_id": program,
                "member_id": c.member_id,
                "segment": c.segment.segment,
                "rfm": c.segment.rfm,
                "rfm_label": c.segment.rfm_label,
                "as_of": now,
            }
            for c in changed
        ],
    )
    if program != MAIN:
        # segment.changed names no program: what targets a segment (points' promotions) targets main's.
        return len(changed)
    await append(
        conn,
        [
            emitted(
                settings,
                SEGMENT_CHANGED,
                c.member_id,
                SegmentChanged(
                    member_id=c.member_id,
                    segment=c.segment.segment,
                    previous_segment=c.previous,
                    rfm=c.segment.rfm,
                    rfm_label=c.segment.rfm_label,
                    as_of=now,
                ),
                occurred_at=now,
            )
            for c in changed
        ],
    )
    return len(changed)


class KpiGauges:
    """The headline KPIs over the last ``analytics_gauges_window_days``, as Prometheus gauges."""

    NAMES = {
        "N": "active customers",
        "V": "net revenue per active customer",
        "F": "purchases per active customer",
        "S": "units per basket",
        "average_transaction_value": "gross amount per purchase",
        "repeat_purchase_rate": "share of customers with two purchases or more",
        "retention_rate": "share of the previous window's customers who bought again",
        "churn_rate": "share of the previous window's customers who did not",
        "top_20_percent_revenue_share": "share of net revenue from the top 20% of customers",
        "member_lift": "member value per customer over non-members', minus one",
    }

    def __init__(self, settings: AnalyticsSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.kpi = Gauge(
            "vafa_kpi", "Program KPIs over the recent window", ["kpi", "currency"], registry=registry
        )
        self.points = Gauge(
            "vafa_kpi_points", "Points economics over the recent window", ["figure"], registry=registry
        )
        self.segments = Gauge(
            "vafa_kpi_segment_members", "Members per segment", ["segment"], registry=registry
        )

    async def refresh(self, conn: AsyncConnection, now: datetime) -> int:
        period = figures.Period(now - timedelta(days=self.settings.analytics_gauges_window_days), now)
        scope = store.Scope(self.settings.analytics_currency)
        summary = await figures.summary(conn, self.settings, scope, period)
        for name in self.NAMES:
            if summary[name] is not None:
                self.kpi.labels(name, scope.currency).set(float(summary[name]))
        for figure, value in (await figures.points(conn, scope, period)).items():
            if value is not None:
                self.points.labels(figure).set(float(value))
        for segment, n in (await store.segment_counts(conn, scope.program))["matrix"].items():
            self.segments.labels(segment).set(n)
        return 0  # a reading, not work: one round per interval


def analytics_jobs(settings: AnalyticsSettings, gauges: KpiGauges | None = None) -> list[Job]:
    jobs = [
        Job(
            "segments",
            settings.analytics_segments_interval_s,
            lambda c, now: refresh_segments(c, settings, now),
        )
    ]
    if gauges is not None:
        jobs.append(Job("kpi-gauges", 15.0, gauges.refresh))
    if keep := settings.analytics_facts_retention_days:
        jobs += [
            retention_job(f"prune-{table.name}", table, "occurred_at", keep, settings.retention_interval_s)
            for table in tables.metadata.sorted_tables
            if "occurred_at" in table.c
        ]
    return jobs


def main() -> None:
    settings = AnalyticsSettings()
    jobs_command(
        "python -m services.analytics.jobs",
        lambda now: run_jobs_once(settings, MIGRATIONS, analytics_jobs(settings), now),
    )


if __name__ == "__main__":
    main()
