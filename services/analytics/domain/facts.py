"""Each event the program produces, as the one row of fact it adds (pure: no I/O).

Facts are keyed by the event id and carry the event's own time, so replaying the topics from the start
adds the same rows and every figure computed from them comes out the same. Points moves and tier changes
carry the loyalty program they happened in; a purchase carries its chain, which says the programs it
belongs to (``store.repository.Scope``). A program's definition is no fact but the registry's row for it:
the latest definition replaces the one before (``replaces``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.analytics.views import PointsMoved, PurchaseFigures
from shared.contracts import (
    BadgeEarned,
    BirthdayBonus,
    Envelope,
    GamePlayed,
    LoyaltyProgramDefined,
    MemberEnrolled,
    NotificationOutcome,
    PartnerPurchaseRecorded,
    PointsAdjusted,
    PointsDonated,
    PointsExpired,
    PointsRedeemed,
    PointsReversed,
    PointsTransferred,
    ProgramEnded,
    PromotionTargeted,
    RedemptionReleased,
    ReferralRewarded,
    ReturnRecorded,
    TierChanged,
    VipMembership,
)
from shared.contracts.common import MAIN_PROGRAM

MAIN = MAIN_PROGRAM  # the program open to every chain, in every deployment from the start


@dataclass(frozen=True)
class Fact:
    table: str
    row: dict[str, Any]
    # The row's key, when a later row of that key replaces it (a program's definition) instead of the
    # first one standing (a fact, keyed by its event id, added once however often it is replayed).
    replaces: str | None = None


# How each kind of points event moves the members' balances (the sign), for the points economics.
POINT_KINDS: dict[type[Any], tuple[str, int]] = {
    PointsMoved: ("earned", 1),  # points.earned, read through its view
    PointsReversed: ("reversed", -1),
    PointsRedeemed: ("redeemed", -1),
    RedemptionReleased: ("released", 1),
    PointsExpired: ("expired", -1),
    PointsAdjusted: ("adjusted", 1),  # already signed
    PointsTransferred: ("transferred", 1),  # already signed
    PointsDonated: ("donated", -1),
    GamePlayed: ("prize", 1),
    ProgramEnded: ("sunset", -1),
    BadgeEarned: ("badge", 1),
    ReferralRewarded: ("referral", 1),
    BirthdayBonus: ("birthday", 1),
}


def fact_of(event: Envelope[Any]) -> Fact | None:
    """The fact an event adds, or None for events that add nothing to the figures (nudges, reminders)."""
    p, at, base = event.payload, event.occurred_at, {"event_id": event.event_id}
    match p:
        case PurchaseFigures():
            with_lines = bool(p.lines)
            return Fact(
                "purchases",
                base
                | {
                    "member_id": p.member_id,
                    "chain_id": p.chain_id,
                    "store_id": p.store_id,
                    "channel": p.channel,
                    "currency": p.currency,
                    "amount": p.total_amount,
                    "units": sum((line.quantity for line in p.lines), start=0) if with_lines else None,
                    "occurred_at": at,
                },
            )
        case ReturnRecorded():
            return Fact(
                "returns",
                base
                | {
                    "member_id": p.member_id,
                    "chain_id": p.chain_id,
                    "store_id": p.store_id,
                    "currency": p.currency,
                    "refund": p.refund_amount,
                    "original_event_id": p.original_event_id,
                    "occurred_at": at,
                },
            )
        case PartnerPurchaseRecorded():
            return Fact(
                "partner_purchases",
                base
                | {
                    "partner_id": p.partner_id,
                    "member_id": p.member_id,
                    "currency": p.currency,
                    "amount": p.total_amount,
                    "occurred_at": at,
                },
            )
        case MemberEnrolled():
            return Fact("members", {"member_id": p.member_id, "chain_id": p.chain_id, "enrolled_at": at})
        case VipMembership():
            return Fact(
                "vip_orders",
                base
                | {
                    "member_id": p.member_id,
                    "chain_id": p.chain_id,
                    "kind": event.type.removeprefix("vip."),
                    "plan": p.plan,
                    "fee": p.fee,
                    "currency": p.currency,
                    "term_months": p.term_months,
                    "occurred_at": at,
                },
            )
        case TierChanged():
            return Fact(
                "tier_changes",
                base
                | {
                    "program_id": p.program_id,
                    "member_id": p.member_id,
                    "from_tier": p.from_tier,
                    "to_tier": p.to_tier,
                    "reason": p.reason,
                    "effective_from": p.effective_from,
                    "revision": p.revision,
                    "corrects_from": p.corrects_from,
                },
            )
        case PromotionTargeted():
            return Fact(
                "promotion_members",
                base
                | {"promotion": p.promotion, "member_id": p.member_id, "group": p.group, "occurred_at": at},
            )
        case NotificationOutcome():
            return Fact(
                "notifications",
                base
                | {
                    "member_id": p.member_id,
                    "channel": p.channel,
                    "status": p.status,
                    "source_type": p.source_type,
                    "occurred_at": at,
                },
            )
        case LoyaltyProgramDefined():
            return Fact(
                "loyalty_programs",
                {
                    "program_id": p.program_id,
                    "name": p.name,
                    "chains": sorted(p.chains),
                    "partners": sorted(p.partners),
                    "active": p.active,
                    "defined_at": at,
                },
                replaces="program_id",
            )
    if type(p) in POINT_KINDS:
        kind, sign = POINT_KINDS[type(p)]
        funded = sum(p.partner_points.values()) if isinstance(p, PointsMoved) else 0
        return Fact(
            "points_moves",
            base
            | {
                # A time-limited program's end names its own id; what it settles is its loyalty program's.
                "program_id": p.loyalty_program if isinstance(p, ProgramEnded) else p.program_id,
                "member_id": p.member_id,
                "kind": kind,
                "points": sign * p.points,
                "funded": funded,
                "occurred_at": at,
            },
        )
    return None
