"""The points service's scheduled work, and a command to run one round of it at a chosen time.

python -m services.points.jobs                       # now
python -m services.points.jobs --now 2027-12-01T00:00:00+00:00
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from prometheus_client import CollectorRegistry

from services.points import actions
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.contracts.envelope import utcnow
from shared.metrics import CoreMetrics
from shared.outbox import OutboxRelay
from shared.service import Job, run_job_round
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async


def points_jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [
        Job("release-held-redemptions", every, lambda c, now: actions.release_held(c, settings, now)),
        Job("expire-points", every, lambda c, now: actions.expire_due(c, settings, now)),
        Job("remind-expiring-points", every, lambda c, now: actions.remind_expiring(c, settings, now)),
    ]


async def run_once(settings: PointsSettings, now: datetime) -> dict[str, int]:
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        done = {job.name: await run_job_round(engine, job, now) for job in points_jobs(settings)}
        relay = OutboxRelay(engine, settings.kafka_bootstrap_servers, CoreMetrics(CollectorRegistry()))
        done["events-published"] = await relay.drain()
        return done
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.points.jobs", description=__doc__)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None)
    args = parser.parse_args()
    now = args.now or utcnow()
    if now.tzinfo is None:
        raise SystemExit("--now needs a time zone, e.g. 2027-12-01T00:00:00+00:00")
    for name, done in asyncio.run(run_once(PointsSettings(), now)).items():
        print(f"{name}: {done}")


if __name__ == "__main__":
    main()
