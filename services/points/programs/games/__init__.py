"""Game-based program: an instant-win game per qualifying purchase, fair and auditable (odds of winning
something never below 25%; the seed committed to before the first play)."""

from services.points.program import Program
from services.points.programs.games.api import router
from services.points.programs.games.hook import load

PROGRAM = Program("games", router=router, purchases=load)
