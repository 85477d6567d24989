"""The HTTP front door: validate, publish with acks=all, answer only after Kafka has it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel

from services.ingest.problems import problem
from services.ingest.settings import IngestSettings
from shared.contracts import PURCHASE_RECORDED, PurchaseRecorded
from shared.contracts.envelope import utcnow

api = APIRouter(prefix="/v1", tags=["ingest"])

# A receipt is one purchase: the same (chain, store, receipt) always gets the same event_id,
# so a POS that retries can never earn twice downstream.
_RECEIPT_NAMESPACE = uuid.UUID("0d5f3c39-7f5e-4a1b-8b3c-2f5a9e6d4c10")


class PurchaseIn(PurchaseRecorded):
    occurred_at: AwareDatetime


class Accepted(BaseModel):
    event_id: uuid.UUID
    status: str = "accepted"


def receipt_event_id(p: PurchaseRecorded) -> uuid.UUID:
    return uuid.uuid5(_RECEIPT_NAMESPACE, f"{p.chain_id}/{p.store_id}/{p.receipt_no}")


@api.post("/purchases", status_code=202, response_model=Accepted)
async def submit_purchase(purchase: PurchaseIn, request: Request) -> Response | Accepted:
    settings: IngestSettings = request.app.state.settings
    if purchase.occurred_at > utcnow() + timedelta(seconds=settings.ingest_max_clock_skew_s):
        return problem(
            422,
            "Invalid request",
            "occurred_at is in the future",
            errors=[
                {
                    "field": "occurred_at",
                    "rule": "not_in_future",
                    "message": "occurred_at is later than now plus the allowed skew",
                }
            ],
        )
    envelope = PURCHASE_RECORDED.envelope(
        event_id=receipt_event_id(purchase),
        key=purchase.member_id,
        producer=settings.service_name,
        occurred_at=purchase.occurred_at,
        payload=PurchaseRecorded(**purchase.model_dump(exclude={"occurred_at"})),
    )
    try:
        await asyncio.wait_for(
            request.app.state.publishers[PURCHASE_RECORDED.name].publish(
                envelope.to_bytes(),
                key=envelope.key.encode(),
                headers={"content-type": "application/json", "event-type": envelope.type},
            ),
            settings.ingest_publish_timeout_s,
        )
    except (TimeoutError, KafkaError):
        return problem(
            503,
            "Broker unavailable",
            "the purchase was not recorded; retry later",
            headers={"Retry-After": "5"},
        )
    return Accepted(event_id=envelope.event_id)
