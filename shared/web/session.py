"""A signed-in person's session: the token ingest issued them, kept in an HttpOnly, SameSite=Strict
cookie (Secure over TLS), read back on each request to know who they are.

Forms are protected against cross-site requests twice: the browser does not send a Strict cookie with a
request another site starts, and every form carries a token derived from the session (an HMAC of the
token under the deployment's signing keys), which another site cannot know.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import SecretStr

from shared.identity import Kind, Permission, Principal, SigningKeys
from shared.web.words import Locale

CSRF_FIELD = "csrf"


class WebSettings(Protocol):
    """What a front end's settings say of the web (each names its own variables: VAFA_CONSOLE_...)."""

    @property
    def auth_signing_keys(self) -> SecretStr: ...

    @property
    def secure_cookie(self) -> bool: ...

    @property
    def backend_timeout_s(self) -> float: ...

    @property
    def default_locale(self) -> Locale: ...

    def url_of(self, service: str) -> str: ...


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    csrf: str

    def may(self, permission: Permission) -> bool:
        return self.principal.may(permission)


class SignedOut(Exception):
    """No session, or one that ended: the browser is sent to the sign-in page, saying why."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason  # None: never signed in; "session_expired": the token ended or is refused


class BadForm(Exception):
    """A form the front end cannot act on (400): a stale or foreign CSRF token, a field out of shape."""

    def __init__(self, key: str, why: str = "") -> None:
        self.key, self.why = key, why


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class SessionCookie:
    """The cookie one front end keeps its sessions in, and the kind of principal it accepts (a member's
    token is no operator session, and an operator's no member's)."""

    name: str
    kind: Kind
    purpose: str  # what the CSRF key is derived for: each front end's tokens are its own

    def csrf_token(self, settings: WebSettings, token: str) -> str:
        key = f"{self.purpose}:".encode() + settings.auth_signing_keys.get_secret_value().encode()
        return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()

    def session_of(self, request: Request) -> Session | None:
        """The session the request's cookie carries; raises ``SignedOut`` for a token that ended, that
        this deployment did not sign, or that names another kind of principal."""
        token = request.cookies.get(self.name)
        if not token:
            return None
        signing: SigningKeys = request.app.state.signing_keys
        found = signing.verify(token)
        if isinstance(found, str) or found.kind != self.kind:
            raise SignedOut("session_expired")
        return Session(token, found, self.csrf_token(settings_of(request), token))

    def keep(self, request: Request, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(
            self.name, token, max_age=max_age, httponly=True, samesite="strict", secure=_secure(request),
            path="/",
        )  # fmt: skip

    def forget(self, request: Request, response: Response) -> None:
        response.delete_cookie(self.name, httponly=True, samesite="strict", secure=_secure(request), path="/")

    async def sign_out(self, request: Request, form: dict[str, str]) -> Response:
        """To the sign-in page, the session forgotten (a session's own form only: its CSRF token)."""
        current = self.session_of(request)
        if current is not None:
            check_csrf(current, form.get(CSRF_FIELD))
        response = RedirectResponse("/sign-in?why=signed_out", status_code=303)
        self.forget(request, response)
        return response


def _secure(request: Request) -> bool:
    return settings_of(request).secure_cookie or request.url.scheme == "https"


def check_csrf(session: Session, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise BadForm("csrf")
