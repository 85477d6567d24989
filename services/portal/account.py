"""The member's account as the services hold it, asked for at once with the member's own token: what
the page (pages.py) and the JSON API (api.py) both show. Each part is a ``Block``: its data, or why it is
not available. Pure reading: nothing here changes anything."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from shared.identity import Permission
from shared.web.backends import Backends, Block
from shared.web.session import WebSettings

P = Permission
HISTORY_SHOWN = 20
# How many expiry dates ahead the member is told of (the soonest first).
EXPIRY_DATES_SHOWN = 3
# The donations and games listed (the newest).
LISTED = 10


@dataclass(frozen=True)
class Account:
    member_id: str
    balance: Block
    ledger: Block
    tier: Block
    catalog: Block
    profile: Block
    lots: Block
    worth: Block  # points' conversion to money, where one applies (absent: none does)
    challenges: Block
    referrals: Block
    causes: Block
    donations: Block
    plays: Block

    @property
    def points(self) -> int:
        return int(self.balance.data["balance"]) if self.balance.ok else 0

    @property
    def locale(self) -> Any:
        held = self.profile.data.get("profile") if self.profile.ok else None
        return held.get("locale") if held else None

    @property
    def consents(self) -> Block:
        """Which channels the member accepts messages on (notify's record of their profile)."""
        if not self.profile.ok:
            return self.profile
        held = self.profile.data.get("profile") or {}
        return Block(data=held.get("consents") or {})


async def account_of(settings: WebSettings, token: str, member_id: str) -> Account:
    """Every part of the member's account, each from its service, asked at once."""
    path = f"/v1/members/{quote(member_id, safe='')}"
    async with Backends(settings, token) as call:
        parts = await asyncio.gather(
            call.get("points", f"{path}/balance", P.MEMBER_READ),
            call.get("points", f"{path}/ledger", P.MEMBER_READ, params={"limit": HISTORY_SHOWN}),
            call.get("tiers", f"{path}/tier", P.MEMBER_READ),
            call.get("points", "/v1/rewards", P.PROGRAM_READ),
            call.get("notify", f"{path}/export", P.MEMBER_READ),
            call.get("points", f"{path}/lots", P.MEMBER_READ),
            call.get("points", f"{path}/points-value", P.MEMBER_READ),
            call.get("points", f"{path}/challenges", P.MEMBER_READ),
            call.get("points", f"{path}/referrals", P.MEMBER_READ),
            call.get("points", "/v1/causes", P.PROGRAM_READ),
            call.get("points", f"{path}/donations", P.MEMBER_READ, params={"limit": LISTED}),
            call.get("points", f"{path}/plays", P.MEMBER_READ, params={"limit": LISTED}),
        )
    return Account(member_id, *parts)


def affordable(catalog: Block, balance: int, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """The rewards on offer now that the balance pays for (cheapest first), and how many more are on
    offer for more points."""
    rewards = catalog.data["rewards"] if catalog.ok else []
    on_offer = [
        r
        for r in rewards
        if r["active"]
        and r["stock"] != 0
        and (r["valid_from"] is None or datetime.fromisoformat(r["valid_from"]) <= now)
        and (r["valid_until"] is None or now < datetime.fromisoformat(r["valid_until"]))
    ]
    taken = sorted((r for r in on_offer if r["cost_points"] <= balance), key=lambda r: r["cost_points"])
    return taken, len(on_offer) - len(taken)


def progress(tier: Block) -> int | None:
    """How far along to the next tier, in percent (None at the top, or with no tier yet)."""
    if not tier.ok or tier.data["next"] is None:
        return None
    value, remaining = float(tier.data["qualifying_value"]), float(tier.data["next"]["remaining"])
    return min(100, round(100 * value / (value + remaining))) if value + remaining > 0 else 0


def expiring(lots: Block) -> list[tuple[date, int]]:
    """The points that expire on each of the next dates (UTC days, soonest first): what is left of the
    lots that expire that day. Lots that never expire are not listed."""
    by_day: dict[date, int] = defaultdict(int)
    for lot in lots.data["lots"] if lots.ok else []:
        if lot["expires_at"] is not None and lot["remaining"] > 0:
            by_day[datetime.fromisoformat(lot["expires_at"]).astimezone(UTC).date()] += lot["remaining"]
    return sorted(by_day.items())[:EXPIRY_DATES_SHOWN]


def this_months(challenges: Block, now: datetime) -> list[dict[str, Any]]:
    """This month's challenges with the member's progress (the ones they have started)."""
    period = now.strftime("%Y-%m")
    return [c for c in challenges.data["challenges"] if c["period"] == period] if challenges.ok else []


def badges(challenges: Block) -> list[dict[str, Any]]:
    """Every badge the member earned, the newest month first."""
    return [c for c in challenges.data["challenges"] if c["badge"]] if challenges.ok else []


def open_causes(causes: Block) -> list[dict[str, Any]]:
    return [c for c in causes.data["causes"] if c["active"]] if causes.ok else []


def share_url(template: str, code: str | None) -> str | None:
    """The link a member sends a friend: the chain's sign-up page with their code."""
    return template.replace("{code}", quote(code, safe="")) if code and template else None
