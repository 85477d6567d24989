"""Pages rendered server-side with Jinja2 (autoescaped) in the language the request chose; the forms
they post; the headers every page carries; and the error pages a browser meets instead of a stack
trace or a JSON document."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.config import ServiceSettings
from shared.problems import ProblemError
from shared.service import create_app
from shared.web import words
from shared.web.session import CSRF_FIELD, BadForm, SessionCookie, SignedOut, settings_of
from shared.web.timing import ServerTiming

log = logging.getLogger(__name__)
# A year: the language is a preference, not a secret.
LANG_MAX_AGE = 365 * 24 * 3600
# What a page may load: only the front end's own files; never framed by another site.
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


async def read_fields(request: Request, limit: int = 20) -> dict[str, list[str]]:
    """An urlencoded form of at most ``limit`` fields, each with its values; ``BadForm`` if it is not one."""
    body = await request.body()
    if not body:
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise BadForm("bad_request", "not a form")
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=limit)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadForm("bad_request", "not a form") from error


async def read_form(request: Request, *fields: str) -> dict[str, str]:
    """The first value of each named field of an urlencoded form."""
    parsed = await read_fields(request)
    return {name: parsed[name][0] for name in fields if name in parsed}


async def read_upload(
    request: Request, limit: int, parts: int = 10
) -> tuple[dict[str, str], dict[str, bytes]]:
    """A multipart form (``<form enctype="multipart/form-data">``) of at most ``limit`` bytes and ``parts``
    parts: its fields, and its files' contents by field name; ``BadForm`` if it is not one."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data") or not kind.isascii():
        raise BadForm("bad_request", "not a form with a file")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadForm("bad_request", f"the file is larger than {limit // 1000} kB")
    # The standard library reads MIME: a multipart form is one, once its content type heads it.
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise BadForm("bad_request", "not a form with a file")
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for n, part in enumerate(message.iter_parts()):
        name = part.get_param("name", header="content-disposition")
        if n >= parts or not isinstance(name, str):
            raise BadForm("bad_request", "not a form with a file")
        content = part.get_payload(decode=True)
        content = content if isinstance(content, bytes) else b""
        if part.get_filename() is not None:
            files[name] = content
        else:
            fields[name] = content.decode("utf-8", errors="replace")
    return fields, files


# Digits a reader may type (Persian or Arabic-Indic, and the Persian decimal point) read as the same number.
_ASCII_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫", "01234567890123456789.")


def typed(value: str) -> str:
    """What a reader typed, with Persian or Arabic digits read as the same number in ASCII, spaces around
    it dropped."""
    return value.strip().translate(_ASCII_DIGITS)


class Renderer:
    """A front end's templates, rendered with its words (``t``) in the request's language."""

    def __init__(self, templates: Path, vocabulary: type[words.Words]) -> None:
        self.vocabulary = vocabulary
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,  # a missing variable fails the page test, not a reader
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["path_part"] = lambda value: quote(str(value), safe="")
        # Shown as typed in either language (a code, a link): no Persian digits, no Persian decimal point.
        self.env.filters["verbatim"] = words.Verbatim

    def locale_of(self, request: Request, default: words.Locale | None = None) -> words.Locale:
        """``?lang=``, the cookie, then ``default`` (a member's own) or the deployment's."""
        fallback = default or settings_of(request).default_locale
        return words.chosen(request.query_params.get("lang"), request.cookies.get(words.COOKIE), fallback)

    def page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        locale: words.Locale | None = None,
        **context: Any,
    ) -> HTMLResponse:
        t = self.vocabulary(self.locale_of(request, locale))
        html = self.env.get_template(template).render(
            t=t, switch=switch_url(request, t.other), csrf_field=CSRF_FIELD, **context
        )
        response = HTMLResponse(html, status_code=status)
        asked = request.query_params.get("lang")
        if asked in words.LOCALES:
            response.set_cookie(words.COOKIE, asked, max_age=LANG_MAX_AGE, samesite="strict", httponly=True)
        # The pages carry a member's data: not kept by the browser's or a proxy's cache.
        response.headers["Cache-Control"] = "no-store"
        return response


def switch_url(request: Request, locale: words.Locale) -> str:
    """This page in the other language (its query parameters kept, but the one-off notices)."""
    drop = ("lang", "adjusted", "redeemed", "saved")
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
    return f"{request.url.path}?{urlencode([*params, ('lang', locale)])}"


# An error page: (request, status, its title's word key, its message as a word key and values).
ErrorPage = Callable[[Request, int, str, tuple[str, dict[str, object]]], Response]


def front_end(
    settings: ServiceSettings,
    title: str,
    api: APIRouter,
    static: Path,
    cookie: SessionCookie,
    error_page: ErrorPage,
    json_under: str | None = None,
) -> FastAPI:
    """A web front end: its pages, its static files, the security headers and its error pages. No topic,
    no store: it calls the services' APIs with the signed-in person's token (so it has no Kafka
    principal). Each answer says where its time went (``Server-Timing``, shared/web/timing.py).
    ``json_under``: the path prefix of its JSON API (the portal's), answered with problems."""
    app = create_app(settings, title=title, api=api, kafka=False)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ServerTiming)  # outermost: its ``app`` figure covers the others
    install_error_pages(app, cookie, error_page, json_under)
    return app


def install_error_pages(
    app: FastAPI, cookie: SessionCookie, error_page: ErrorPage, json_under: str | None = None
) -> None:
    """Every failure a browser can meet is a page saying what happened: never a stack trace or JSON.
    A session that ended goes to the sign-in page, saying so, its cookie forgotten. Under ``json_under``
    (a JSON API, for programs) every failure stays the problem document the services answer with."""
    problems = dict(app.exception_handlers)

    def json_api(handler: Callable[[Request, Any], Any]) -> Callable[[Request, Any], Any]:
        async def either(request: Request, error: Exception) -> Response:
            if json_under and request.url.path.startswith(json_under):
                if isinstance(error, SignedOut):  # a service refused the token: it has ended
                    error = ProblemError(401, "Unauthorized", "the token has ended: sign in again")
                found = next(problems[c] for c in type(error).__mro__ if c in problems)
                answer: Response = await found(request, error)
                return answer
            answer = await handler(request, error)
            return answer

        return either

    app.exception_handlers.update({k: json_api(v) for k, v in _pages_handlers(cookie, error_page).items()})


def _pages_handlers(cookie: SessionCookie, error_page: ErrorPage) -> dict[type[Exception], Any]:
    async def signed_out(request: Request, error: SignedOut) -> Response:
        target = "/sign-in" + (f"?why={error.reason}" if error.reason else "")
        response = RedirectResponse(target, status_code=303)
        if error.reason:
            cookie.forget(request, response)
        return response

    async def bad_form(request: Request, error: BadForm) -> Response:
        if error.key == "csrf":
            return error_page(request, 403, "bad_request_title", ("csrf", {}))
        return error_page(request, 400, "bad_request_title", ("bad_request", {"why": error.why}))

    async def invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        why = f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
        return error_page(request, 400, "bad_request_title", ("bad_request", {"why": why}))

    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404:
            return error_page(request, 404, "not_found_title", ("not_found", {}))
        return error_page(
            request, error.status_code, "bad_request_title", ("bad_request", {"why": error.detail})
        )

    async def failed(request: Request, error: Exception) -> Response:
        log.exception("page %s failed", request.url.path)
        return error_page(request, 500, "error_title", ("error", {}))

    return {SignedOut: signed_out, BadForm: bad_form, RequestValidationError: invalid,
            HTTPException: http_error, Exception: failed}  # fmt: skip
