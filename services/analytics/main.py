from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.analytics.api import api
from services.analytics.handlers import CONSUMES, facts_handler
from services.analytics.jobs import KpiGauges, analytics_jobs
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import MIGRATIONS
from shared.consumer import ContractDecoder
from shared.contracts import SEGMENT_CHANGED
from shared.service import Consumes, create_app


def create(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    registry = CollectorRegistry()
    return create_app(
        settings,
        title="Vafa analytics",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), facts_handler()),
        emits=[SEGMENT_CHANGED],
        api=api,
        jobs=analytics_jobs(settings, KpiGauges(settings, registry)),
        registry=registry,
    )
