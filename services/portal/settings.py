from __future__ import annotations

from typing import Literal

from pydantic import field_validator

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
    # The chain's sign-up page a member's friend opens from their share link; {code} is the member's
    # referral code (VAFA_PORTAL_JOIN_URL).
    portal_join_url: str = "https://club.example/join?referral_code={code}"
    # The web shops allowed to read the JSON API from a browser (the widget), as JSON:
    # VAFA_PORTAL_WIDGET_ORIGINS='["https://shop.example"]'. None by default; never "*".
    portal_widget_origins: list[str] = []

    @field_validator("portal_widget_origins")
    @classmethod
    def _named_origins(cls, origins: list[str]) -> list[str]:
        # A member's data goes only to shops named here: a wildcard would hand it to any site.
        for origin in origins:
            if origin == "*" or not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path, no *)")
        return [origin.rstrip("/") for origin in origins]
