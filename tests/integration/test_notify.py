"""Notify through Kafka to a real local SMTP server: the right message, once, in the member's
language, respecting consent and quiet hours."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shared.contracts import (
    MEMBER_ENROLLED,
    MEMBER_PROFILE_CHANGED,
    POINTS_EARNED,
    MemberEnrolled,
    MemberProfileChanged,
    PointsEarned,
    RuleContribution,
)
from shared.contracts.envelope import utcnow
from shared.deadletter import REASON
from shared.topics import Topic
from sim.mail import Mailbox
from tests.support import (
    ServiceProcess,
    Stack,
    as_record,
    at_least,
    decode,
    eventually,
    free_port,
    purchase,
    running,
)


async def start_notify(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, **env: str
) -> ServiceProcess:
    return await running(stack, services, log_dir, "notify", **({"VAFA_NOTIFY_SEND_INTERVAL_S": "0.2"} | env))


def quiet_now_in_utc_plus_3() -> dict[str, str]:
    """Quiet hours around the present moment in UTC+3 (Etc/GMT-3), well away from it in UTC."""
    local3 = utcnow() + timedelta(hours=3)
    return {
        "VAFA_NOTIFY_QUIET_FROM": (local3 - timedelta(minutes=30)).strftime("%H:%M"),
        "VAFA_NOTIFY_QUIET_UNTIL": (local3 + timedelta(minutes=30)).strftime("%H:%M"),
    }


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
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    quiet = quiet_now_in_utc_plus_3()
    notify = await start_notify(stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port), **quiet)
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
    async with notify.client() as client:
        summary = (await client.get("/v1/deliveries/summary")).json()
        log = (await client.get("/v1/members/shirin/deliveries")).json()
        page = (await client.get("/v1/members/shirin/deliveries", params={"offset": 1, "limit": 1})).json()
        too_many = await client.get("/v1/members/shirin/deliveries", params={"limit": 100_000})
    # One delivery for the event sent twice; past it, an empty page and no next one.
    assert [d["status"] for d in log["deliveries"]] == ["sent"] and log["next_offset"] is None
    assert page == {"member_id": "shirin", "deliveries": [], "next_offset": None}
    assert too_many.status_code == 422
    assert summary == {
        "channels": {
            "email": {"sent": 1, "queued": 1, "failed": 0, "suppressed": {"no consent for email": 1}}
        }
    }


async def test_a_message_deferred_by_quiet_hours_is_not_sent_after_the_member_withdrew_consent(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    quiet = quiet_now_in_utc_plus_3()
    await start_notify(stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port), **quiet)
    await stack.produce(Topic.MEMBERS, [as_record(enrolled("kaveh", "fa", "Etc/GMT-3", True))])
    await eventually(lambda: _count(stack, "SELECT count(*) FROM members", 1), what="profile known")
    await stack.produce(Topic.POINTS, [as_record(earned("kaveh", 70))])
    queued = "SELECT count(*) FROM deliveries WHERE status = 'queued' AND send_after > now()"
    await eventually(lambda: _count(stack, queued, 1), what="deferred by quiet hours")

    withdrawn = MEMBER_PROFILE_CHANGED.envelope(
        key="kaveh",
        producer="test",
        payload=MemberProfileChanged(member_id="kaveh", consents={"email": False}),
    )
    await stack.produce(Topic.MEMBERS, [as_record(withdrawn)])
    no_consent = "SELECT count(*) FROM members WHERE consents ->> 'email' = 'false'"
    await eventually(lambda: _count(stack, no_consent, 1), what="consent withdrawn")
    await stack.query("notify", "UPDATE deliveries SET send_after = now()")  # quiet hours are over

    done = "SELECT count(*) FROM deliveries WHERE status <> 'queued'"
    await eventually(lambda: _count(stack, done, 1), what="the deferred message decided")
    (row,) = await stack.query("notify", "SELECT status, reason FROM deliveries")
    assert (row["status"], row["reason"]) == ("suppressed", "no consent for email at send time")
    assert inbox.messages == []


async def test_a_purchase_flows_through_points_to_a_persian_email(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    await running(stack, services, log_dir, "points")
    quiet = {"VAFA_NOTIFY_QUIET_FROM": "00:00", "VAFA_NOTIFY_QUIET_UNTIL": "00:00"}  # none
    await start_notify(stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port), **quiet)
    await stack.produce(Topic.MEMBERS, [as_record(enrolled("shirin", "fa", "Asia/Tehran", True))])
    await stack.produce(Topic.PURCHASES, [as_record(purchase("shirin", "1250.40"))])

    await eventually(lambda: len(inbox.messages) >= 1, what="the thank-you email")
    (message,) = inbox.messages
    assert message["To"] == "shirin@example.com"
    assert message["Subject"] == "۱۲۵۰ امتیاز به حساب وفاداری شما اضافه شد"
    assert "موجودی شما اکنون ۱۲۵۰ امتیاز" in message.get_content()


async def _count(stack: Stack, sql: str, n: int) -> bool:
    return bool(await stack.scalar("notify", sql) >= n)


class HttpReceiver:
    """A local HTTP server standing in for an SMS provider and partners' webhook endpoints: it keeps
    every request and answers each path with the status it is told to."""

    def __init__(self, statuses: dict[str, int]) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        received, answers = self.requests, statuses

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, dict(self.headers), body))
                self.send_response(answers.get(self.path, 404))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for p, headers, body in self.requests if p == path]


async def test_sms_through_a_provider_signed_webhooks_a_daily_cap_and_a_dead_endpoint_dead_lettered(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    http = HttpReceiver({"/sms": 200, "/crm": 200, "/broken": 503})
    hooks = [
        {"name": "crm", "url": f"{http.url}/crm", "secret": "crm-secret", "events": ["points.earned"]},
        {"name": "broken", "url": f"{http.url}/broken", "secret": "x", "events": ["member.enrolled"]},
    ]
    later = utcnow() + timedelta(hours=6)  # quiet hours well away from now
    await start_notify(
        stack,
        services,
        log_dir,
        VAFA_NOTIFY_SMS_URL=f"{http.url}/sms",
        VAFA_NOTIFY_SMS_TOKEN="provider-token",
        VAFA_NOTIFY_WEBHOOKS=json.dumps(hooks),
        VAFA_NOTIFY_DAILY_CAP="3",
        VAFA_NOTIFY_MAX_ATTEMPTS="3",
        VAFA_NOTIFY_QUIET_FROM=later.strftime("%H:%M"),
        VAFA_NOTIFY_QUIET_UNTIL=(later + timedelta(minutes=30)).strftime("%H:%M"),
    )
    sara = MEMBER_ENROLLED.envelope(
        key="sara",
        producer="test",
        payload=MemberEnrolled(
            member_id="sara",
            chain_id="hyperstar",
            phone="+989121234567",
            locale="fa",
            timezone="Asia/Tehran",
            consents={"sms": True},
        ),
    )
    await stack.produce(Topic.MEMBERS, [as_record(sara)])
    await eventually(lambda: _count(stack, "SELECT count(*) FROM members", 1), what="sara known")
    earnings = [earned("sara", points) for points in (10, 20, 30, 40)]
    # The first earning arrives twice: still one text and one webhook call for it.
    await stack.produce(Topic.POINTS, [as_record(e) for e in earnings] + [as_record(earnings[0])])

    await eventually(lambda: len(http.to("/crm")) >= 4 and len(http.to("/sms")) >= 3, what="texts and hooks")
    # The dead endpoint: tried three times with backoff (2 s, 4 s), then dead-lettered with the reason.
    letters = await eventually(lambda: at_least(stack.read_all("deadletter.notify"), 1), what="a dead letter")

    texts = [json.loads(body) for headers, body in http.to("/sms")]
    assert len(texts) == 3  # the fourth is over the daily cap
    assert {t["to"] for t in texts} == {"+989121234567"}
    assert {t["text"] for t in texts} >= {"وفا: ۱۰ امتیاز گرفتید. موجودی: ۱۰۱۰. سپاس!"}
    assert len({t["reference"] for t in texts}) == 3
    assert all(h["Authorization"] == "Bearer provider-token" for h, _ in http.to("/sms"))
    sms_rows = await stack.query(
        "notify", "SELECT status, reason FROM deliveries WHERE channel = 'sms' ORDER BY status"
    )
    assert [(r["status"], r["reason"]) for r in sms_rows] == [("sent", "")] * 3 + [
        ("suppressed", "frequency cap: 3 per day")
    ]
    email_rows = await stack.query("notify", "SELECT reason FROM deliveries WHERE channel = 'email'")
    assert [r["reason"] for r in email_rows] == ["no consent for email"] * 4

    hooks_received = http.to("/crm")
    assert len(hooks_received) == 4
    for headers, body in hooks_received:
        stamp, mac = (part.split("=", 1)[1] for part in headers["Vafa-Signature"].split(","))
        expected = hmac.new(b"crm-secret", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert mac == expected and abs(int(stamp) - utcnow().timestamp()) < 120
        event = json.loads(body)
        assert event["event_id"] == headers["Vafa-Event-Id"] and event["type"] == "points.earned"
    assert sorted(json.loads(b)["payload"]["points"] for _, b in hooks_received) == [10, 20, 30, 40]

    assert len(http.to("/broken")) == 3
    (letter,) = letters
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers[REASON].startswith("HTTP 503") and headers["vafa-dlq-channel"] == "webhook:broken"
    assert json.loads(letter.value)["event_id"] == str(sara.event_id)  # what was not delivered, whole
    outcomes = [decode(r) for r in await stack.read_all(Topic.NOTIFICATIONS)]
    failed = [o for o in outcomes if o["type"] == "notification.failed"]
    assert [(o["payload"]["channel"], o["payload"]["source_type"]) for o in failed] == [
        ("webhook:broken", "member.enrolled")
    ]
    assert sum(o["type"] == "notification.sent" for o in outcomes) == 3 + 4
    http.server.shutdown()
