from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.pages import pages
from services.console.render import render
from services.console.session import BadForm, Refused, SignedOut, forget
from services.console.settings import ConsoleSettings
from shared.service import create_app

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# What a page may load: only this console's own files; never framed by another site.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    # No topic, no store: the console calls the other services' APIs (so it has no Kafka principal).
    app = create_app(settings, title="Vafa console", api=pages, kafka=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)

    # Every failure a browser can meet is a page saying what happened: never a stack trace or JSON.
    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, error: SignedOut) -> Response:
        target = "/sign-in" + (f"?why={error.reason}" if error.reason else "")
        response = RedirectResponse(target, status_code=303)
        if error.reason:
            forget(request, response)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        roles = ", ".join(sorted(error.session.principal.roles))
        return render(request, "error.html.j2", error.session, status=403,
                      title="forbidden_title", message=("forbidden", {"roles": roles}))  # fmt: skip

    @app.exception_handler(BadForm)
    async def bad_form(request: Request, error: BadForm) -> Response:
        key = error.key if error.key == "csrf" else "bad_request"
        return render(request, "error.html.j2", None, status=400 if key != "csrf" else 403,
                      title="bad_request_title", message=(key, {"why": error.why}))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        why = f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
        return render(request, "error.html.j2", None, status=400,
                      title="bad_request_title", message=("bad_request", {"why": why}))  # fmt: skip

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404:
            return render(request, "error.html.j2", None, status=404,
                          title="not_found_title", message=("not_found", {}))  # fmt: skip
        return render(request, "error.html.j2", None, status=error.status_code,
                      title="bad_request_title", message=("bad_request", {"why": error.detail}))  # fmt: skip

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> Response:
        log.exception("console page %s failed", request.url.path)
        return render(request, "error.html.j2", None, status=500,
                      title="error_title", message=("error", {}))  # fmt: skip

    return app
