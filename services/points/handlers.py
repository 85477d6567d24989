"""Thin handlers: decode (done by the core) -> domain -> store -> emit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain import earn
from services.points.settings import PointsSettings
from services.points.store.repository import LedgerEntry, record_earnings
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import POINTS_EARNED, Envelope, PointsEarned
from shared.outbox import OutboxMessage


def purchases_handler(settings: PointsSettings) -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        entries = [
            LedgerEntry(earn(e.payload, settings.points_earn_rate), e.event_id, e.occurred_at) for e in events
        ]
        balances = await record_earnings(conn, entries)
        topic = settings.topic_prefix + POINTS_EARNED.topic
        return BatchResult(
            outgoing=[
                OutboxMessage.of(
                    topic,
                    POINTS_EARNED.envelope(
                        key=event.key,
                        producer=settings.service_name,
                        payload=PointsEarned(
                            member_id=entry.earning.member_id,
                            purchase_event_id=event.event_id,
                            points=entry.earning.points,
                            balance=balance,
                            currency=event.payload.currency,
                            amount=event.payload.total_amount,
                            rules=list(entry.earning.rules),
                        ),
                        **event.caused(),
                    ),
                )
                for event, entry, balance in zip(events, entries, balances, strict=True)
            ]
        )

    return handle
