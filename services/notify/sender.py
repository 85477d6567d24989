"""Sending what is due: email over SMTP, each attempt recorded; notification.sent / .failed emitted.

A message is sent at most once per (event, channel) from the delivery log's point of view; a crash
between the SMTP server's acceptance and the commit can repeat that one message (SMTP has no
idempotency key), which is the narrowest window there is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notify.settings import NotifySettings
from services.notify.store.tables import deliveries
from shared.contracts import NOTIFICATION_FAILED, NOTIFICATION_SENT, NotificationOutcome
from shared.outbox import append, emitted


async def send_due(conn: AsyncConnection, settings: NotifySettings, now: datetime, limit: int = 50) -> int:
    rows = (
        await conn.execute(
            select(deliveries)
            .where(deliveries.c.status == "queued", deliveries.c.send_after <= now)
            .order_by(deliveries.c.send_after)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = settings.notify_from, row.address, row.subject
        email.set_content(row.body)
        key = (deliveries.c.source_event_id == row.source_event_id) & (deliveries.c.channel == row.channel)
        try:
            await aiosmtplib.send(
                email, hostname=settings.notify_smtp_host, port=settings.notify_smtp_port, timeout=10
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            attempts = row.attempts + 1
            if attempts < settings.notify_max_attempts:  # back off: 2, 4, 8 ... seconds
                retry = now + timedelta(seconds=2**attempts)
                await conn.execute(deliveries.update().where(key).values(attempts=attempts, send_after=retry))
                continue
            await conn.execute(
                deliveries.update()
                .where(key)
                .values(attempts=attempts, status="failed", reason=str(error)[:500])
            )
            outcome = NotificationOutcome(
                member_id=row.member_id,
                source_event_id=row.source_event_id,
                source_type=row.source_type,
                channel=row.channel,
                status="failed",
                reason=str(error)[:500],
            )
            await append(conn, [emitted(settings, NOTIFICATION_FAILED, row.member_id, outcome)])
            continue
        await conn.execute(
            deliveries.update().where(key).values(status="sent", sent_at=now, attempts=row.attempts + 1)
        )
        outcome = NotificationOutcome(
            member_id=row.member_id,
            source_event_id=row.source_event_id,
            source_type=row.source_type,
            channel=row.channel,
            status="sent",
        )
        await append(conn, [emitted(settings, NOTIFICATION_SENT, row.member_id, outcome)])
    return len(rows)
