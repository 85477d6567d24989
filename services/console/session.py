"""An operator's session (shared/web/session.py: the cookie, its CSRF token), and the role gate: which
pages an operator's role may open."""

from __future__ import annotations

from fastapi import Request

from shared.identity import Permission
from shared.web.session import CSRF_FIELD, BadForm, Session, SessionCookie, SignedOut, check_csrf

COOKIE = "vafa_session"
SESSION = SessionCookie(COOKIE, "operator", "vafa-console-csrf")
csrf_token = SESSION.csrf_token
session_of = SESSION.session_of
keep = SESSION.keep
forget = SESSION.forget


class Refused(Exception):
    """The operator's role may not open the page (403)."""

    def __init__(self, session: Session, permission: Permission) -> None:
        self.session, self.permission = session, permission


def signed_in(request: Request, permission: Permission) -> Session:
    """The session of an operator whose role may ``permission``; ``SignedOut`` or ``Refused`` if not."""
    session = session_of(request)
    if session is None:
        raise SignedOut(None)
    if not session.may(permission):
        raise Refused(session, permission)
    return session


__all__ = [
    "COOKIE", "CSRF_FIELD", "BadForm", "Refused", "Session", "SignedOut", "check_csrf", "csrf_token",
    "forget", "keep", "session_of", "signed_in",
]  # fmt: skip
