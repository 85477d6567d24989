from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from services.notify.domain import check_templates, environment
from services.notify.handlers import CONSUMES, deliveries_handler
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from services.notify.store import MIGRATIONS
from services.notify.store.tables import deliveries
from shared.consumer import ContractDecoder, topics_of
from shared.contracts import NOTIFICATION_FAILED, NOTIFICATION_SENT
from shared.service import Consumes, Job, create_app, retention_job

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = topics_of(CONSUMES)
EMITS = [NOTIFICATION_SENT, NOTIFICATION_FAILED]


api = APIRouter(prefix="/v1", tags=["notify"])


@api.get("/members/{member_id}/deliveries")
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


@api.get("/deliveries/summary")
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
    return create_app(
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
