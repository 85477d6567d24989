from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.analytics.api import api
from services.analytics.handlers import CONSUMES, facts_handler
from services.analytics.jobs import KpiGauges, analytics_jobs
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import MIGRATIONS
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import SEGMENT_CHANGED
from shared.service import Consumes, create_app

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = [SEGMENT_CHANGED]


def create(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    registry = CollectorRegistry()
    return create_app(
        settings,
        title="Vafa analytics",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), facts_handler()),
        emits=EMITS,
        api=api,
        jobs=analytics_jobs(settings, KpiGauges(settings, registry)),
        registry=registry,
    )
