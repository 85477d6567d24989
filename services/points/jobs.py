"""The points service's scheduled work, and a command to run one round of it at a chosen time.

python -m services.points.jobs                       # now
python -m services.points.jobs --now 2027-12-01T00:00:00+00:00
"""

from __future__ import annotations

from services.points import actions
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.service import Job, jobs_command, run_jobs_once


def points_jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [
        Job("release-held-redemptions", every, lambda c, now: actions.release_held(c, settings, now)),
        Job("expire-points", every, lambda c, now: actions.expire_due(c, settings, now)),
        Job("remind-expiring-points", every, lambda c, now: actions.remind_expiring(c, settings, now)),
        Job("remind-program-end", every, lambda c, now: actions.remind_program_end(c, settings, now)),
        Job("settle-ended-programs", every, lambda c, now: actions.settle_ended_programs(c, settings, now)),
        Job("reward-referrals", every, lambda c, now: actions.reward_referrals(c, settings, now)),
        Job(
            "choose-promotion-members",
            every,
            lambda c, now: actions.choose_promotion_members(c, settings, now),
        ),
    ]


def main() -> None:
    settings = PointsSettings()
    jobs_command(
        "python -m services.points.jobs",
        lambda now: run_jobs_once(settings, MIGRATIONS, points_jobs(settings), now),
    )


if __name__ == "__main__":
    main()
