"""Time-limited programs: reminders before the end, and a voucher or a parting gift for what is left."""

from services.points.program import Program
from services.points.programs.sunset import actions
from services.points.programs.sunset.api import router
from services.points.programs.sunset.hook import load
from services.points.settings import PointsSettings
from shared.service import Job


def jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [
        Job("remind-program-end", every, lambda c, now: actions.remind_program_end(c, settings, now)),
        Job("settle-ended-programs", every, lambda c, now: actions.settle_ended_programs(c, settings, now)),
    ]


PROGRAM = Program("sunset", router=router, jobs=jobs, purchases=load)
