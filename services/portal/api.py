"""The portal's data as JSON, for a chain's own mobile app and the embeddable widget: the member's
account (``GET /api/v1/me``), authenticated by the member's own token as a Bearer header (no cookie, so
no cross-site request can use it), and the widget's words (``GET /api/v1/words``).

A part a service cannot give now is null (or empty) and named in ``unavailable``: the rest still
answers. Browsers on the shops named in ``VAFA_PORTAL_WIDGET_ORIGINS`` may read it (CORS, main.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from services.portal import account as parts
from services.portal.pages import CHANNELS, portal_settings
from services.portal.render import RENDERER
from shared.identity import PUBLIC, Permission, Principal, authenticated, bearer, declared, refuse
from shared.web import explain
from shared.web.words import Locale
from shared.wire import Out

P = Permission
api = APIRouter(prefix="/api/v1", tags=["member app"], default_response_class=JSONResponse)
Lang = Annotated[Locale | None, Query(description="the language of the explanations (default: the member's)")]


async def member_token(request: Request) -> Principal:
    """The member the Bearer token names: 401 without a valid one, 403 for anyone but a member."""
    principal = await authenticated(request)
    if principal.kind != "member":
        raise refuse(request, 403, "forbidden", f"{principal.actor} is no member: this API is a member's own")
    return principal


Member = Annotated[Principal, Depends(member_token)]


class Worth(Out):
    value: Decimal = Field(description="what the balance becomes in money when the program ends")
    currency: str
    ends_at: datetime


class Expiring(Out):
    on: date = Field(description="the day (UTC) these points expire")
    points: int


class NextTier(Out):
    tier: str
    remaining: Decimal = Field(description="how much more of the metric reaches it")


class Tier(Out):
    tier: str
    metric: str = Field(description="spend, points or visits")
    qualifying_value: Decimal
    next: NextTier | None = Field(description="null at the top")
    progress_percent: int | None = Field(description="how far to the next tier, 0 to 100")
    review_at: datetime


class Entry(Out):
    kind: str
    points: int
    occurred_at: datetime
    why: str = Field(description="the reason, in plain words, in the language asked for")
    rules: list[tuple[str, int]] = Field(description="the rules that gave the points, with each one's")


class Reward(Out):
    reward_id: str
    name: str
    cost_points: int


class Challenge(Out):
    challenge_id: str
    name: str
    period: str = Field(description="YYYY-MM")
    progress: int
    target: int
    badge: bool


class Referral(Out):
    code: str | None = Field(description="null until the member asks for one (on the page)")
    share_url: str | None
    friends: int
    rewarded: int


class Cause(Out):
    cause_id: str
    name: str
    match_ratio: Decimal


class Donation(Out):
    cause_id: str
    cause_name: str
    points: int
    matched: int
    at: datetime


class Play(Out):
    game_id: str
    prize: str | None
    points: int
    at: datetime


class Me(Out):
    member_id: str
    locale: Locale | None = Field(description="the member's language, from their profile")
    balance: int | None
    debt: int | None
    worth: Worth | None = Field(description="only where a conversion applies: a program ending in money")
    expiring: list[Expiring] = Field(description="the next days points expire, soonest first")
    tier: Tier | None
    history: list[Entry] = Field(description="newest first")
    rewards: list[Reward] = Field(description="on offer now and affordable, cheapest first")
    more_rewards: int = Field(description="rewards on offer for more points")
    challenges: list[Challenge] = Field(description="every month's progress and badges, newest first")
    referral: Referral | None
    causes: list[Cause] = Field(description="causes open to donations")
    donations: list[Donation] = Field(description="the member's, newest first")
    games: list[Play] = Field(description="the member's plays, newest first")
    consents: dict[str, bool] | None = Field(description="per channel (email, sms)")
    unavailable: list[str] = Field(description="the parts no service could give now (null or empty above)")


@api.get("/me", response_model=Me, **declared(P.MEMBER_READ))
async def me(request: Request, response: Response, caller: Member, lang: Lang = None) -> dict[str, Any]:
    """Everything the member's page shows, as one document."""
    response.headers["Cache-Control"] = "no-store"  # a member's data: kept by no cache
    found = await parts.account_of(portal_settings(request), bearer(request) or "", caller.subject)
    words = RENDERER.vocabulary(lang or found.locale or portal_settings(request).portal_default_locale)
    rewards, more = parts.affordable(found.catalog, found.points, datetime.now(UTC))
    tier = found.tier.data if found.tier.ok else None
    referrals = found.referrals.data if found.referrals.ok else None
    code = referrals["code"] if referrals else None
    named = {"balance": found.balance, "expiring": found.lots, "tier": found.tier, "history": found.ledger,
             "rewards": found.catalog, "challenges": found.challenges, "referral": found.referrals,
             "causes": found.causes, "donations": found.donations, "games": found.plays,
             "consents": found.consents}  # fmt: skip
    return {
        "member_id": caller.subject,
        "locale": found.locale,
        "balance": found.points if found.balance.ok or found.balance.absent else None,
        "debt": found.balance.data["debt"] if found.balance.ok else (0 if found.balance.absent else None),
        "worth": _only(found.worth.data, Worth) if found.worth.ok else None,
        "expiring": [{"on": day, "points": points} for day, points in parts.expiring(found.lots)],
        "tier": tier and _only({**tier, "progress_percent": parts.progress(found.tier)}, Tier),
        "history": [_entry(words, e) for e in found.ledger.data["entries"]] if found.ledger.ok else [],
        "rewards": [_only(r, Reward) for r in rewards],
        "more_rewards": more,
        "challenges": found.challenges.data["challenges"] if found.challenges.ok else [],
        "referral": referrals
        and {
            "code": code,
            "share_url": parts.share_url(portal_settings(request).portal_join_url, code),
            "friends": len(referrals["referred"]),
            "rewarded": sum(1 for r in referrals["referred"] if r["status"] == "rewarded"),
        },
        "causes": [_only(c, Cause) for c in parts.open_causes(found.causes)],
        "donations": [_only(d, Donation) for d in found.donations.data["donations"]]
        if found.donations.ok
        else [],
        "games": found.plays.data["plays"] if found.plays.ok else [],
        "consents": {c: bool(found.consents.data.get(c)) for c in CHANNELS} if found.consents.ok else None,
        "unavailable": [name for name, block in named.items() if not block.ok and not block.absent],
    }


def _only(found: dict[str, Any], model: type[Out]) -> dict[str, Any]:
    """What a service answered, cut to the keys this API promises (a service may add more)."""
    return {key: found[key] for key in model.model_fields}


def _entry(words: Any, entry: dict[str, Any]) -> dict[str, Any]:
    reason = explain.why(entry)
    return {"kind": entry["kind"], "points": entry["points"], "occurred_at": entry["occurred_at"],
            "why": words(reason.key, **reason.values), "rules": list(reason.rules)}  # fmt: skip


# The widget's words (the page's own, from words.py): it shows the balance, the tier bar and expiry.
WIDGET_WORDS = ("portal", "balance", "points", "tier", "progress", "top_tier", "expiring_title",
                "expiring_line", "expiring_none", "no_tier_yet")  # fmt: skip


class WidgetWords(Out):
    locale: Locale
    dir: str
    words: dict[str, str] = Field(description="key -> text; {name} marks a value to put in")


@api.get("/words", response_model=WidgetWords, **PUBLIC)
async def widget_words(lang: Annotated[Locale, Query()] = "fa") -> dict[str, Any]:
    """The embeddable widget's words in a language (they hold no one's data)."""
    words = RENDERER.vocabulary(lang)
    return {"locale": lang, "dir": words.dir, "words": {key: words(key) for key in WIDGET_WORDS}}
