"""The import page: a chain moving from another program uploads its members, and optionally their
opening balances, as one CSV. **Check** is a dry run (ingest and points judge every row and change
nothing); **Import** enrols the good rows' members in ingest first, then credits the balances of those
enrolled. Either way every bad row is listed with its line, its column and why, in the operator's
language."""

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


# Enrolling is ingest's, crediting points': support and admin hold both permissions.
NEEDS = P.MEMBERS_IMPORT


@imports.get("/imports", **declared(NEEDS))
async def import_page(request: Request) -> Response:
    current = signed_in(request, NEEDS)
    return _page(request, current)


@imports.post("/imports", **declared(NEEDS))
async def import_file(request: Request) -> Response:
    """The file checked (``action=check``) or imported (``action=import``) by ingest's member import and
    points' opening-balance import, each auditing an import under the operator's name."""
    current = signed_in(request, NEEDS)
    fields, files = await read_upload(request, MAX_BYTES + 10_000)
    check_csrf(current, fields.get(CSRF_FIELD))
    dry_run = fields.get("action") != "import"
    try:
        upload = read_csv(files.get("file", b""))
    except BadFile as bad:
        return _page(request, current, status=422, bad_file=(bad.key, bad.values))
    body = {"import_id": upload.import_id, "dry_run": dry_run}
    async with Backends(settings_of(request), current.token) as call:
        enrolled = await call.post("ingest", "/v1/imports/members", NEEDS, body | {"rows": upload.members})
        if not enrolled.ok:
            return _page(request, current, status=422, refused=enrolled.detail or enrolled.missing)
        refused = {e["row"] for e in enrolled.data["errors"]}
        # Only an enrolled member's balance is credited; the dry run judges the same rows, so what it
        # says the import would credit is what the import credits.
        balances = [b for b in upload.balances if b["row"] not in refused]
        credited = _NO_BALANCES | {"dry_run": dry_run}
        if balances:
            done = await call.post(
                "points", "/v1/imports/opening-balances", P.POINTS_ADJUST, body | {"rows": balances}
            )
            if not done.ok:
                return _page(request, current, status=422, refused=done.detail or done.missing)
            credited = done.data
    errors = enrolled.data["errors"] + credited["errors"]
    return _page(request, current, members=enrolled.data, report=credited, bad_rows=_bad_rows(errors))


# Points' answer for a file without opening balances.
_NO_BALANCES: dict[str, Any] = {
    "to_credit": 0,
    "credited": 0,
    "points": 0,
    "already_imported": 0,
    "errors": [],
}


def _page(request: Request, current: Session, status: int = 200, **context: Any) -> Response:
    return render(request, TEMPLATE, current, status=status, max_rows=MAX_ROWS, **context)


# What ingest refuses of a contact value is a pattern: the console says which pattern, for which column.
_FIELD_WORDS = {
    ("phone", "string_pattern_mismatch"): "err_phone",
    ("email", "string_pattern_mismatch"): "err_email",
    ("card_no", "string_pattern_mismatch"): "err_card_no",
}


def _bad_rows(errors: list[dict[str, Any]]) -> list[tuple[int, str, tuple[str, dict[str, object]]]]:
    """Each refused row: its line, its column, and why (a word key and its values), in line order."""
    said = []
    for e in sorted(errors, key=lambda e: int(e["row"])):
        key = _FIELD_WORDS.get((e["field"], e["rule"]))
        said.append((e["row"], e["field"], (key, {}) if key else words_of(e["rule"], e["message"])))
    return said
