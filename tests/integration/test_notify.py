"""Notify through Kafka to a real local SMTP server: the right message, once, in the member's
language, respecting consent and quiet hours."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from shared.contracts import MEMBER_ENROLLED, POINTS_EARNED, MemberEnrolled, PointsEarned, RuleContribution
from shared.contracts.envelope import utcnow
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, as_record, decode, eventually, free_port


class Inbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def enrolled(member: str, locale: str, zone: str, consent: bool) -> Any:
    return MEMBER_ENROLLED.envelope(
        key=member,
        producer="test",
        payload=MemberEnrolled(
            member_id=member,
            chain_id="hyperstar",
            email=f"{member}@example.com",
            locale=locale,
            timezone=zone,
            consents={"email": consent},
        ),
    )


def earned(member: str, points: int) -> Any:
    return POINTS_EARNED.envelope(
        key=member,
        producer="points",
        payload=PointsEarned(
            member_id=member,
            purchase_event_id=uuid.uuid4(),
            points=points,
            balance=points + 1000,
            currency="IRR",
            amount=Decimal(points * 10_000),
            rules=[RuleContribution(rule="base", points=points)],
        ),
    )


async def test_a_persian_member_gets_one_email_an_opted_out_one_none_and_quiet_hours_defer(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        # Quiet hours around the present moment in UTC+3 (Etc/GMT-3), well away from it in UTC.
        local3 = utcnow() + timedelta(hours=3)
        quiet = {
            "VAFA_NOTIFY_QUIET_FROM": (local3 - timedelta(minutes=30)).strftime("%H:%M"),
            "VAFA_NOTIFY_QUIET_UNTIL": (local3 + timedelta(minutes=30)).strftime("%H:%M"),
        }
        await stack.create("notify")
        notify = ServiceProcess(
            "services.notify",
            stack.env(
                "notify", VAFA_NOTIFY_SMTP_PORT=str(smtp.port), VAFA_NOTIFY_SEND_INTERVAL_S="0.2", **quiet
            ),
            log_dir,
        )
        services.append(notify)
        notify.start()
        await notify.wait_ready()
        members = [
            enrolled("shirin", "fa", "UTC", True),
            enrolled("bob", "en", "UTC", False),
            enrolled("kaveh", "fa", "Etc/GMT-3", True),
        ]
        await stack.produce(Topic.MEMBERS, [as_record(m) for m in members])
        await eventually(lambda: _count(stack, "SELECT count(*) FROM members", 3), what="profiles known")
        shirin = earned("shirin", 120)
        events = [shirin, earned("bob", 50), earned("kaveh", 70)]
        # Shirin's event is delivered twice: she still gets one email.
        await stack.produce(Topic.POINTS, [as_record(e) for e in events] + [as_record(shirin)])

        await eventually(lambda: len(inbox.messages) >= 1, what="an email")
        await eventually(lambda: _count(stack, "SELECT count(*) FROM deliveries", 3), what="three deliveries")
        rows = {r["member_id"]: r for r in await stack.query("notify", "SELECT * FROM deliveries")}
        assert rows["shirin"]["status"] == "sent"
        assert (rows["bob"]["status"], rows["bob"]["reason"]) == ("suppressed", "no consent for email")
        assert rows["kaveh"]["status"] == "queued" and rows["kaveh"]["send_after"] > utcnow()
        message = inbox.messages[0]
        assert message["To"] == "shirin@example.com"
        assert message["Subject"].startswith("۱۲۰")  # Persian digits
        assert "۱۱۲۰" in message.get_content()  # the balance, 1120
        assert len(inbox.messages) == 1
        outcomes = [decode(r) for r in await stack.read_all(Topic.NOTIFICATIONS)]
        assert [(o["type"], o["key"]) for o in outcomes] == [("notification.sent", "shirin")]
    finally:
        smtp.stop()


async def _count(stack: Stack, sql: str, n: int) -> bool:
    return bool(await stack.scalar("notify", sql) >= n)
