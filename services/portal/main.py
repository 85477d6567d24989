from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.portal.pages import SESSION, pages
from services.portal.render import render
from services.portal.settings import PortalSettings
from shared.service import create_app
from shared.web.pages import SecurityHeaders, install_error_pages

STATIC = Path(__file__).parent / "static"


def _error_page(
    request: Request, status: int, title: str, message: tuple[str, dict[str, object]]
) -> Response:
    return render(request, "error.html.j2", None, status=status, title=title, message=message)


def create(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    # No topic, no store: the portal calls the other services' APIs with the member's own token.
    app = create_app(settings, title="Vafa member portal", api=pages, kafka=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    install_error_pages(app, SESSION, _error_page)
    return app
