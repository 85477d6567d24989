"""Thin handler: member profiles kept as a projection; each event worth a message becomes one
delivery per channel, rendered now in the member's language, queued for the end of quiet hours if
need be, or suppressed with the reason (no consent, no address)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notify.domain import decide, profile_after, render, send_after
from services.notify.settings import NotifySettings
from services.notify.store.tables import deliveries, members
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    MEMBER_ENROLLED,
    MEMBER_PROFILE_CHANGED,
    MEMBERSHIP_EXPIRING,
    POINTS_EARNED,
    POINTS_EXPIRING_SOON,
    REWARD_ISSUED,
    TIER_CHANGED,
    Contract,
    Envelope,
    MemberEnrolled,
    MemberProfileChanged,
)
from shared.contracts.envelope import utcnow

MESSAGES: list[Contract[Any]] = [
    POINTS_EARNED,
    TIER_CHANGED,
    POINTS_EXPIRING_SOON,
    REWARD_ISSUED,
    MEMBERSHIP_EXPIRING,
]
CONSUMES: list[Contract[Any]] = [MEMBER_ENROLLED, MEMBER_PROFILE_CHANGED, *MESSAGES]


CONTACT = ("email", "phone", "locale", "timezone", "consents")


def _context(event: Envelope[Any]) -> dict[str, Any]:
    context: dict[str, Any] = event.payload.model_dump()
    context["occurred_at"] = event.occurred_at
    if event.type == "tier.changed":
        context["multiplier"] = f"{event.payload.benefits.earn_multiplier.normalize():f}"
    return context


def deliveries_handler(settings: NotifySettings, env: Environment) -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        wanted = sorted({e.payload.member_id for e in events})
        rows = await conn.execute(select(members).where(members.c.member_id.in_(wanted)))
        profiles: dict[str, dict[str, Any]] = {r.member_id: dict(r._mapping) for r in rows}
        queued = []
        now = utcnow()
        for event in events:
            p = event.payload
            if isinstance(p, MemberEnrolled | MemberProfileChanged):
                # An enrolment starts the profile afresh; a change edits what is there.
                known = None if isinstance(p, MemberEnrolled) else profiles.get(p.member_id)
                profiles[p.member_id] = profile_after(known, p)
                continue
            profile = profiles.get(p.member_id)
            decision = decide(profile, "email")
            row = {
                "source_event_id": event.event_id,
                "channel": "email",
                "member_id": p.member_id,
                "source_type": event.type,
                "status": decision.status,
                "reason": decision.reason,
                "send_after": now,
                "address": None,
                "subject": None,
                "body": None,
            }
            if profile is not None and decision.status == "queued":
                message = render(env, event.type, "email", profile["locale"], _context(event))
                quiet = (settings.notify_quiet_from, settings.notify_quiet_until)
                row |= {
                    "address": profile["email"],
                    "subject": message.subject,
                    "body": message.body,
                    "send_after": send_after(now, profile["timezone"], *quiet),
                }
            queued.append(row)
        if profiles:
            upsert = insert(members)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[members.c.member_id],
                    set_={c: upsert.excluded[c] for c in CONTACT},
                ),
                list(profiles.values()),
            )
        if queued:
            await conn.execute(insert(deliveries).on_conflict_do_nothing(), queued)
        return BatchResult()

    return handle
