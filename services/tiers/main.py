from __future__ import annotations

from fastapi import FastAPI

from services.tiers.api import api
from services.tiers.handlers import CONSUMES, standings_handler
from services.tiers.jobs import tiers_jobs
from services.tiers.settings import TiersSettings
from services.tiers.store import MIGRATIONS
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import TIERS_CONTRACTS
from shared.service import Consumes, create_app

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = TIERS_CONTRACTS


def create(settings: TiersSettings | None = None) -> FastAPI:
    settings = settings or TiersSettings()
    app = create_app(
        settings,
        title="Vafa tiers",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), standings_handler(settings)),
        emits=EMITS,
        api=api,
        jobs=tiers_jobs(settings),
        audited=True,  # operators set programs' ladders
    )
    app.state.ladder = settings.ladder()
    return app
