"""The console's pages. Each page declares the permission it needs (its OpenAPI operation says so, as
every service's routes do): the nav shows a page only to a role that may open it, and the route refuses
the others (403) whatever link they followed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import session
from services.console.backends import SignedIn, sign_in
from services.console.nav import NAV
from services.console.render import render
from services.console.session import BadForm, Session, check_csrf, signed_in
from services.console.settings import ConsoleSettings
from shared.identity import SIGN_IN, Permission, declared
from shared.web import explain
from shared.web.backends import Backends, Block
from shared.web.pages import ASCII_DIGITS, read_form

P = Permission
pages = APIRouter(default_response_class=HTMLResponse)
MemberPath = Annotated[str, Path(min_length=1, max_length=128)]
# The ledger read for a member page: its newest entries are shown, and the lots are computed from it
# when it is the whole ledger.
LEDGER_READ = 500
LEDGER_SHOWN = 50
LOOKUPS = ("phone", "email", "card_no", "member_id")


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


@pages.get("/", **declared(P.MEMBER_READ))
async def home(request: Request) -> Response:
    """The first page the operator's role may open."""
    found = session.session_of(request)
    if found is None:
        return RedirectResponse("/sign-in", status_code=303)
    for page in NAV:
        if found.may(page.permission):
            return RedirectResponse(page.path, status_code=303)
    signed_in(request, P.MEMBER_READ)  # refuses, saying so
    raise AssertionError("unreachable")


@pages.get("/sign-in", **SIGN_IN)
async def sign_in_page(request: Request, why: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    notice = why if why in ("session_expired", "signed_out") else None
    return render(request, "sign_in.html.j2", None, notice=notice)


@pages.post("/sign-in", **SIGN_IN)
async def sign_in_submit(request: Request) -> Response:
    form = await read_form(request, "name", "password")
    name, password = form.get("name", "").strip(), form.get("password", "")
    if not name or not password or len(name) > 100 or len(password) > 1000:
        return render(request, "sign_in.html.j2", None, status=401, error=("wrong_password", {}), name=name)
    found = await sign_in(_settings(request), name, password)
    if not isinstance(found, SignedIn):
        key, values = found
        status = {"locked_out": 429, "wrong_password": 401}.get(key, 503)
        return render(request, "sign_in.html.j2", None, status=status, error=(key, values), name=name)
    response = RedirectResponse("/", status_code=303)
    session.keep(request, response, found.token, found.expires_in)
    return response


@pages.post("/sign-out", **SIGN_IN)
async def sign_out(request: Request) -> Response:
    return await session.SESSION.sign_out(request, await read_form(request, session.CSRF_FIELD))


@pages.get("/members", **declared(P.MEMBER_READ))
async def find_member(
    request: Request,
    by: Annotated[str, Query(max_length=20)] = "phone",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Find a member by phone, email, card number (ingest's lookup) or id."""
    current = signed_in(request, P.MEMBER_READ)
    by = by if by in LOOKUPS else "phone"
    value = q.strip().translate(ASCII_DIGITS)  # Persian digits typed into the box are the same number
    context: dict[str, Any] = {"by": by, "q": q}
    if not value:
        return render(request, "members.html.j2", current, **context)
    if by == "member_id":
        return RedirectResponse(f"/members/{quote(value, safe='')}", status_code=303)
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("ingest", "/v1/members/lookup", P.MEMBER_READ, params={by: value})
    if found.ok:
        members = found.data["members"]
        if len(members) == 1:
            return RedirectResponse(f"/members/{quote(members[0], safe='')}", status_code=303)
        context["members"] = members
    elif found.missing is None or found.missing[0] == "service_error":
        # The lookup refused what was typed (422: not a phone number): say what it said.
        context["invalid"] = found.detail
    else:
        context["block_missing"] = found.missing
    return render(request, "members.html.j2", current, **context)


async def _member_view(request: Request, current: Session, member_id: str) -> dict[str, Any]:
    """Every block of the member page, each from its service, asked at once."""
    path = f"/v1/members/{quote(member_id, safe='')}"
    async with Backends(_settings(request), current.token) as call:
        balance, ledger, tier, deliveries, referrals, challenges, contacts = await asyncio.gather(
            call.get("points", f"{path}/balance", P.MEMBER_READ),
            call.get("points", f"{path}/ledger", P.MEMBER_READ, params={"limit": LEDGER_READ}),
            call.get("tiers", f"{path}/tier", P.MEMBER_READ),
            call.get("notify", f"{path}/deliveries", P.MEMBER_READ, params={"limit": 500}),
            call.get("points", f"{path}/referrals", P.MEMBER_READ),
            call.get("points", f"{path}/challenges", P.MEMBER_READ),
            call.get("ingest", "/v1/members/contacts", P.CONTACT_READ, params={"member_id": member_id}),
        )
    entries: list[dict[str, Any]] = ledger.data["entries"] if ledger.ok else []
    whole = ledger.ok and ledger.data["next_before"] is None
    lots = Block(data=explain.lots(entries)) if whole else _lots_missing(ledger)
    messages = Block(data=list(reversed(deliveries.data["deliveries"]))) if deliveries.ok else deliveries
    contact = Block(data=contacts.data["contacts"].get(member_id)) if contacts.ok else contacts
    return {
        "member_id": member_id,
        "balance": balance,
        "tier": tier,
        "ledger": ledger,
        "entries": [(e, explain.why(e)) for e in entries[:LEDGER_SHOWN]],
        "more_entries": len(entries) > LEDGER_SHOWN,
        "lots": lots,
        "messages": messages,
        "referrals": referrals,
        "challenges": challenges,
        "contact": contact,
        "request_id": uuid.uuid4(),  # a fresh one per form: sent twice, the adjustment counts once
    }


def _lots_missing(ledger: Block) -> Block:
    if not ledger.ok:
        return ledger
    return Block(missing=("lots_too_long", {"count": LEDGER_READ}))


@pages.get("/members/{member_id}", **declared(P.MEMBER_READ))
async def member_page(
    request: Request,
    member_id: MemberPath,
    adjusted: Annotated[int | None, Query(ge=-(2**62), le=2**62)] = None,
) -> Response:
    """Member 360: balance and debt, lots, tier and the way to the next, the ledger with each entry's
    reason, messages, referrals, challenges; and the adjustment form for a role that may adjust."""
    current = signed_in(request, P.MEMBER_READ)
    view = await _member_view(request, current, member_id)
    return render(request, "member.html.j2", current, adjusted=adjusted, **view)


@pages.post("/members/{member_id}/adjustments", **declared(P.POINTS_ADJUST))
async def adjust(request: Request, member_id: MemberPath) -> Response:
    """Points added or taken with a reason, through points' adjustment (audited there)."""
    current = signed_in(request, P.POINTS_ADJUST)
    form = await read_form(request, session.CSRF_FIELD, "points", "reason", "request_id")
    check_csrf(current, form.get(session.CSRF_FIELD))
    try:
        points = int(form.get("points", "").strip().translate(ASCII_DIGITS))
        request_id = uuid.UUID(form.get("request_id", ""))
    except ValueError as error:
        raise BadForm("bad_request", "points is a whole number") from error
    body = {"request_id": str(request_id), "points": points, "reason": form.get("reason", "").strip()}
    async with Backends(_settings(request), current.token) as call:
        done = await call.post(
            "points", f"/v1/members/{quote(member_id, safe='')}/adjustments", P.POINTS_ADJUST, body
        )
    if done.ok:
        return RedirectResponse(f"/members/{quote(member_id, safe='')}?adjusted={points}", status_code=303)
    view = await _member_view(request, current, member_id)
    refused = done.detail or done.missing
    return render(request, "member.html.j2", current, status=422, refused=refused, adjusted=None, **view)


@pages.get("/audit", **declared(P.AUDIT_READ))
async def audit(request: Request) -> Response:
    """Recent operator writes on points (adjustments, rules, rewards...): who, what, on what, when."""
    current = signed_in(request, P.AUDIT_READ)
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("points", "/v1/audit", P.AUDIT_READ, params={"limit": 100})
    return render(request, "audit.html.j2", current, audit=found)


@pages.get("/program", **declared(P.PROGRAM_WRITE))
async def program(request: Request) -> Response:
    """The program's setup (a first page: the rule sets, read-only; the editor comes next)."""
    current = signed_in(request, P.PROGRAM_WRITE)
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("points", "/v1/rules", P.PROGRAM_READ)
    return render(request, "program.html.j2", current, rules=found)
