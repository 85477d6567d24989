"""The setup pages' routes (``setup.py`` declares the pages): each lists what points holds and puts one
item through points' API, with the operator's token (points audits it under their name). Points
validates; what it refuses is shown next to its field, and nothing is saved."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import forms
from services.console import program as editing
from services.console.render import render
from services.console.session import CSRF_FIELD, Session, check_csrf, signed_in
from services.console.setup import FORM_LIMIT, ID_PATTERN, PAGES, Filled, SetupPage
from services.console.targeting import INPUTS, TargetForm, targeted
from shared.contracts.envelope import utcnow
from shared.identity import Permission, declared
from shared.web.backends import Backends, Block
from shared.web.pages import read_fields
from shared.web.session import settings_of

P = Permission
setup = APIRouter(default_response_class=HTMLResponse)
TEMPLATE = "setup.html.j2"
TARGETING = "setup_targeting.html.j2"
TABS = (*(p.key for p in PAGES), "targeting")
Name = Annotated[str | None, Query(max_length=64)]


@setup.get("/setup", **declared(P.PROGRAM_WRITE))
async def setup_home(request: Request) -> Response:
    signed_in(request, P.PROGRAM_WRITE)
    return RedirectResponse(f"/setup/{PAGES[0].key}", status_code=303)


def _page_routes(page: SetupPage) -> None:
    async def show(request: Request, edit: Name = None, saved: Name = None) -> Response:
        current = signed_in(request, P.PROGRAM_WRITE)
        listed = await _listed(request, current, page)
        items = listed.data[page.listed] if listed.ok else []
        item = next((i for i in items if i[page.id_name] == edit), None) if page.editable else None
        return _render(request, current, page, listed, Filled.of(page, item), saved=saved)

    async def submit(request: Request) -> Response:
        current = signed_in(request, P.PROGRAM_WRITE)
        form = await read_fields(request, FORM_LIMIT)
        check_csrf(current, next(iter(form.get(CSRF_FIELD, [])), None))
        filled = Filled.read(page, form)
        item_id = filled.get("id")
        if not re.fullmatch(ID_PATTERN, item_id):
            errors = forms.FieldErrors({"id": [("err_id", {})]})
            listed = await _listed(request, current, page)
            return _render(request, current, page, listed, filled, status=422, errors=errors)
        async with Backends(settings_of(request), current.token) as call:
            path = page.put.format(id=quote(item_id, safe=""))
            done = await call.post("points", path, P.PROGRAM_WRITE, filled.body(page), method="PUT")
            if done.ok:
                return RedirectResponse(f"/setup/{page.key}?saved={quote(item_id)}", status_code=303)
        listed = await _listed(request, current, page)
        errors = forms.field_errors(done.errors, page.names, page.input_of)
        refused = None if done.errors else (done.detail or done.missing)
        return _render(request, current, page, listed, filled, status=422, errors=errors, refused=refused)

    path = f"/setup/{page.key}"
    setup.add_api_route(path, show, methods=["GET"], name=f"setup_{page.key}", **declared(P.PROGRAM_WRITE))
    setup.add_api_route(path, submit, methods=["POST"], name=f"put_{page.key}", **declared(P.PROGRAM_WRITE))


for _page in PAGES:
    _page_routes(_page)


async def _listed(request: Request, current: Session, page: SetupPage) -> Block:
    async with Backends(settings_of(request), current.token) as call:
        return await call.get("points", page.listing, P.PROGRAM_READ)


def _render(
    request: Request,
    current: Session,
    page: SetupPage,
    listed: Block,
    filled: Filled,
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("errors", forms.FieldErrors())
    context.setdefault("saved", None)
    return render(
        request, TEMPLATE, current, status=status, page=page, tabs=TABS, listed=listed, filled=filled,
        **context,
    )  # fmt: skip


@setup.get("/setup/targeting", **declared(P.PROGRAM_WRITE))
async def targeting(request: Request, edit: Name = None, saved: Name = None) -> Response:
    """The targeted promotions in force, each with its audience and holdout and the lift analytics
    measured (treatment against holdout); and the form that adds or changes one."""
    current = signed_in(request, P.PROGRAM_WRITE)
    rules, lift = await _targeting_view(request, current)
    in_force = targeted(rules) if rules is not None else []
    chosen = next((p for p in in_force if p["name"] == edit), None)
    return _render_targeting(request, current, rules, lift, TargetForm.of(chosen), saved=saved)


@setup.post("/setup/targeting", **declared(P.PROGRAM_WRITE))
async def put_targeting(request: Request) -> Response:
    """The promotion put into the version in force and published as a new version from now (points
    audits it under the operator's name, as the Program page's publishing)."""
    current = signed_in(request, P.PROGRAM_WRITE)
    form = await read_fields(request, FORM_LIMIT)
    check_csrf(current, next(iter(form.get(CSRF_FIELD, [])), None))
    filled = TargetForm.read(form)
    rules, lift = await _targeting_view(request, current)
    if rules is None:
        return _render_targeting(request, current, rules, lift, filled, status=422)
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("points", "/v1/rules", P.PROGRAM_WRITE, filled.rules(rules, utcnow()))
    if done.ok:
        return RedirectResponse(f"/setup/targeting?saved={quote(filled.get('name'))}", status_code=303)
    errors = forms.field_errors(done.errors, INPUTS, filled.input_of(rules))
    refused = None if done.errors else (done.detail or done.missing)
    return _render_targeting(
        request, current, rules, lift, filled, status=422, errors=errors, refused=refused
    )


async def _targeting_view(request: Request, current: Session) -> tuple[dict[str, Any] | None, Block]:
    """The rule set in force (None when points does not answer) and analytics' lift per promotion."""
    async with Backends(settings_of(request), current.token) as call:
        found = await call.get("points", "/v1/rules", P.PROGRAM_READ)
        lift = await call.get("analytics", "/v1/kpis/promotions", P.INSIGHT_READ)
    if not found.ok:
        return None, lift
    return dict(editing.in_force(editing.versions(found.data["versions"], utcnow())).rules), lift


def _render_targeting(
    request: Request,
    current: Session,
    rules: dict[str, Any] | None,
    lift: Block,
    filled: TargetForm,
    status: int = 200,
    **context: Any,
) -> Response:
    measured = {p["promotion"]: p for p in lift.data["promotions"]} if lift.ok else {}
    context.setdefault("errors", forms.FieldErrors())
    context.setdefault("saved", None)
    return render(
        request, TARGETING, current, status=status, tabs=TABS, rules_missing=rules is None,
        promotions=targeted(rules or {}), lift=lift, measured=measured, filled=filled, **context,
    )  # fmt: skip
