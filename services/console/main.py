from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from services.console.imports_page import imports
from services.console.insight import insight_pages
from services.console.operations import operations_pages
from services.console.pages import pages
from services.console.render import render
from services.console.session import SESSION, Refused
from services.console.settings import ConsoleSettings
from services.console.setup_pages import setup
from shared.web.pages import front_end

STATIC = Path(__file__).parent / "static"


def _error_page(
    request: Request, status: int, title: str, message: tuple[str, dict[str, object]]
) -> Response:
    return render(request, "error.html.j2", None, status=status, title=title, message=message)


def create(settings: ConsoleSettings | None = None) -> FastAPI:
    routes = APIRouter()
    for router in (pages, insight_pages, operations_pages, setup, imports):  # each module's own router
        routes.include_router(router)
    app = front_end(settings or ConsoleSettings(), "Vafa console", routes, STATIC, SESSION, _error_page)

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        roles = ", ".join(sorted(error.session.principal.roles))
        return render(request, "error.html.j2", error.session, status=403,
                      title="forbidden_title", message=("forbidden", {"roles": roles}))  # fmt: skip

    return app
