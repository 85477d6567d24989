"""An operator's session: the token ingest issued them, kept in an HttpOnly, SameSite=Strict cookie
(Secure over TLS), read back on each request to know who they are and what their role may do.

Forms are protected against cross-site requests twice: the browser does not send a Strict cookie with a
request another site starts, and every form carries a token derived from the session (an HMAC of the
token under the deployment's signing keys), which another site cannot know.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request, Response

from services.console.settings import ConsoleSettings
from shared.identity import Permission, Principal, SigningKeys

COOKIE = "vafa_session"
CSRF_FIELD = "csrf"


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


class Refused(Exception):
    """The operator's role may not open the page (403)."""

    def __init__(self, session: Session, permission: Permission) -> None:
        self.session, self.permission = session, permission


class BadForm(Exception):
    """A form the console cannot act on (400): a stale or foreign CSRF token, a field out of shape."""

    def __init__(self, key: str, why: str = "") -> None:
        self.key, self.why = key, why


def csrf_token(settings: ConsoleSettings, token: str) -> str:
    key = b"vafa-console-csrf:" + settings.auth_signing_keys.get_secret_value().encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def session_of(request: Request) -> Session | None:
    """The session the request's cookie carries; raises ``SignedOut`` for a token that ended or that
    this deployment did not sign."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    signing: SigningKeys = request.app.state.signing_keys
    found = signing.verify(token)
    if isinstance(found, str) or found.kind != "operator":
        raise SignedOut("session_expired")
    return Session(token, found, csrf_token(request.app.state.settings, token))


def signed_in(request: Request, permission: Permission) -> Session:
    """The session of an operator whose role may ``permission``; ``SignedOut`` or ``Refused`` if not."""
    session = session_of(request)
    if session is None:
        raise SignedOut(None)
    if not session.may(permission):
        raise Refused(session, permission)
    return session


def check_csrf(session: Session, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise BadForm("csrf")


def _secure(request: Request) -> bool:
    settings: ConsoleSettings = request.app.state.settings
    return settings.console_secure_cookie or request.url.scheme == "https"


def keep(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )


def forget(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=_secure(request), path="/")
