"""Targeted promotions: a rule set's promotion with an audience (a segment, an RFM label, lapsed
members) and a holdout group, so its lift can be measured."""

from services.points.program import Program
from services.points.programs.targeting import actions
from services.points.programs.targeting.hook import load
from services.points.settings import PointsSettings
from shared.contracts import SEGMENT_CHANGED
from shared.service import Job


def jobs(settings: PointsSettings) -> list[Job]:
    every = settings.points_jobs_interval_s
    return [
        Job(
            "choose-promotion-members",
            every,
            lambda c, now: actions.choose_promotion_members(c, settings, now),
        )
    ]


PROGRAM = Program(
    "targeting", jobs=jobs, purchases=load, consumes=(SEGMENT_CHANGED,), record=actions.record_segments
)
