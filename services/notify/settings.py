from __future__ import annotations

from datetime import time

from shared.config import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    http_port: int = 8004
    notify_smtp_host: str = "127.0.0.1"
    notify_smtp_port: int = 1025
    notify_from: str = "Vafa <loyalty@vafa.example>"
    # Quiet hours in each member's own time zone: messages due then wait until they end.
    notify_quiet_from: time = time(22, 0)
    notify_quiet_until: time = time(8, 0)
    notify_send_interval_s: float = 1.0
    notify_max_attempts: int = 5
