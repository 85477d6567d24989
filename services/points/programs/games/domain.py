"""Game-based program: an instant-win draw earned by a purchase, provably fair (pure: no I/O).

Fairness is commit-and-reveal. When a game is created the operator's random seed is fixed and only its
SHA-256 is published (the commitment). Each play's roll is HMAC-SHA256(seed, "<game>:<play>") read as a
number in [0, 1); the prize is where the roll falls in the published odds. After the game ends the seed
is revealed, so anyone can check it against the commitment and recompute every roll: the operator could
not have chosen rolls after seeing who played. Odds of winning something below 25% are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.common import MAX_POINTS
from shared.contracts.money import Currency, Money, fits_currency
from shared.refusal import Refused

MIN_WIN_ODDS = Decimal("0.25")
_PLAY_NAMESPACE = uuid.UUID("5d1c7a52-3f3e-4a55-9a0e-6f0b1c2d3e4f")
Odds = Annotated[Decimal, Field(gt=0, le=1, decimal_places=4)]


class Prize(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    points: int = Field(gt=0, le=MAX_POINTS)
    odds: Odds
    stock: int | None = Field(default=None, ge=0, le=10**9, description="null: as many as are won")


class Game(BaseModel):
    """One purchase of at least ``min_purchase`` in the window earns one play."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    currency: Currency
    min_purchase: Money = Field(gt=0)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    prizes: list[Prize] = Field(min_length=1, max_length=20)
    budget_points: int = Field(gt=0, le=MAX_POINTS)

    @model_validator(mode="after")
    def _fair(self) -> Game:
        if self.ends_at <= self.starts_at:
            raise Refused("ends_at", "window_empty", "ends_at must be after starts_at")
        # A purchase's total is a whole number of the currency's minor units: a minimum finer than that
        # names an amount no till can ring up (and means something other than what was typed).
        if not fits_currency(self.min_purchase, self.currency):
            raise Refused(
                "min_purchase",
                "currency_precision",
                f"{self.min_purchase} has more decimals than {self.currency} has: no purchase totals it",
            )
        win = self.win_odds
        if win > 1:
            raise Refused("prizes", "odds_exceed_one", f"the odds add up to {win}: more than certain")
        if win < MIN_WIN_ODDS:
            raise Refused(
                "prizes",
                "odds_too_low",
                f"a member's odds of winning something are {win:.2%}; they must be at least 25%",
            )
        if len({p.name for p in self.prizes}) != len(self.prizes):
            raise Refused("prizes", "prize_names_unique", "prize names must differ")
        if self.budget_points < max(p.points for p in self.prizes):
            raise Refused(
                "budget_points",
                "budget_below_prize",
                "the budget does not cover the largest prize",
            )
        return self

    @property
    def win_odds(self) -> Decimal:
        return sum((p.odds for p in self.prizes), Decimal(0))


def commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def play_id(game_id: str, purchase_event_id: uuid.UUID) -> uuid.UUID:
    """One play per purchase per game, whatever the redelivery."""
    return uuid.uuid5(_PLAY_NAMESPACE, f"{game_id}:{purchase_event_id}")


def roll(seed: bytes, game_id: str, play: uuid.UUID) -> tuple[Decimal, str]:
    """The play's number in [0, 1) and the HMAC it comes from (the proof)."""
    proof = hmac.new(seed, f"{game_id}:{play}".encode(), hashlib.sha256).hexdigest()
    return Decimal(int(proof[:16], 16)) / Decimal(2**64), proof


def prize_at(prizes: list[Prize], number: Decimal) -> Prize | None:
    """Prizes take consecutive slices of [0, 1) in their published order; past them, no prize."""
    edge = Decimal(0)
    for prize in prizes:
        edge += prize.odds
        if number < edge:
            return prize
    return None


def playable(game: Game, budget_left: int, stock_left: dict[str, int | None]) -> bool:
    """A game plays only while every prize can still be given: the published odds always hold."""
    return budget_left >= max(p.points for p in game.prizes) and all(
        stock_left.get(p.name) is None or (stock_left[p.name] or 0) > 0 for p in game.prizes
    )


def verify(seed_hex: str, published: str, game_id: str, play: uuid.UUID, proof: str) -> bool:
    """What an auditor checks for each play once the seed is revealed."""
    seed = bytes.fromhex(seed_hex)
    return commitment(seed) == published and roll(seed, game_id, play)[1] == proof
