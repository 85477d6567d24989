"""Pages rendered server-side with Jinja2 (autoescaped), in the language the request chose."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.console import i18n
from services.console.nav import NAV
from services.console.session import CSRF_FIELD, Session
from services.console.settings import ConsoleSettings

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a missing variable fails the page test, not a reader
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["path_part"] = lambda value: quote(str(value), safe="")
# A year: the language is a preference, not a secret.
LANG_MAX_AGE = 365 * 24 * 3600


def locale_of(request: Request) -> i18n.Locale:
    settings: ConsoleSettings = request.app.state.settings
    return i18n.chosen(
        request.query_params.get("lang"), request.cookies.get(i18n.COOKIE), settings.console_default_locale
    )


def switch_url(request: Request, locale: i18n.Locale) -> str:
    """This page in the other language (its other query parameters kept)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "adjusted")]
    return f"{request.url.path}?{urlencode([*params, ('lang', locale)])}"


def render(
    request: Request, template: str, current: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    words = i18n.Words(locale_of(request))
    html = ENV.get_template(template).render(
        t=words,
        session=current,
        nav=[p for p in NAV if current is not None and current.may(p.permission)],
        here=request.url.path,
        switch=switch_url(request, words.other),
        csrf_field=CSRF_FIELD,
        known_words=i18n.WORDS,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    asked = request.query_params.get("lang")
    if asked in i18n.LOCALES:
        response.set_cookie(i18n.COOKIE, asked, max_age=LANG_MAX_AGE, samesite="strict", httponly=True)
    # The pages carry a member's data: not kept by the browser's or a proxy's cache.
    response.headers["Cache-Control"] = "no-store"
    return response
