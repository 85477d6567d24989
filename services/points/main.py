from __future__ import annotations

from fastapi import FastAPI

from services.points.api import api
from services.points.handlers import CONSUMES, ledger_handler
from services.points.jobs import points_jobs
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.consumer import ContractDecoder
from shared.contracts import POINTS_CONTRACTS
from shared.service import Consumes, create_app


def create(settings: PointsSettings | None = None) -> FastAPI:
    settings = settings or PointsSettings()
    return create_app(
        settings,
        title="Vafa points",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), ledger_handler(settings)),
        emits=POINTS_CONTRACTS,
        api=api,
        jobs=points_jobs(settings),
        audited=True,
    )
