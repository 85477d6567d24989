from __future__ import annotations

from fastapi import FastAPI

from services.points.api import api
from services.points.handlers import CONSUMES, ledger_handler
from services.points.jobs import points_jobs
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import POINTS_CONTRACTS
from shared.service import Consumes, create_app

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = POINTS_CONTRACTS


def create(settings: PointsSettings | None = None) -> FastAPI:
    settings = settings or PointsSettings()
    return create_app(
        settings,
        title="Vafa points",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), ledger_handler(settings)),
        emits=EMITS,
        api=api,
        jobs=points_jobs(settings),
        audited=True,
    )
