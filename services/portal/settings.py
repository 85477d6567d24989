from __future__ import annotations

from typing import Literal

from shared.web.settings import FrontEndSettings


class PortalSettings(FrontEndSettings):
    service_name: str = "portal"
    http_port: int = 8006
    # Where each service's API answers (VAFA_PORTAL_<SERVICE>_URL); `make up`'s ports by default.
    portal_ingest_url: str = "http://127.0.0.1:8001"
    portal_points_url: str = "http://127.0.0.1:8002"
    portal_tiers_url: str = "http://127.0.0.1:8003"
    portal_notify_url: str = "http://127.0.0.1:8004"
    # How long the portal waits for a service before that block says it is not answering.
    portal_backend_timeout_s: float = 5.0
    # The session cookie is Secure when the page came over TLS; set this behind a proxy that ends TLS.
    portal_secure_cookie: bool = False
    # The language of the sign-in page; once signed in, the member's own (from their profile).
    portal_default_locale: Literal["fa", "en"] = "fa"
