"""Thin handler: member profiles kept as a projection; each event worth a message becomes one
delivery per channel, rendered now in the member's language, queued for the end of quiet hours if
need be, or suppressed with the reason (no consent, no address, the daily cap). Events a partner's
webhook subscribes to become one delivery per webhook, the event itself as the body."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notify.domain import (
    ADDRESS,
    decide,
    erased,
    profile_after,
    render,
    send_after,
    tells_member,
    within_cap,
)
from services.notify.settings import NotifySettings
from services.notify.store.repository import profiles_of
from services.notify.store.tables import deliveries, members
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    BIRTHDAY_BONUS,
    MEMBER_ENROLLED,
    MEMBER_ERASED,
    MEMBER_PROFILE_CHANGED,
    MEMBERSHIP_EXPIRING,
    POINTS_EARNED,
    POINTS_EXPIRING_SOON,
    PROGRAM_ENDED,
    PROGRAM_ENDING,
    PROMOTION_TARGETED,
    REFERRAL_REWARDED,
    REWARD_ISSUED,
    TIER_CHANGED,
    TIER_PROGRESS,
    Contract,
    Envelope,
    MemberEnrolled,
    MemberErased,
    MemberProfileChanged,
)
from shared.contracts.envelope import utcnow
from shared.store.bulk import one_of, rows_insert

MESSAGES: list[Contract[Any]] = [
    POINTS_EARNED,
    TIER_CHANGED,
    TIER_PROGRESS,
    POINTS_EXPIRING_SOON,
    PROGRAM_ENDED,
    PROGRAM_ENDING,
    REWARD_ISSUED,
    MEMBERSHIP_EXPIRING,
    REFERRAL_REWARDED,
    BIRTHDAY_BONUS,
    PROMOTION_TARGETED,
]
CONSUMES: list[Contract[Any]] = [MEMBER_ENROLLED, MEMBER_PROFILE_CHANGED, MEMBER_ERASED, *MESSAGES]


CONTACT = ("email", "phone", "held", "locale", "timezone", "consents")


def _context(event: Envelope[Any]) -> dict[str, Any]:
    context: dict[str, Any] = event.payload.model_dump()
    context["occurred_at"] = event.occurred_at
    if event.type == "tier.changed":
        context["multiplier"] = f"{event.payload.benefits.earn_multiplier.normalize():f}"
    if event.type == "tier.progress":
        context["remaining"] = f"{event.payload.remaining.normalize():f}"
    return context


def _local_day(profile: dict[str, Any], when: Any) -> date:
    day: date = when.astimezone(ZoneInfo(profile["timezone"])).date()
    return day


def deliveries_handler(settings: NotifySettings, env: Environment) -> BatchHandler:
    channels = settings.member_channels()
    quiet = (settings.notify_quiet_from, settings.notify_quiet_until)

    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        wanted = sorted({e.payload.member_id for e in events})
        profiles = await profiles_of(conn, wanted)
        now = utcnow()
        # What each member already has queued or sent, per channel and local day, for the cap.
        recent = await conn.execute(
            select(deliveries.c.member_id, deliveries.c.channel, deliveries.c.send_after).where(
                one_of(deliveries.c.member_id, wanted),
                deliveries.c.channel.in_(channels),
                deliveries.c.status.in_(("queued", "sent")),
                deliveries.c.send_after >= now - timedelta(days=2),
            )
        )
        counted: Counter[tuple[str, str, date]] = Counter()
        for r in recent:
            if r.member_id in profiles:
                counted[(r.member_id, r.channel, _local_day(profiles[r.member_id], r.send_after))] += 1
        queued = []
        forgotten: list[str] = []
        # Only the profiles this batch changed are written back: the others were loaded to address
        # messages, and rewriting them unchanged cost a row (and its WAL) per member per batch.
        changed: set[str] = set()
        for event in events:
            p = event.payload
            base = {
                "source_event_id": event.event_id,
                "member_id": p.member_id,
                "source_type": event.type,
                "send_after": now,
                "address": None,
                "subject": None,
                "body": None,
            }
            for target in settings.notify_webhooks:
                if event.type in target.events:
                    body = event.model_dump_json()
                    queued.append(
                        base
                        | {"channel": f"webhook:{target.name}", "status": "queued", "reason": ""}
                        | {"address": target.url, "body": body}
                    )
            if isinstance(p, MemberErased):
                profiles[p.member_id] = erased(p.member_id, profiles.get(p.member_id))
                forgotten.append(p.member_id)
                changed.add(p.member_id)
                continue
            if isinstance(p, MemberEnrolled | MemberProfileChanged):
                # An enrolment starts the profile afresh; a change edits what is there.
                known = None if isinstance(p, MemberEnrolled) else profiles.get(p.member_id)
                profiles[p.member_id] = profile_after(known, p)
                changed.add(p.member_id)
                continue
            if not tells_member(event.type, p):
                continue
            profile = profiles.get(p.member_id)
            for channel in channels:
                decision = decide(profile, channel)
                row = base | {"channel": channel, "status": decision.status, "reason": decision.reason}
                if profile is not None and decision.status == "queued":
                    when = send_after(now, profile["timezone"], *quiet)
                    day = _local_day(profile, when)
                    decision = within_cap(
                        event.type, p.member_id, channel, day, counted, settings.notify_daily_cap
                    )
                    row |= {"status": decision.status, "reason": decision.reason, "send_after": when}
                if profile is not None and decision.status == "queued":
                    message = render(env, event.type, channel, profile["locale"], _context(event))
                    row |= {
                        "address": profile[ADDRESS[channel]],
                        "subject": message.subject or None,
                        "body": message.body,
                    }
                queued.append(row)
        if changed:
            upsert, values = rows_insert(
                members,
                [profiles[m] for m in sorted(changed)],
                finish=lambda new: new.on_conflict_do_update(
                    index_elements=[members.c.member_id], set_={c: new.excluded[c] for c in CONTACT}
                ),
            )
            await conn.execute(upsert, values)
        if queued:
            kept, values = rows_insert(deliveries, queued, finish=lambda new: new.on_conflict_do_nothing())
            await conn.execute(kept, values)
        if forgotten:
            # The addresses messages went to (webhook URLs are the chain's, not the member's).
            await conn.execute(
                deliveries.update()
                .where(one_of(deliveries.c.member_id, forgotten), deliveries.c.channel.in_(list(ADDRESS)))
                .values(address=None)
            )
        return BatchResult()

    return handle
