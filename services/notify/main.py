from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from services.notify.channels import NotDelivered
from services.notify.domain import check_templates, environment, render
from services.notify.handlers import CONSUMES, deliveries_handler
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from services.notify.store import MIGRATIONS
from services.notify.store.repository import profiles_of
from services.notify.store.tables import deliveries
from shared.boundary import GuardedRoute
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import NOTIFICATION_FAILED, NOTIFICATION_SENT
from shared.errors import Unavailable
from shared.identity import Permission, secured
from shared.service import Consumes, Job, create_app, retention_job
from shared.wire import Out

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = [NOTIFICATION_SENT, NOTIFICATION_FAILED]


api = APIRouter(prefix="/v1", tags=["notify"], route_class=GuardedRoute)


class Delivery(Out):
    source_type: str = Field(description="the event type the message tells of")
    channel: str = Field(description="email, sms or webhook:<name>")
    status: str = Field(description="queued, sent, failed or suppressed")
    reason: str
    subject: str | None
    send_after: datetime
    sent_at: datetime | None


class Deliveries(Out):
    member_id: str
    deliveries: list[Delivery]
    next_offset: int | None


class Profile(Out):
    member_id: str
    email: str | None
    phone: str | None
    held: Any = Field(description="which contact fields ingest holds")
    locale: str
    timezone: str
    consents: Any = Field(description="consent per channel")


class StoredDelivery(Out):
    source_event_id: uuid.UUID
    channel: str
    member_id: str
    source_type: str
    status: str
    reason: str
    address: str | None
    subject: str | None
    body: str | None
    send_after: datetime
    attempts: int
    created_at: datetime
    sent_at: datetime | None


class Export(Out):
    member_id: str
    profile: Profile | None
    deliveries: list[StoredDelivery]


class ChannelSummary(Out):
    queued: int
    sent: int
    failed: int
    suppressed: dict[str, int] = Field(description="reason -> messages suppressed for it")


class Summary(Out):
    channels: dict[str, ChannelSummary]


@api.get("/members/{member_id}/deliveries", response_model=Deliveries, **secured(Permission.MEMBER_READ))
async def member_deliveries(
    member_id: str,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The delivery log of one member, oldest first, a page at a time (``next_offset`` while there is
    more): queued, sent, failed or suppressed, with the reason."""
    async with request.app.state.engine.connect() as conn:
        rows = await conn.execute(
            select(
                deliveries.c.source_type,
                deliveries.c.channel,
                deliveries.c.status,
                deliveries.c.reason,
                deliveries.c.subject,
                deliveries.c.send_after,
                deliveries.c.sent_at,
            )
            .where(deliveries.c.member_id == member_id)
            # A stable order, so pages neither repeat nor skip a delivery.
            .order_by(deliveries.c.created_at, deliveries.c.source_event_id, deliveries.c.channel)
            .offset(offset)
            .limit(limit + 1)  # one more than asked: says whether there is a next page
        )
        found = [dict(r._mapping) for r in rows]
    more = len(found) > limit
    return {
        "member_id": member_id,
        "deliveries": found[:limit],
        "next_offset": offset + limit if more else None,
    }


@api.get("/members/{member_id}/export", response_model=Export, **secured(Permission.MEMBER_READ))
async def export(member_id: str, request: Request) -> dict[str, Any]:
    """What notify holds of the member, as one JSON document: locale, zone, consents, which contact
    fields ingest holds (the addresses are ingest's to export), and every message's delivery."""
    async with request.app.state.engine.connect() as conn:
        profile = (await profiles_of(conn, [member_id])).get(member_id)
        rows = await conn.execute(
            select(deliveries)
            .where(deliveries.c.member_id == member_id)
            .order_by(deliveries.c.created_at, deliveries.c.source_event_id, deliveries.c.channel)
        )
        sent = [dict(r._mapping) for r in rows]
    return {"member_id": member_id, "profile": profile, "deliveries": sent}


class SignInCode(BaseModel):
    member_id: str = Field(min_length=1, max_length=128)
    channel: Literal["email", "sms"]
    address: str = Field(min_length=3, max_length=254)
    code: str = Field(pattern=r"^[0-9]{4,10}$")
    minutes: int = Field(ge=1, le=60)


@api.post("/sign-in-codes", status_code=204, **secured(Permission.CODES_SEND))
async def send_sign_in_code(body: SignInCode, request: Request) -> None:
    """Ingest's request to send a member their one-time sign-in code: at once, in the member's
    language, over the channel asked; neither the code nor the address is kept."""
    sender: Sender = request.app.state.sender
    async with request.app.state.engine.connect() as conn:
        profile = (await profiles_of(conn, [body.member_id])).get(body.member_id)
    locale = profile["locale"] if profile else "fa"
    context = {"code": body.code, "minutes": body.minutes}
    message = render(request.app.state.templates, "member.sign_in_code", body.channel, locale, context)
    try:
        await sender.send_now(body.channel, body.member_id, body.address, message)
    except NotDelivered as error:
        detail = f"the code could not be sent over {body.channel}"
        raise Unavailable(detail, title="Not delivered") from error


@api.get("/deliveries/summary", response_model=Summary, **secured(Permission.INSIGHT_READ))
async def deliveries_summary(request: Request) -> dict[str, Any]:
    """The delivery log at a glance: messages per channel and status, and why they were suppressed."""
    async with request.app.state.engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.channel, deliveries.c.status, deliveries.c.reason, func.count()).group_by(
                deliveries.c.channel, deliveries.c.status, deliveries.c.reason
            )
        )
        summary: dict[str, dict[str, Any]] = {}
        for channel, status, reason, n in rows:
            counts = summary.setdefault(channel, {"queued": 0, "sent": 0, "failed": 0, "suppressed": {}})
            if status == "suppressed":
                counts["suppressed"][reason] = n
            else:
                counts[status] += n
        return {"channels": summary}


def create(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    env = environment()
    check_templates(env)  # a missing template or variable stops the service here, not at send time
    consumed = {c.name for c in CONSUMES}
    for target in settings.notify_webhooks:
        if unknown := sorted(set(target.events) - consumed):
            raise ValueError(f"webhook {target.name} asks for {unknown}; notify forwards {sorted(consumed)}")
    registry = CollectorRegistry()
    sender = Sender(settings, registry)
    app = create_app(
        settings,
        title="Vafa notify",
        migrations=MIGRATIONS,
        consumes=Consumes(ContractDecoder(CONSUMES), deliveries_handler(settings, env)),
        emits=EMITS,
        api=api,
        jobs=[
            Job("send-due", settings.notify_send_interval_s, sender.send_due),
            retention_job(
                "prune-deliveries",
                deliveries,
                "created_at",
                settings.notify_deliveries_retention_days,
                settings.retention_interval_s,
                where=deliveries.c.status != "queued",  # what is still to send is never pruned
            ),
        ],
        registry=registry,
    )
    app.state.sender, app.state.templates = sender, env
    return app
