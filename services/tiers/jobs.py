"""The tiers service's clock: reviews at period end, paid memberships running out and ending.

python -m services.tiers.jobs [--now 2027-12-01T00:00:00+00:00]
"""

from __future__ import annotations

from services.tiers import moves
from services.tiers.settings import TiersSettings
from services.tiers.store import MIGRATIONS
from shared.service import Job, jobs_command, run_jobs_once


def tiers_jobs(settings: TiersSettings) -> list[Job]:
    ladder, every = settings.ladder(), settings.tiers_jobs_interval_s
    return [
        Job("end-memberships", every, lambda c, now: moves.end_memberships(c, settings, ladder, now)),
        Job("remind-memberships", every, lambda c, now: moves.remind_memberships(c, settings, ladder, now)),
        Job("review-tiers", every, lambda c, now: moves.review_due(c, settings, ladder, now)),
    ]


def main() -> None:
    settings = TiersSettings()
    jobs_command(
        "python -m services.tiers.jobs",
        lambda now: run_jobs_once(settings, MIGRATIONS, tiers_jobs(settings), now),
    )


if __name__ == "__main__":
    main()
