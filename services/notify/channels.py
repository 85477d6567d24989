"""The real channels a delivery goes out on: SMTP, an SMS provider's HTTP API, partners' webhooks.

Each adapter sends one delivery row or raises ``NotDelivered``, saying whether trying again could help
(a timeout or a 503 could; a 400 or an unknown address will not).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx

from services.notify.domain import signature
from services.notify.settings import NotifySettings, WebhookTarget
from shared.contracts.envelope import utcnow


class NotDelivered(Exception):
    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class Channel(Protocol):
    async def send(self, delivery: Any) -> None: ...


class Email:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(self, delivery: Any) -> None:
        message = EmailMessage()
        message["From"], message["To"] = self.settings.notify_from, delivery.address
        message["Subject"] = delivery.subject
        message.set_content(delivery.body)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.notify_smtp_host,
                port=self.settings.notify_smtp_port,
                timeout=self.settings.notify_http_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise NotDelivered(f"recipient refused: {error}", retry=False) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise NotDelivered(f"smtp: {error}", retry=True) from error


async def _post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> None:
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as error:
        raise NotDelivered(f"{type(error).__name__}: {error}", retry=True) from error
    if response.is_success:
        return
    # 408 and 429 say "later"; other 4xx say the request itself is wrong and will stay wrong.
    retry = response.status_code >= 500 or response.status_code in (408, 429)
    raise NotDelivered(f"HTTP {response.status_code}: {response.text[:200]}", retry=retry)


class Sms:
    """A provider's JSON API: ``POST {to, from, text, reference}`` with a bearer token. The reference
    (event and channel) lets the provider drop a repeat of the same message."""

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient) -> None:
        self.settings, self.client = settings, client

    async def send(self, delivery: Any) -> None:
        assert self.settings.notify_sms_url
        await _post(
            self.client,
            self.settings.notify_sms_url,
            json={
                "to": delivery.address,
                "from": self.settings.notify_sms_sender,
                "text": delivery.body,
                "reference": f"{delivery.source_event_id}:sms",
            },
            headers={"Authorization": f"Bearer {self.settings.notify_sms_token.get_secret_value()}"},
        )


class Webhook:
    """The event as it was on the bus, signed with the target's secret at the moment of sending."""

    def __init__(self, target: WebhookTarget, client: httpx.AsyncClient) -> None:
        self.target, self.client = target, client

    async def send(self, delivery: Any) -> None:
        body = delivery.body.encode()
        stamp = int(utcnow().timestamp())
        await _post(
            self.client,
            self.target.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Vafa-Event-Id": str(delivery.source_event_id),
                "Vafa-Event-Type": delivery.source_type,
                "Vafa-Signature": signature(self.target.secret.get_secret_value(), stamp, body),
            },
        )


def channels(settings: NotifySettings, client: httpx.AsyncClient) -> dict[str, Channel]:
    """Every channel this deployment has, by the name delivery rows carry."""
    found: dict[str, Channel] = {"email": Email(settings)}
    if settings.notify_sms_url:
        found["sms"] = Sms(settings, client)
    for target in settings.notify_webhooks:
        found[f"webhook:{target.name}"] = Webhook(target, client)
    return found
