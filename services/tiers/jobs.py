"""The tiers service's clock: reviews at period end, paid memberships running out and ending.

python -m services.tiers.jobs [--now 2027-12-01T00:00:00+00:00]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from prometheus_client import CollectorRegistry

from services.tiers import moves
from services.tiers.settings import TiersSettings
from services.tiers.store import MIGRATIONS
from shared.contracts.envelope import utcnow
from shared.metrics import CoreMetrics
from shared.outbox import OutboxRelay
from shared.service import Job, run_job_round
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async


def tiers_jobs(settings: TiersSettings) -> list[Job]:
    ladder, every = settings.ladder(), settings.tiers_jobs_interval_s
    return [
        Job("end-memberships", every, lambda c, now: moves.end_memberships(c, settings, ladder, now)),
        Job("remind-memberships", every, lambda c, now: moves.remind_memberships(c, settings, ladder, now)),
        Job("review-tiers", every, lambda c, now: moves.review_due(c, settings, ladder, now)),
    ]


async def run_once(settings: TiersSettings, now: datetime) -> dict[str, int]:
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        done = {job.name: await run_job_round(engine, job, now) for job in tiers_jobs(settings)}
        relay = OutboxRelay(engine, settings.kafka_bootstrap_servers, CoreMetrics(CollectorRegistry()))
        done["events-published"] = await relay.drain()
        return done
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.tiers.jobs", description=__doc__)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None)
    now = parser.parse_args().now or utcnow()
    if now.tzinfo is None:
        raise SystemExit("--now needs a time zone, e.g. 2027-12-01T00:00:00+00:00")
    for name, done in asyncio.run(run_once(TiersSettings(), now)).items():
        print(f"{name}: {done}")


if __name__ == "__main__":
    main()
