"""The import page: a chain moving from another program uploads its members' opening balances as a CSV.
**Check** is a dry run (points judges every row and changes nothing); **Import** credits the good rows.
Either way every bad row is listed with its line, its column and why, in the operator's language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.forms import words_of
from services.console.imports import MAX_BYTES, MAX_ROWS, BadFile, read_csv
from services.console.render import render
from services.console.session import CSRF_FIELD, Session, check_csrf, signed_in
from shared.identity import Permission, declared
from shared.web.backends import Backends
from shared.web.pages import read_upload
from shared.web.session import settings_of

P = Permission
imports = APIRouter(default_response_class=HTMLResponse)
TEMPLATE = "imports.html.j2"


@imports.get("/imports", **declared(P.POINTS_ADJUST))
async def import_page(request: Request) -> Response:
    current = signed_in(request, P.POINTS_ADJUST)
    return _page(request, current)


@imports.post("/imports", **declared(P.POINTS_ADJUST))
async def import_file(request: Request) -> Response:
    """The file checked (``action=check``) or imported (``action=import``) by points' opening-balance
    import, which audits an import under the operator's name."""
    current = signed_in(request, P.POINTS_ADJUST)
    fields, files = await read_upload(request, MAX_BYTES + 10_000)
    check_csrf(current, fields.get(CSRF_FIELD))
    dry_run = fields.get("action") != "import"
    try:
        upload = read_csv(files.get("file", b""))
    except BadFile as bad:
        return _page(request, current, status=422, bad_file=(bad.key, bad.values))
    body = {"import_id": upload.import_id, "dry_run": dry_run, "rows": upload.rows}
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("points", "/v1/imports/opening-balances", P.POINTS_ADJUST, body)
    if not done.ok:
        return _page(request, current, status=422, refused=done.detail or done.missing)
    return _page(request, current, report=done.data, bad_rows=_bad_rows(done.data["errors"]))


def _page(request: Request, current: Session, status: int = 200, **context: Any) -> Response:
    return render(request, TEMPLATE, current, status=status, max_rows=MAX_ROWS, **context)


def _bad_rows(errors: list[dict[str, Any]]) -> list[tuple[int, str, tuple[str, dict[str, object]]]]:
    """Each refused row: its line, its column, and why (a word key and its values)."""
    return [(e["row"], e["field"], words_of(e["rule"], e["message"])) for e in errors]
