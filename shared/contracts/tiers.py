"""Contracts the tiers service emits."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, MemberId, Points


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Told(_Contract):
    # The loyalty program whose ladder the event is about (a deployment may run several side by side);
    # events from before programs existed, and paid VIP membership, are the first program's.
    program_id: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)


class TierBenefits(_Contract):
    earn_multiplier: Decimal = Decimal(1)
    perks: list[str] = Field(default_factory=list)
    birthday_bonus: Points = 0


class TierChanged(_Told):
    """The member holds ``to_tier`` from ``effective_from`` (event time) on the ladder of ``program_id``.

    A member's changes form a step function of time. When a late event rewrites what was told, the
    tiers service sends a correction: changes of the next ``revision`` carrying ``corrects_from``,
    which void every change of a lower revision effective from that instant on. The first of them may
    restate the tier held from then (``from_tier == to_tier``) rather than announce a move."""

    member_id: MemberId
    from_tier: str | None
    to_tier: str
    # qualified | vip_started | vip_ended | period_end (a soft landing: one tier at a time) | correction
    reason: str
    benefits: TierBenefits
    effective_from: AwareDatetime
    review_at: AwareDatetime | None = Field(description="when the tier is next reviewed for a downgrade")
    revision: int = Field(default=0, ge=0, description="of the member's history this change belongs to")
    corrects_from: AwareDatetime | None = Field(
        default=None, description="a correction: changes of lower revisions from this instant on are void"
    )


class TierProgress(_Told):
    """A nudge: the member is within reach of the next tier."""

    member_id: MemberId
    tier: str
    next_tier: str
    remaining: Decimal
    metric: str
    window_ends: AwareDatetime | None = None


class MembershipStatus(_Told):
    """A paid VIP membership's moment: main's (its ``tier`` is on main's ladder)."""

    member_id: MemberId
    plan: str
    tier: str
    ends_at: AwareDatetime
