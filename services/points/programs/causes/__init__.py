"""Value-based program: members give points to causes, and the brand matches them up to a budget."""

from services.points.program import Program
from services.points.programs.causes.api import router

PROGRAM = Program("causes", router=router)
