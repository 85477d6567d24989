"""The member portal's pages. Signing in asks ingest for a one-time code and exchanges it for the
member's own token; every other call to a service carries that token, so a member reads and acts on
their own data only (the services refuse any other member's: ``require_member``).

Each page declares what it needs (its OpenAPI operation says so, as the console's do): the sign-in
pages take a credential, the others a member's session."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.account import (
    account_of,
    affordable,
    badges,
    expiring,
    open_causes,
    progress,
    share_url,
    this_months,
)
from services.portal.render import render
from services.portal.settings import PortalSettings
from shared.identity import SIGN_IN, Permission, declared
from shared.web import explain
from shared.web.backends import Backends, Block, SignedIn, refusal, token_from_ingest
from shared.web.pages import read_form
from shared.web.pages import typed as read_typed
from shared.web.session import CSRF_FIELD, BadForm, Session, SessionCookie, SignedOut, check_csrf, settings_of
from shared.web.words import Verbatim

P = Permission
pages = APIRouter(default_response_class=HTMLResponse)
SESSION = SessionCookie("vafa_member", "member", "vafa-portal-csrf")
# The channels a member is asked about (push and webhooks are no member's choice to make here).
CHANNELS = ("email", "sms")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def portal_settings(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


def member_session(request: Request) -> Session:
    """The signed-in member's session; ``SignedOut`` (to the sign-in page) if there is none."""
    session = SESSION.session_of(request)
    if session is None:
        raise SignedOut(None)
    return session


def address_of(typed: str) -> dict[str, str] | None:
    """What the member typed as ingest's ``{"email": ...}`` or ``{"phone": ...}`` (E.164), or None.
    An Iranian mobile typed the usual way (0912..., Persian digits, spaces) is the same number."""
    value = read_typed(typed)
    if "@" in value:
        return {"email": value} if _EMAIL.match(value) and len(value) <= 254 else None
    digits = re.sub(r"[\s()-]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("09") and len(digits) == 11:
        digits = "+98" + digits[1:]
    return {"phone": digits} if re.fullmatch(r"\+[1-9][0-9]{6,14}", digits) else None


@pages.get("/sign-in", **SIGN_IN)
async def sign_in_page(request: Request, why: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    notice = why if why in ("session_expired", "signed_out") else None
    return render(request, "sign_in.html.j2", None, notice=notice, address="")


@pages.post("/sign-in/code", **SIGN_IN)
async def ask_code(request: Request) -> Response:
    """Ingest sends a code if the address is a member's, and answers the same either way: so does
    this page (no one learns here who is a member)."""
    typed = (await read_form(request, "address")).get("address", "")[:254]
    address = address_of(typed)
    if address is None:
        return render(request, "sign_in.html.j2", None, status=422, error=("bad_address", {}), address=typed)
    async with Backends(settings_of(request), None) as call:
        asked = await call.post("ingest", "/v1/tokens/member/code", None, address)
    if not asked.ok:
        key, values = refusal(asked, "bad_address")
        status = {"locked_out": 429, "bad_address": 422}.get(key, 503)
        return render(request, "sign_in.html.j2", None, status=status, error=(key, values), address=typed)
    return render(request, "code.html.j2", None, address=Verbatim(typed))


@pages.post("/sign-in", **SIGN_IN)
async def sign_in(request: Request) -> Response:
    form = await read_form(request, "address", "code")
    typed, code = form.get("address", "")[:254], form.get("code", "").strip()[:10]
    address = address_of(typed)
    if address is None:
        return render(request, "sign_in.html.j2", None, status=422, error=("bad_address", {}), address=typed)
    found = await token_from_ingest(
        settings_of(request), "/v1/tokens/member", {**address, "code": code}, "wrong_code"
    )
    if not isinstance(found, SignedIn):
        key, values = found
        status = {"locked_out": 429, "wrong_code": 401}.get(key, 503)
        return render(
            request, "code.html.j2", None, status=status, error=(key, values), address=Verbatim(typed)
        )
    response = RedirectResponse("/", status_code=303)
    SESSION.keep(request, response, found.token, found.expires_in)
    return response


@pages.post("/sign-out", **SIGN_IN)
async def sign_out(request: Request) -> Response:
    return await SESSION.sign_out(request, await read_form(request, CSRF_FIELD))


async def _view(request: Request, current: Session) -> dict[str, Any]:
    """Every block of the member's page, each from its service, asked at once with their token."""
    found = await account_of(settings_of(request), current.token, current.principal.subject)
    now = datetime.now(UTC)
    rewards, more_rewards = affordable(found.catalog, found.points, now)
    referral_code = found.referrals.data["code"] if found.referrals.ok else None
    return {
        "account": found,
        "member_id": found.member_id,
        "balance": found.balance,
        "worth": found.worth,
        "expiring": expiring(found.lots),
        "lots": found.lots,
        "tier": found.tier,
        "progress": progress(found.tier),
        "ledger": found.ledger,
        "entries": [(e, explain.why(e)) for e in found.ledger.data["entries"]] if found.ledger.ok else [],
        "catalog": found.catalog,
        "rewards": rewards,
        "more_rewards": more_rewards,
        "challenges": found.challenges,
        "this_month": this_months(found.challenges, now),
        "badges": badges(found.challenges),
        "referrals": found.referrals,
        "referral_code": referral_code,
        "share": share_url(portal_settings(request).portal_join_url, referral_code),
        "causes": found.causes,
        "open_causes": open_causes(found.causes),
        "donations": found.donations,
        "plays": found.plays,
        "consents": found.consents,
        "channels": CHANNELS,
        "member_locale": found.locale,
    }


def _page(
    request: Request, current: Session, view: dict[str, Any], status: int = 200, **context: Any
) -> Response:
    view.pop("account")
    return render(
        request, "home.html.j2", current, status=status, locale=view.pop("member_locale"), **view, **context
    )


def _request_id(form: dict[str, str]) -> uuid.UUID:
    """The id a form carries for its act (the page's): posted twice, the act is done once."""
    try:
        return uuid.UUID(form.get("request_id", ""))
    except ValueError as error:
        raise BadForm("bad_request", "request_id") from error


@pages.get("/", **declared(P.MEMBER_READ))
async def home(request: Request) -> Response:
    """The member's program on one page: points, tier and the way to the next, rewards they can take,
    the history with each entry's reason, and which messages they accept."""
    current = member_session(request)
    view = await _view(request, current)
    return _page(request, current, view, request_id=uuid.uuid4())


@pages.post("/redemptions", **declared(P.MEMBER_ACT))
async def redeem(request: Request) -> Response:
    """Take a reward: points reserves it and, the member being the till here, confirms it at once;
    the reward's code is shown. Posted twice (the same request id), it is taken once."""
    current = member_session(request)
    form = await read_form(request, CSRF_FIELD, "reward_id", "request_id")
    check_csrf(current, form.get(CSRF_FIELD))
    request_id = _request_id(form)
    body = {"request_id": str(request_id), "member_id": current.principal.subject,
            "reward_id": form.get("reward_id", "")[:64]}  # fmt: skip
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("points", "/v1/redemptions", P.MEMBER_ACT, body)
        if done.ok:
            confirm = f"/v1/redemptions/{quote(done.data['redemption_id'], safe='')}/confirm"
            done = await call.post("points", confirm, P.MEMBER_ACT, {})
    view = await _view(request, current)
    if not done.ok:
        return _page(request, current, view, status=422, refused=done.detail or done.missing,
                     request_id=uuid.uuid4())  # fmt: skip
    name = next((r["name"] for r in (view["catalog"].data or {}).get("rewards", [])
                 if r["reward_id"] == done.data["reward_id"]), done.data["reward_id"])  # fmt: skip
    return _page(request, current, view, redeemed=(name, done.data["code"]), request_id=uuid.uuid4())


@pages.post("/consents", **declared(P.MEMBER_ACT))
async def consents(request: Request) -> Response:
    """Which channels the member accepts messages on: a ticked box is consent, an unticked one none."""
    current = member_session(request)
    form = await read_form(request, CSRF_FIELD, *CHANNELS)
    check_csrf(current, form.get(CSRF_FIELD))
    chosen = {channel: form.get(channel) == "on" for channel in CHANNELS}
    path = f"/v1/members/{quote(current.principal.subject, safe='')}/consents"
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("ingest", path, P.MEMBER_ACT, {"consents": chosen}, method="PUT")
    view = await _view(request, current)
    if not done.ok:
        return _page(request, current, view, status=422, refused=done.detail or done.missing,
                     request_id=uuid.uuid4())  # fmt: skip
    # Notify hears of it through the bus in a moment: the page shows what was just chosen.
    view["consents"] = Block(data={**(view["consents"].data or {}), **chosen})
    return _page(request, current, view, saved=True, request_id=uuid.uuid4())


def _points_typed(typed: str) -> int:
    """Points as the member typed them (Persian digits welcome): a whole number above zero."""
    value = read_typed(typed)
    if not value.isdigit() or not 0 < int(value) <= 10**9:
        raise BadForm("bad_request", "points")
    return int(value)


@pages.post("/donations", **declared(P.MEMBER_ACT))
async def donate(request: Request) -> Response:
    """Give points to a cause: points takes them from the member's own wallet (their token allows no
    other's); the brand's match is added while its budget lasts. Posted twice, it is given once."""
    current = member_session(request)
    form = await read_form(request, CSRF_FIELD, "cause_id", "points", "request_id")
    check_csrf(current, form.get(CSRF_FIELD))
    request_id = _request_id(form)
    body = {"request_id": str(request_id), "cause_id": form.get("cause_id", "")[:64],
            "points": _points_typed(form.get("points", "")[:20])}  # fmt: skip
    path = f"/v1/members/{quote(current.principal.subject, safe='')}/donations"
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("points", path, P.MEMBER_ACT, body)
    view = await _view(request, current)
    if not done.ok:
        return _page(request, current, view, status=422, refused=done.detail or done.missing,
                     request_id=uuid.uuid4())  # fmt: skip
    name = next((c["name"] for c in view["open_causes"] if c["cause_id"] == done.data["cause_id"]),
                done.data["cause_id"])  # fmt: skip
    return _page(request, current, view, donated=(name, done.data["points"], done.data["matched"]),
                 request_id=uuid.uuid4())  # fmt: skip


@pages.post("/referral-code", **declared(P.MEMBER_ACT))
async def referral_code(request: Request) -> Response:
    """The member's code to share with friends (points makes it on first asking, the same ever after)."""
    current = member_session(request)
    check_csrf(current, (await read_form(request, CSRF_FIELD)).get(CSRF_FIELD))
    path = f"/v1/members/{quote(current.principal.subject, safe='')}/referral-code"
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post("points", path, P.MEMBER_ACT, {})
    if done.ok:  # the page shows the code now (read again: a reload asks nothing twice)
        return RedirectResponse("/#referral", status_code=303)
    view = await _view(request, current)
    return _page(request, current, view, status=422, refused=done.detail or done.missing,
                 request_id=uuid.uuid4())  # fmt: skip
