"""A front end's settings: each names its own variables (VAFA_CONSOLE_..., VAFA_PORTAL_...), read here
under one name for shared/web (``shared.web.session.WebSettings``)."""

from __future__ import annotations

from typing import cast

from shared.config import ServiceSettings
from shared.web.words import Locale


class FrontEndSettings(ServiceSettings):
    """A subclass sets ``service_name`` and declares ``<service_name>_<service>_url`` for each service it
    calls, ``<service_name>_backend_timeout_s``, ``_secure_cookie`` and ``_default_locale``."""

    def known_defaults(self) -> list[str]:
        # No database here: only the signing keys (sessions and CSRF tokens rest on them) matter.
        return [name for name in super().known_defaults() if name != "VAFA_PG_PASSWORD"]

    def _own(self, name: str) -> object:
        return getattr(self, f"{self.service_name}_{name}")

    @property
    def secure_cookie(self) -> bool:
        return bool(self._own("secure_cookie"))

    @property
    def backend_timeout_s(self) -> float:
        return float(cast(float, self._own("backend_timeout_s")))

    @property
    def default_locale(self) -> Locale:
        return cast(Locale, self._own("default_locale"))

    def url_of(self, service: str) -> str:
        return str(self._own(f"{service}_url")).rstrip("/")
