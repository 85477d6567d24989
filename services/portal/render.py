"""The portal's pages (shared/web/pages.py renders them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.portal import words
from shared.web.pages import Renderer
from shared.web.session import Session
from shared.web.words import Locale

RENDERER = Renderer(Path(__file__).parent / "templates", words.Words)


def render(
    request: Request,
    template: str,
    current: Session | None,
    status: int = 200,
    locale: Locale | None = None,
    **context: Any,
) -> HTMLResponse:
    """``locale``: the member's own, when neither ``?lang=`` nor the language cookie chose one."""
    return RENDERER.page(
        request, template, status, locale, session=current, known_words=words.WORDS, **context
    )
