"""Sending what is due over its channel, each attempt recorded; notification.sent / .failed emitted.

A failure that may pass is retried with exponential backoff; after the last try (or at once, when
trying again cannot help) the delivery is failed, notification.failed is emitted and what could not be
delivered goes to the dead-letter topic with the reason, so nothing is silently lost.

A message is sent at most once per (event, channel) from the delivery log's point of view. Each message
is sent and recorded in a transaction of its own, so a crash between the receiver's acceptance and the
commit can repeat that one message and no other (SMTP has no idempotency key; SMS and webhooks carry
the event id for the receiver to drop a repeat). The chaos suite measures it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notify.channels import NotDelivered, channels
from services.notify.contacts import Contacts, ContactsUnavailable
from services.notify.domain import ADDRESS, Message, decide
from services.notify.settings import NotifySettings
from services.notify.store.repository import profiles_of
from services.notify.store.tables import deliveries
from shared.contracts import NOTIFICATION_FAILED, NOTIFICATION_SENT, NotificationOutcome
from shared.contracts.envelope import utcnow
from shared.deadletter import AT, REASON, SERVICE
from shared.outbox import OutboxMessage, append, emitted
from shared.topics import dead_letter_topic

log = logging.getLogger(__name__)


class Sender:
    def __init__(self, settings: NotifySettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.outcomes = Counter(
            "vafa_notify_deliveries_total",
            "Delivery attempts by channel kind and outcome (sent, retried, failed, suppressed)",
            ["channel", "outcome"],
            registry=registry,
        )
        # One pooled client for the life of the process, shared by SMS and webhooks.
        client = httpx.AsyncClient(timeout=settings.notify_http_timeout_s)
        self.channels = channels(settings, client)
        self.contacts = Contacts(settings, client)

    async def send_due(self, conn: AsyncConnection, now: datetime, limit: int = 1) -> int:
        rows = (
            await conn.execute(
                select(deliveries)
                .where(deliveries.c.status == "queued", deliveries.c.send_after <= now)
                .order_by(deliveries.c.send_after)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        # Consent is asked again now, not only when the message was queued: one deferred by quiet hours
        # or a retry must not go out after the member withdrew.
        profiles = await profiles_of(conn, (row.member_id for row in rows if row.channel in ADDRESS))
        held = {row.member_id for row in rows if row.channel in ADDRESS and row.address is None}
        try:
            addresses = await self.contacts.of(held)
        except ContactsUnavailable as error:
            addresses = None
            log.warning("contacts unavailable, addressed messages wait: %s", error)
        for row in rows:
            key = (deliveries.c.source_event_id == row.source_event_id) & (
                deliveries.c.channel == row.channel
            )
            attempts = row.attempts + 1
            kind = row.channel.split(":", 1)[0]  # webhook:<name> counts as webhook
            refusal = (
                decide(profiles.get(row.member_id), row.channel).reason if row.channel in ADDRESS else ""
            )
            if refusal:
                self.outcomes.labels(kind, "suppressed").inc()
                await conn.execute(
                    deliveries.update()
                    .where(key)
                    .values(status="suppressed", reason=f"{refusal} at send time")
                )
                continue
            channel = self.channels.get(row.channel)
            address = row.address
            try:
                if channel is None:
                    raise NotDelivered(f"channel {row.channel} is not configured", retry=False)
                if address is None and row.channel in ADDRESS:
                    if addresses is None:  # ingest away: wait for it, without spending an attempt
                        later = now + timedelta(seconds=5)
                        await conn.execute(deliveries.update().where(key).values(send_after=later))
                        continue
                    address = addresses.get(row.member_id, {}).get(ADDRESS[row.channel])
                    if not address:
                        self.outcomes.labels(kind, "suppressed").inc()
                        reason = f"no {row.channel} address at send time"
                        await conn.execute(
                            deliveries.update().where(key).values(status="suppressed", reason=reason)
                        )
                        continue
                # The address asked for is used for this send only, never stored here.
                await channel.send(_Addressed(row, address))
            except NotDelivered as error:
                if error.retry and attempts < self.settings.notify_max_attempts:
                    self.outcomes.labels(kind, "retried").inc()
                    retry = now + timedelta(seconds=2**attempts)  # back off: 2, 4, 8 ... seconds
                    await conn.execute(
                        deliveries.update().where(key).values(attempts=attempts, send_after=retry)
                    )
                    continue
                self.outcomes.labels(kind, "failed").inc()
                # A receiver's refusal may quote the address: it must not outlive an erasure.
                reason = str(error).replace(address, "<address>") if address else str(error)
                await self._failed(conn, row, attempts, reason[:500])
                continue
            self.outcomes.labels(kind, "sent").inc()
            await conn.execute(
                deliveries.update().where(key).values(status="sent", sent_at=now, attempts=attempts)
            )
            await append(
                conn, [emitted(self.settings, NOTIFICATION_SENT, row.member_id, _outcome(row, "sent"))]
            )
        return len(rows)

    async def send_now(self, channel: str, member_id: str, address: str, message: Message) -> None:
        """A message that cannot wait and must not be kept (a sign-in code): sent once, counted, not
        logged as a delivery. Raises NotDelivered."""
        found = self.channels.get(channel)
        if found is None:
            raise NotDelivered(f"channel {channel} is not configured", retry=False)
        delivery = _Immediate(address, message.subject, message.body, uuid.uuid4(), member_id)
        try:
            await found.send(delivery)
        except NotDelivered:
            self.outcomes.labels(channel, "failed").inc()
            raise
        self.outcomes.labels(channel, "sent").inc()

    async def _failed(self, conn: AsyncConnection, r: Row[Any], attempts: int, reason: str) -> None:
        key = (deliveries.c.source_event_id == r.source_event_id) & (deliveries.c.channel == r.channel)
        await conn.execute(
            deliveries.update().where(key).values(attempts=attempts, status="failed", reason=reason)
        )
        outcome = _outcome(r, "failed", reason)
        undelivered = OutboxMessage(
            topic=self.settings.topic_prefix + dead_letter_topic(self.settings.service_name),
            key=r.member_id.encode(),
            value=(r.body or "").encode(),
            headers={
                REASON: reason,
                SERVICE: self.settings.service_name,
                AT: utcnow().isoformat(),
                "vafa-dlq-channel": r.channel,
                "vafa-dlq-event-id": str(r.source_event_id),
                "vafa-dlq-attempts": str(attempts),
            },
        )
        await append(
            conn, [emitted(self.settings, NOTIFICATION_FAILED, outcome.member_id, outcome), undelivered]
        )


@dataclass(frozen=True)
class _Immediate:
    address: str
    subject: str
    body: str
    source_event_id: uuid.UUID
    member_id: str
    source_type: str = "member.sign_in_code"


class _Addressed:
    """A delivery row with the address it goes to this time."""

    def __init__(self, row: Row[Any], address: str | None) -> None:
        self._row, self.address = row, address

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _outcome(r: Row[Any], status: str, reason: str = "") -> NotificationOutcome:
    return NotificationOutcome(
        member_id=r.member_id,
        source_event_id=r.source_event_id,
        source_type=r.source_type,
        channel=r.channel,
        status=status,
        reason=reason,
    )
