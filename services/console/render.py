"""The console's pages (shared/web/pages.py renders them), with the operator's nav."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.console import i18n
from services.console.nav import NAV
from services.console.session import Session
from shared.web.pages import Renderer

TEMPLATES = Path(__file__).parent / "templates"
RENDERER = Renderer(TEMPLATES, i18n.Words)


def render(
    request: Request, template: str, current: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    return RENDERER.page(
        request,
        template,
        status,
        session=current,
        nav=[p for p in NAV if current is not None and current.may(p.permission)],
        here=request.url.path,
        known_words=i18n.WORDS,
        **context,
    )
