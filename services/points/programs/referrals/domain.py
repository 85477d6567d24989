"""Referrals: a member's code, and a reward for both once the friend's first qualifying purchase has
cleared the return window (pure rules, no I/O).

A referral is recorded when the friend enrols with a code; it is refused (and kept, with the reason)
for an unknown code, a member's own code, or a code whose chain of referrers leads back to the friend.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.common import MAX_POINTS
from shared.contracts.money import CURRENCY_EXPONENTS, Money
from shared.refusal import Refused

# Crockford's base 32 without I, L, O, U: a code read aloud at a till is not misheard.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class ReferralProgram(BaseModel):
    """What a cleared referral gives each side, and what the friend's purchase must be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    referrer_points: int = Field(ge=0, le=MAX_POINTS)
    friend_points: int = Field(ge=0, le=MAX_POINTS)
    minimum_purchase: dict[str, Money] = Field(min_length=1, description="per currency")
    return_window_days: int = Field(ge=0, le=365)
    qualify_within_days: int = Field(default=90, ge=1, le=3650, description="after the friend enrols")

    @model_validator(mode="after")
    def _sensible(self) -> ReferralProgram:
        if not self.referrer_points and not self.friend_points:
            raise Refused(
                "referrer_points",
                "reward_required",
                "a referral program gives points to the referrer, the friend or both",
            )
        unknown = set(self.minimum_purchase) - set(CURRENCY_EXPONENTS)
        if unknown:
            raise Refused(
                "minimum_purchase",
                "unsupported_currency",
                f"unknown currencies: {sorted(unknown)}",
            )
        return self


def refusal(friend: str, referrer: str | None, referrers_above: Sequence[str]) -> str | None:
    """Why a referral cannot stand, or None; ``referrers_above``: who referred the referrer, and up."""
    if referrer is None:
        return "unknown referral code"
    if referrer == friend:
        return "self-referral: the code is the member's own"
    if friend in referrers_above:
        return "referral loop: the friend is already above the referrer"
    return None


@dataclass(frozen=True)
class Purchase:
    """One of the friend's purchases as the ledger saw it, with what was refunded of it so far."""

    event_id: uuid.UUID
    occurred_at: datetime
    currency: str
    amount: Decimal
    refunded: Decimal = Decimal(0)


@dataclass(frozen=True)
class Cleared:
    purchase: Purchase
    at: datetime  # when the return window closed on it


def cleared_purchase(
    program: ReferralProgram, enrolled_at: datetime, purchases: Sequence[Purchase], now: datetime
) -> Cleared | None:
    """The friend's first qualifying purchase once its return window has passed; None while there is none
    yet or the first one may still be returned (a later one waits behind it)."""
    window = timedelta(days=program.return_window_days)
    until = enrolled_at + timedelta(days=program.qualify_within_days)
    for purchase in sorted(purchases, key=lambda p: p.occurred_at):
        minimum = program.minimum_purchase.get(purchase.currency)
        kept = purchase.amount - purchase.refunded
        if not enrolled_at <= purchase.occurred_at < until or minimum is None or kept < minimum:
            continue
        closes = purchase.occurred_at + window
        return Cleared(purchase, closes) if closes <= now else None
    return None


def lapsed(program: ReferralProgram, enrolled_at: datetime, now: datetime) -> bool:
    """No purchase can clear any more: the time to qualify and the last return window are both over."""
    days = program.qualify_within_days + program.return_window_days
    return now >= enrolled_at + timedelta(days=days)
