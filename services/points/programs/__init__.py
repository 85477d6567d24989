"""The programs this deployment runs beside the points core: one line each (the core never imports one;
main.py hands it this list)."""

from services.points.program import Program
from services.points.programs import birthday, causes, challenges, games, referrals, sunset, targeting

PROGRAMS: list[Program] = [
    causes.PROGRAM,
    games.PROGRAM,
    challenges.PROGRAM,
    sunset.PROGRAM,
    referrals.PROGRAM,
    targeting.PROGRAM,
    birthday.PROGRAM,
]
