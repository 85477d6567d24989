from __future__ import annotations

from fastapi import FastAPI

from services.points.api import api
from services.points.handlers import purchases_handler
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from shared.consumer import ContractDecoder
from shared.contracts import POINTS_EARNED, PURCHASE_RECORDED
from shared.service import Consumes, create_app


def create(settings: PointsSettings | None = None) -> FastAPI:
    settings = settings or PointsSettings()
    return create_app(
        settings,
        title="Vafa points",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder([PURCHASE_RECORDED]), purchases_handler(settings)),
        emits=[POINTS_EARNED],
        api=api,
    )
