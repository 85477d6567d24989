"""Thin handler: decode (done by the core) -> standings -> store -> emit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.moves import apply_events
from services.tiers.settings import TiersSettings
from services.tiers.views import PointsGiven, PointsTaken, PurchaseTotal, ReturnTotal
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    LOYALTY_PROGRAM_DEFINED,
    POINTS_EARNED,
    POINTS_REVERSED,
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    VIP_CANCELLED,
    VIP_PURCHASED,
    VIP_RENEWED,
    Contract,
    Envelope,
)

CONSUMES: list[Contract[Any]] = [
    # Only the totals a standing moves by are decoded, not the basket or the rule lines.
    PURCHASE_RECORDED.read_as(PurchaseTotal),
    RETURN_RECORDED.read_as(ReturnTotal),
    POINTS_EARNED.read_as(PointsGiven),
    POINTS_REVERSED.read_as(PointsTaken),
    VIP_PURCHASED,
    VIP_RENEWED,
    VIP_CANCELLED,
    LOYALTY_PROGRAM_DEFINED,  # a ladder per program
]


def standings_handler(settings: TiersSettings) -> BatchHandler:
    ladder = settings.ladder()

    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        return await apply_events(conn, settings, ladder, events)

    return handle
