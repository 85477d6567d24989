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

from services.console import forms, session
from services.console import program as editing
from services.console.backends import SignedIn, sign_in
from services.console.nav import NAV
from services.console.render import render
from services.console.session import BadForm, Session, check_csrf, signed_in
from services.console.settings import ConsoleSettings
from shared.contracts.envelope import utcnow
from shared.identity import SIGN_IN, Permission, declared
from shared.web import explain
from shared.web.backends import Backends, Block
from shared.web.pages import read_fields, read_form, typed

P = Permission
pages = APIRouter(default_response_class=HTMLResponse)
MemberPath = Annotated[str, Path(min_length=1, max_length=128)]
# The newest ledger entries a member page shows.
LEDGER_SHOWN = 50
LOOKUPS = ("phone", "email", "card_no", "member_id")


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


@pages.get("/", **declared(P.OPS_READ))
async def home(request: Request) -> Response:
    """The first page the operator's role may open (every operator role may read Operations)."""
    found = session.session_of(request)
    if found is None:
        return RedirectResponse("/sign-in", status_code=303)
    for page in NAV:
        if found.may(page.permission):
            return RedirectResponse(page.path, status_code=303)
    signed_in(request, P.OPS_READ)  # refuses, saying so
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
    value = typed(q)  # Persian digits typed into the box are the same number
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
        (
            balance,
            ledger,
            lots,
            tier,
            deliveries,
            referrals,
            challenges,
            contacts,
            rewards,
        ) = await asyncio.gather(
            call.get("points", f"{path}/balance", P.MEMBER_READ),
            call.get("points", f"{path}/ledger", P.MEMBER_READ, params={"limit": LEDGER_SHOWN}),
            call.get("points", f"{path}/lots", P.MEMBER_READ),
            call.get("tiers", f"{path}/tier", P.MEMBER_READ),
            call.get("notify", f"{path}/deliveries", P.MEMBER_READ, params={"limit": 500}),
            call.get("points", f"{path}/referrals", P.MEMBER_READ),
            call.get("points", f"{path}/challenges", P.MEMBER_READ),
            call.get("ingest", "/v1/members/contacts", P.CONTACT_READ, params={"member_id": member_id}),
            call.get("points", "/v1/rewards", P.PROGRAM_READ),
        )
    entries: list[dict[str, Any]] = ledger.data["entries"] if ledger.ok else []
    messages = Block(data=list(reversed(deliveries.data["deliveries"]))) if deliveries.ok else deliveries
    contact = Block(data=contacts.data["contacts"].get(member_id)) if contacts.ok else contacts
    return {
        "member_id": member_id,
        "balance": balance,
        "tier": tier,
        "ledger": ledger,
        "entries": [(e, explain.why(e)) for e in entries],
        "more_entries": ledger.ok and ledger.data["next_before"] is not None,
        "lots": Block(data=lots.data["lots"]) if lots.ok else lots,
        "messages": messages,
        "referrals": referrals,
        "challenges": challenges,
        "contact": contact,
        # What the operator can redeem for the member: the rewards on offer.
        "rewards": [r for r in rewards.data["rewards"] if r["active"]] if rewards.ok else [],
        "request_id": uuid.uuid4(),  # a fresh one per form: sent twice, the adjustment counts once
        "redeem_id": uuid.uuid4(),  # and the redemption is made once
    }


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
        points = int(typed(form.get("points", "")))
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


@pages.post("/members/{member_id}/redemptions", **declared(P.MEMBER_ACT))
async def redeem(request: Request, member_id: MemberPath) -> Response:
    """A reward taken on the member's behalf (at the desk, on the phone): points' redemption reserved and
    confirmed at once, its code shown; points audits both steps under the operator's name. The page is
    answered directly, not redirected to, so the code is never in a URL; sent again, the same
    ``request_id`` gives the same redemption and code."""
    current = signed_in(request, P.MEMBER_ACT)
    form = await read_form(request, session.CSRF_FIELD, "reward_id", "request_id")
    check_csrf(current, form.get(session.CSRF_FIELD))
    try:
        request_id = uuid.UUID(form.get("request_id", ""))
    except ValueError as error:
        raise BadForm("bad_request", "request_id is not a UUID") from error
    body = {"request_id": str(request_id), "member_id": member_id, "reward_id": form.get("reward_id", "")}
    async with Backends(_settings(request), current.token) as call:
        done = await call.post("points", "/v1/redemptions", P.MEMBER_ACT, body)
        if done.ok:
            done = await call.post("points", f"/v1/redemptions/{request_id}/confirm", P.MEMBER_ACT, {})
    view = await _member_view(request, current, member_id)
    if done.ok:
        reward = next((r for r in view["rewards"] if r["reward_id"] == done.data["reward_id"]), None)
        redeemed = {**done.data, "name": reward["name"] if reward else done.data["reward_id"]}
        return render(request, "member.html.j2", current, adjusted=None, redeemed=redeemed, **view)
    refused = done.detail or done.missing
    return render(
        request, "member.html.j2", current, status=422, redeem_refused=refused, adjusted=None, **view
    )


@pages.get("/audit", **declared(P.AUDIT_READ))
async def audit(request: Request) -> Response:
    """Recent operator writes on points (adjustments, rules, rewards...): who, what, on what, when."""
    current = signed_in(request, P.AUDIT_READ)
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("points", "/v1/audit", P.AUDIT_READ, params={"limit": 100})
    return render(request, "audit.html.j2", current, audit=found)


@pages.get("/program", **declared(P.PROGRAM_WRITE))
async def program(
    request: Request,
    start_from: Annotated[int | None, Query(alias="from", ge=0, le=2**31 - 1)] = None,
    published: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The earning rules: the versions (in force, scheduled, earlier) and the editor, filled from the
    version in force (or the one asked ``?from=``), to preview against past purchases and publish."""
    current = signed_in(request, P.PROGRAM_WRITE)
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("points", "/v1/rules", P.PROGRAM_READ)
    if not found.ok:
        return render(request, "program.html.j2", current, rules=found)
    now = utcnow()
    listed = editing.versions(found.data["versions"], now)
    chosen = next((v for v in listed if v.version == start_from), None) or editing.in_force(listed)
    editor = editing.Editor.of(chosen.version, chosen.rules, now)
    view = _program_view(found, listed, editor, published)
    return render(request, "program.html.j2", current, **view)


@pages.post("/program", **declared(P.PROGRAM_WRITE))
async def program_submit(request: Request) -> Response:
    """The editor's two buttons: **Preview** (what the candidate would have given over the last days,
    changing nothing) and **Publish** (a new version, in force from its date, audited under the
    operator's name). Points validates the candidate; each refusal is shown next to its field."""
    current = signed_in(request, P.PROGRAM_WRITE)
    form = await read_fields(request, editing.FORM_LIMIT)
    check_csrf(current, next(iter(form.get(session.CSRF_FIELD, [])), None))
    editor = editing.Editor.read(form)
    publish = (form.get("action") or [""])[0] == "publish"
    async with Backends(_settings(request), current.token) as call:
        found = await call.get("points", "/v1/rules", P.PROGRAM_READ)
        if not found.ok:
            # Not acted on, as a refused write is (the block says points is away).
            return render(request, "program.html.j2", current, status=422, rules=found)
        listed = editing.versions(found.data["versions"], utcnow())
        base = next((v for v in listed if v.version == editor.base_version), None) or editing.in_force(listed)
        rules = editor.rules(base.rules)
        if publish:
            done = await call.post("points", "/v1/rules", P.PROGRAM_WRITE, rules)
            if done.ok:
                return RedirectResponse(f"/program?published={done.data['version']}", status_code=303)
        else:
            days = int(editor.preview_days) if editor.preview_days.isdigit() else editor.preview_days
            done = await call.post(
                "points", "/v1/rules/preview", P.PROGRAM_WRITE, {"rules": rules, "days": days}
            )
    view = _program_view(found, listed, editor)
    if done.ok:
        return render(request, "program.html.j2", current, **view, preview=done.data)
    errors = forms.field_errors(done.errors, _PROGRAM_INPUTS | _inputs_of(editor), editor.input_of)
    refused = None if done.errors else (done.detail or done.missing)
    return render(
        request, "program.html.j2", current, status=422, **view | {"errors": errors}, refused=refused
    )


# The inputs of the editor every form has (the rates' and multipliers' are named by their key).
_PROGRAM_INPUTS = {
    "effective_from", "base_rates", "category_multipliers", "welcome_bonus", "cap_per_day", "cap_per_receipt",
    "preview_days", "promotion.name", "promotion.multiplier", "promotion.starts_on", "promotion.ends_on",
    "promotion.weekdays", "promotion.categories",
}  # fmt: skip


def _inputs_of(editor: editing.Editor) -> set[str]:
    return {f"base_rates.{c}" for c, _ in editor.base_rates} | {
        f"category_multipliers.{c}" for c, _ in editor.categories
    }


def _program_view(
    found: Block, listed: list[editing.Version], editor: editing.Editor, published: int | None = None
) -> dict[str, Any]:
    return {
        "published": published,
        "rules": found,
        "versions": listed,
        "editor": editor,
        "errors": forms.FieldErrors(),
        "weekdays": editing.WEEKDAYS,
    }
