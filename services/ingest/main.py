from __future__ import annotations

from fastapi import FastAPI

from services.ingest import problems
from services.ingest.api import api
from services.ingest.settings import IngestSettings
from shared.contracts import PURCHASE_RECORDED
from shared.service import create_app


def create(settings: IngestSettings | None = None) -> FastAPI:
    app = create_app(settings or IngestSettings(), title="Vafa ingest", emits=[PURCHASE_RECORDED], api=api)
    problems.install(app)
    return app
