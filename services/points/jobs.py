"""The points service's scheduled work, and a command to run one round of it at a chosen time.

python -m services.points.jobs                       # now
python -m services.points.jobs --now 2027-12-01T00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from services.points import actions
from services.points.program import Program
from services.points.programs import PROGRAMS
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from services.points.store.tables import purchase_history
from shared.service import Job, jobs_command, retention_job, run_jobs_once


def points_jobs(settings: PointsSettings, programs: Sequence[Program] = ()) -> list[Job]:
    """The core's jobs, then each program's."""
    every = settings.points_jobs_interval_s
    core = [
        Job("release-held-redemptions", every, lambda c, now: actions.release_held(c, settings, now)),
        Job("expire-points", every, lambda c, now: actions.expire_due(c, settings, now)),
        Job("remind-expiring-points", every, lambda c, now: actions.remind_expiring(c, settings, now)),
        retention_job(
            "prune-purchase-history",
            purchase_history,
            "occurred_at",
            settings.points_purchase_history_days,
            settings.retention_interval_s,
        ),
    ]
    return core + [job for program in programs for job in program.jobs(settings)]


def main() -> None:
    settings = PointsSettings()
    jobs_command(
        "python -m services.points.jobs",
        lambda now: run_jobs_once(settings, MIGRATIONS, points_jobs(settings, PROGRAMS), now),
    )


if __name__ == "__main__":
    main()
