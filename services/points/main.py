"""The points service put together: the core with this deployment's programs (``programs/__init__.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from services.points.api import api
from services.points.handlers import consumes, ledger_handler
from services.points.jobs import points_jobs
from services.points.program import Program
from services.points.programs import PROGRAMS
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import POINTS_CONTRACTS
from shared.service import Consumes, create_app

CONSUMES = consumes(PROGRAMS)
# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = POINTS_CONTRACTS


def routes(programs: Sequence[Program]) -> APIRouter:
    """The core's routes and each program's, as one router."""
    router = APIRouter()
    router.include_router(api)
    for program in programs:
        if program.router is not None:
            router.include_router(program.router)
    return router


def create(settings: PointsSettings | None = None, programs: Sequence[Program] = PROGRAMS) -> FastAPI:
    settings = settings or PointsSettings()
    app = create_app(
        settings,
        title="Vafa points",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(consumes(programs)), ledger_handler(settings, programs)),
        emits=EMITS,
        api=routes(programs),
        jobs=points_jobs(settings, programs),
        audited=True,
    )
    app.state.programs = list(programs)
    return app
