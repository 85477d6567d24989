from __future__ import annotations

from datetime import time

from pydantic import BaseModel, Field, SecretStr

from shared.config import ServiceSettings


class WebhookTarget(BaseModel):
    """A partner's or CRM's endpoint: the event types it wants, POSTed as signed JSON."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    events: list[str] = Field(min_length=1)


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    http_port: int = 8004
    notify_smtp_host: str = "127.0.0.1"
    notify_smtp_port: int = 1025
    notify_from: str = "Vafa <loyalty@vafa.example>"
    # The SMS provider's HTTP API; SMS is a channel only when this is set.
    notify_sms_url: str | None = None
    notify_sms_token: SecretStr = SecretStr("")
    notify_sms_sender: str = "Vafa"
    # JSON list, e.g. [{"name": "crm", "url": "https://crm.example/hooks", "secret": "...",
    # "events": ["points.earned", "tier.changed"]}]
    notify_webhooks: list[WebhookTarget] = []
    # Quiet hours in each member's own time zone: messages due then wait until they end.
    notify_quiet_from: time = time(22, 0)
    notify_quiet_until: time = time(8, 0)
    # At most this many messages per member, channel and local day (a reward's code always goes).
    notify_daily_cap: int = Field(default=3, ge=1)
    notify_send_interval_s: float = 1.0
    # How long a delivery's log (and the message's body) is kept once it is no longer queued.
    notify_deliveries_retention_days: float = 180.0
    notify_max_attempts: int = 5
    notify_http_timeout_s: float = 10.0
    # Where ingest answers for members' contact data, which only it holds (VAFA_NOTIFY_CONTACTS_URL):
    # asked when a message goes out, with a service token notify signs itself.
    notify_contacts_url: str = "http://127.0.0.1:8001"

    def member_channels(self) -> tuple[str, ...]:
        return ("email", "sms") if self.notify_sms_url else ("email",)
