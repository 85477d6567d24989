"""Contracts the points service emits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, MemberId, Points
from shared.contracts.money import Money


class RuleContribution(BaseModel):
    """One line of the explanation of an earn: which rule gave how many points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    points: Points


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The loyalty program the event is about (a deployment may run several side by side); events from
    # before programs existed are the first program's.
    program_id: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)


class PointsEarned(_Contract):
    """Points from a purchase (at a store or a partner brand), with every rule that gave them."""

    member_id: MemberId
    purchase_event_id: uuid.UUID
    points: Points = Field(ge=0)
    balance: Points
    currency: str
    amount: Money
    rules: list[RuleContribution]
    rule_set_version: int = 0
    partner_points: dict[str, Points] = Field(
        default_factory=dict, description="funded, per campaign/partner"
    )
    expires_at: AwareDatetime | None = None


class PointsReversed(_Contract):
    """Points taken back for a return; ``debt`` is what the member owes when they were already spent."""

    member_id: MemberId
    return_event_id: uuid.UUID
    purchase_event_id: uuid.UUID
    points: Points = Field(ge=0)
    refund_amount: Money
    balance: Points
    debt: Points = 0
    note: str = ""


class PointsRedeemed(_Contract):
    member_id: MemberId
    redemption_id: uuid.UUID
    reward_id: str
    points: Points = Field(gt=0)
    balance: Points


class RedemptionReleased(_Contract):
    """A reservation cancelled by the POS or timed out: its points are back."""

    member_id: MemberId
    redemption_id: uuid.UUID
    reward_id: str
    points: Points = Field(gt=0)
    balance: Points
    reason: str


class RewardIssued(_Contract):
    member_id: MemberId
    redemption_id: uuid.UUID
    reward_id: str
    name: str
    kind: str
    code: str
    valid_until: AwareDatetime | None = None


class PointsExpired(_Contract):
    member_id: MemberId
    points: Points = Field(gt=0)
    balance: Points


class PointsExpiringSoon(_Contract):
    member_id: MemberId
    points: Points = Field(gt=0)
    expires_at: AwareDatetime
    balance: Points


class PointsAdjusted(_Contract):
    """An operator's adjustment, or a tier correction (operator ``tiers``): the tier a purchase
    earned with turned out not to be the one held then (``purchase_event_id``)."""

    member_id: MemberId
    points: Points
    balance: Points
    reason: str
    operator: str
    purchase_event_id: uuid.UUID | None = None


class PointsTransferred(_Contract):
    """Points moved between members (a gift, a family pool, a donation): one event for each side,
    keyed by that side's member; ``points`` is negative for the sender."""

    member_id: MemberId
    counterparty: str
    points: Points
    balance: Points
    transfer_id: uuid.UUID
    note: str = ""


class PointsDonated(_Contract):
    """Points a member gave to a cause; ``matched`` is what the brand added to the gift."""

    member_id: MemberId
    cause_id: str
    donation_id: uuid.UUID
    points: Points = Field(gt=0)
    matched: Points = Field(ge=0)
    balance: Points


class GamePlayed(_Contract):
    """A purchase's play in an instant-win game: the prize (or none), its points, and the proof."""

    member_id: MemberId
    game_id: str
    play_id: uuid.UUID
    purchase_event_id: uuid.UUID
    prize: str | None
    points: Points = Field(ge=0)
    proof: str
    balance: Points


class ProgramEnding(_Contract):
    """A reminder: the program ends soon and the member still holds points."""

    member_id: MemberId
    # Here ``program_id`` names the time-limited program, as it did before loyalty programs existed;
    # the loyalty program that ends is ``loyalty_program``.
    program_id: str
    loyalty_program: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)
    name: str
    ends_at: AwareDatetime
    days_left: int
    points: Points
    parting: str  # what the points become at the end: "convert" or "gift"


class ProgramEnded(_Contract):
    """The program ended: the member's remaining points became a voucher or a parting gift."""

    member_id: MemberId
    # Here ``program_id`` names the time-limited program, as it did before loyalty programs existed;
    # the loyalty program that ends is ``loyalty_program``.
    program_id: str
    loyalty_program: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)
    name: str
    points: Points = Field(gt=0)
    offer: str  # e.g. "125000 IRR voucher", or the gift's name
    kind: str  # voucher | free_item
    value: str = ""
    code: str


class ChallengeProgress(_Contract):
    """A purchase moved a member forward in a challenge (visits or categories this month)."""

    member_id: MemberId
    challenge_id: str
    name: str
    period: str  # YYYY-MM in the store's time zone
    progress: int
    target: int


class BadgeEarned(_Contract):
    """A challenge completed: the badge, and its bonus points (0 when it carries none)."""

    member_id: MemberId
    challenge_id: str
    name: str
    period: str
    points: Points = Field(ge=0)
    balance: Points


class ReferralRewarded(_Contract):
    """A referral cleared: the friend's first qualifying purchase passed the return window. One event per
    member rewarded, so the referrer and the friend each hear of their own points."""

    member_id: MemberId
    role: Literal["referrer", "friend"]
    referrer_id: str
    friend_id: str
    purchase_event_id: uuid.UUID
    points: Points = Field(ge=0)
    balance: Points


class BirthdayBonus(_Contract):
    """A member's birthday: the ``birthday_bonus`` of the tier they held that day, paid once a year (a
    29 February birthday on 28 February in other years)."""

    member_id: MemberId
    tier: str
    year: int = Field(ge=1, le=9999, description="the member's local year of the birthday paid")
    points: Points = Field(gt=0)
    balance: Points


class LoyaltyProgramDefined(_Contract):
    """A loyalty program run beside the others, as points now holds it (``program_id`` names it): which
    chains' purchases and which partner brands' earn in it. Tiers keeps a ladder and analytics its KPIs
    per program from these; ``main`` (every chain) exists from the start and is never told."""

    name: str = Field(min_length=1, max_length=200)
    chains: list[str] = Field(default_factory=list, max_length=500, description="empty: every chain")
    partners: list[str] = Field(default_factory=list, max_length=500)
    active: bool = True


class PromotionTargeted(_Contract):
    """A member chosen for a targeted promotion: in the group that gets it, or in the holdout group that
    does not (and is not told), so its lift can be measured."""

    member_id: MemberId
    promotion: str
    group: Literal["treatment", "holdout"]
    reason: str  # "segment at_risk", "no purchase for 60 days"
    multiplier: str
    ends_on: date | None = None
