from __future__ import annotations

from typing import Literal

from shared.web.settings import FrontEndSettings


class ConsoleSettings(FrontEndSettings):
    service_name: str = "console"
    http_port: int = 8000
    # Where each service's API answers (VAFA_CONSOLE_<SERVICE>_URL); `make up`'s ports by default.
    console_ingest_url: str = "http://127.0.0.1:8001"
    console_points_url: str = "http://127.0.0.1:8002"
    console_tiers_url: str = "http://127.0.0.1:8003"
    console_notify_url: str = "http://127.0.0.1:8004"
    console_analytics_url: str = "http://127.0.0.1:8005"
    # How long the console waits for a service before that block says it is not answering.
    console_backend_timeout_s: float = 5.0
    # The session cookie is Secure when the page came over TLS; set this behind a proxy that ends TLS
    # (the console then sees plain HTTP) so the cookie is never sent in the clear.
    console_secure_cookie: bool = False
    # The language a visitor without a choice sees.
    console_default_locale: Literal["fa", "en"] = "fa"
