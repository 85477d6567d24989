from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from services.portal.pages import SESSION, pages
from services.portal.render import render
from services.portal.settings import PortalSettings
from shared.web.pages import front_end

STATIC = Path(__file__).parent / "static"


def _error_page(
    request: Request, status: int, title: str, message: tuple[str, dict[str, object]]
) -> Response:
    return render(request, "error.html.j2", None, status=status, title=title, message=message)


def create(settings: PortalSettings | None = None) -> FastAPI:
    return front_end(settings or PortalSettings(), "Vafa member portal", pages, STATIC, SESSION, _error_page)
