from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from services.portal.api import api
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
    settings = settings or PortalSettings()
    routes = APIRouter()
    routes.include_router(pages)
    routes.include_router(api)
    app = front_end(settings, "Vafa member portal", routes, STATIC, SESSION, _error_page, json_under="/api/")
    # The widget on a chain's web shop reads the JSON API from the browser: only the shops named in
    # the settings may (never "*"), with the member's token as a Bearer header, never a cookie.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.portal_widget_origins,
        allow_methods=["GET"],
        allow_headers=["Authorization"],
        allow_credentials=False,
        max_age=600,
    )
    return app
