"""Versioned event contracts: each (type, schema_version) names one payload model and its topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.contracts.analytics import SegmentChanged
from shared.contracts.envelope import Envelope, utcnow
from shared.contracts.members import MemberEnrolled, MemberErased, MemberProfileChanged, VipMembership
from shared.contracts.notify import NotificationOutcome
from shared.contracts.partners import PartnerCampaignAnnounced, PartnerPurchaseRecorded
from shared.contracts.points import (
    BadgeEarned,
    BirthdayBonus,
    ChallengeProgress,
    GamePlayed,
    LoyaltyProgramDefined,
    PointsAdjusted,
    PointsDonated,
    PointsEarned,
    PointsExpired,
    PointsExpiringSoon,
    PointsRedeemed,
    PointsReversed,
    PointsTransferred,
    ProgramEnded,
    ProgramEnding,
    PromotionTargeted,
    RedemptionReleased,
    ReferralRewarded,
    RewardIssued,
    RuleContribution,
)
from shared.contracts.purchases import (
    LineItem,
    PurchaseRecorded,
    ReturnBase,
    ReturnLine,
    ReturnRecorded,
    Tender,
)
from shared.contracts.tiers import MembershipStatus, TierBenefits, TierChanged, TierProgress
from shared.contracts.view import View
from shared.topics import Topic

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Contract(Generic[P]):
    name: str  # the envelope's ``type``
    version: int
    payload: type[P]
    topic: Topic
    model: type[Envelope[P]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parametrised once: pydantic's own cache of Envelope[X] costs tens of microseconds a lookup.
        object.__setattr__(self, "model", Envelope[self.payload])  # type: ignore[name-defined]

    def read_as(self, view: type[View]) -> Contract[Any]:
        """This contract as a consumer reading only ``view``'s fields decodes it (``contracts.view``)."""
        if view.of is not self.payload:
            raise TypeError(
                f"{view.__name__} is a view of {view.of.__name__}, not of {self.payload.__name__}"
            )
        return Contract(self.name, self.version, view, self.topic)

    def envelope(self, *, key: str, producer: str, payload: P, **fields: Any) -> Envelope[P]:
        fields.setdefault("occurred_at", utcnow())
        return self.model(
            type=self.name,
            schema_version=self.version,
            key=key,
            producer=producer,
            payload=payload,
            **fields,
        )


PURCHASE_RECORDED: Contract[PurchaseRecorded] = Contract(
    "purchase.recorded", 1, PurchaseRecorded, Topic.PURCHASES
)
RETURN_RECORDED: Contract[ReturnRecorded] = Contract("return.recorded", 1, ReturnRecorded, Topic.PURCHASES)
MEMBER_ENROLLED: Contract[MemberEnrolled] = Contract("member.enrolled", 1, MemberEnrolled, Topic.MEMBERS)
MEMBER_PROFILE_CHANGED: Contract[MemberProfileChanged] = Contract(
    "member.profile_changed", 1, MemberProfileChanged, Topic.MEMBERS
)
MEMBER_ERASED: Contract[MemberErased] = Contract("member.erased", 1, MemberErased, Topic.MEMBERS)
VIP_PURCHASED: Contract[VipMembership] = Contract("vip.purchased", 1, VipMembership, Topic.MEMBERSHIPS)
VIP_RENEWED: Contract[VipMembership] = Contract("vip.renewed", 1, VipMembership, Topic.MEMBERSHIPS)
VIP_CANCELLED: Contract[VipMembership] = Contract("vip.cancelled", 1, VipMembership, Topic.MEMBERSHIPS)
PARTNER_PURCHASE_RECORDED: Contract[PartnerPurchaseRecorded] = Contract(
    "partner.purchase_recorded", 1, PartnerPurchaseRecorded, Topic.PARTNERS
)
PARTNER_CAMPAIGN_ANNOUNCED: Contract[PartnerCampaignAnnounced] = Contract(
    "partner.campaign_announced", 1, PartnerCampaignAnnounced, Topic.PARTNERS
)
POINTS_EARNED: Contract[PointsEarned] = Contract("points.earned", 1, PointsEarned, Topic.POINTS)
POINTS_REVERSED: Contract[PointsReversed] = Contract("points.reversed", 1, PointsReversed, Topic.POINTS)
POINTS_REDEEMED: Contract[PointsRedeemed] = Contract("points.redeemed", 1, PointsRedeemed, Topic.POINTS)
REDEMPTION_RELEASED: Contract[RedemptionReleased] = Contract(
    "points.redemption_released", 1, RedemptionReleased, Topic.POINTS
)
REWARD_ISSUED: Contract[RewardIssued] = Contract("reward.issued", 1, RewardIssued, Topic.POINTS)
POINTS_EXPIRED: Contract[PointsExpired] = Contract("points.expired", 1, PointsExpired, Topic.POINTS)
POINTS_EXPIRING_SOON: Contract[PointsExpiringSoon] = Contract(
    "points.expiring_soon", 1, PointsExpiringSoon, Topic.POINTS
)
POINTS_ADJUSTED: Contract[PointsAdjusted] = Contract("points.adjusted", 1, PointsAdjusted, Topic.POINTS)
PROGRAM_ENDING: Contract[ProgramEnding] = Contract("program.ending", 1, ProgramEnding, Topic.POINTS)
PROGRAM_ENDED: Contract[ProgramEnded] = Contract("program.ended", 1, ProgramEnded, Topic.POINTS)
CHALLENGE_PROGRESS: Contract[ChallengeProgress] = Contract(
    "challenge.progress", 1, ChallengeProgress, Topic.POINTS
)
BADGE_EARNED: Contract[BadgeEarned] = Contract("badge.earned", 1, BadgeEarned, Topic.POINTS)
REFERRAL_REWARDED: Contract[ReferralRewarded] = Contract(
    "referral.rewarded", 1, ReferralRewarded, Topic.POINTS
)
BIRTHDAY_BONUS: Contract[BirthdayBonus] = Contract("points.birthday_bonus", 1, BirthdayBonus, Topic.POINTS)
LOYALTY_PROGRAM_DEFINED: Contract[LoyaltyProgramDefined] = Contract(
    "loyalty_program.defined", 1, LoyaltyProgramDefined, Topic.POINTS
)
PROMOTION_TARGETED: Contract[PromotionTargeted] = Contract(
    "promotion.targeted", 1, PromotionTargeted, Topic.POINTS
)
GAME_PLAYED: Contract[GamePlayed] = Contract("game.played", 1, GamePlayed, Topic.POINTS)
POINTS_DONATED: Contract[PointsDonated] = Contract("points.donated", 1, PointsDonated, Topic.POINTS)
POINTS_TRANSFERRED: Contract[PointsTransferred] = Contract(
    "points.transferred", 1, PointsTransferred, Topic.POINTS
)
TIER_CHANGED: Contract[TierChanged] = Contract("tier.changed", 1, TierChanged, Topic.TIERS)
TIER_PROGRESS: Contract[TierProgress] = Contract("tier.progress", 1, TierProgress, Topic.TIERS)
MEMBERSHIP_STARTED: Contract[MembershipStatus] = Contract(
    "membership.started", 1, MembershipStatus, Topic.TIERS
)
MEMBERSHIP_RENEWED: Contract[MembershipStatus] = Contract(
    "membership.renewed", 1, MembershipStatus, Topic.TIERS
)
MEMBERSHIP_EXPIRING: Contract[MembershipStatus] = Contract(
    "membership.expiring", 1, MembershipStatus, Topic.TIERS
)
MEMBERSHIP_ENDED: Contract[MembershipStatus] = Contract("membership.ended", 1, MembershipStatus, Topic.TIERS)
NOTIFICATION_SENT: Contract[NotificationOutcome] = Contract(
    "notification.sent", 1, NotificationOutcome, Topic.NOTIFICATIONS
)
NOTIFICATION_FAILED: Contract[NotificationOutcome] = Contract(
    "notification.failed", 1, NotificationOutcome, Topic.NOTIFICATIONS
)
SEGMENT_CHANGED: Contract[SegmentChanged] = Contract("segment.changed", 1, SegmentChanged, Topic.ANALYTICS)

ALL_CONTRACTS: tuple[Contract[Any], ...] = (
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    MEMBER_ENROLLED,
    MEMBER_PROFILE_CHANGED,
    MEMBER_ERASED,
    VIP_PURCHASED,
    VIP_RENEWED,
    VIP_CANCELLED,
    PARTNER_PURCHASE_RECORDED,
    PARTNER_CAMPAIGN_ANNOUNCED,
    POINTS_EARNED,
    POINTS_REVERSED,
    POINTS_REDEEMED,
    REDEMPTION_RELEASED,
    REWARD_ISSUED,
    POINTS_EXPIRED,
    POINTS_EXPIRING_SOON,
    POINTS_ADJUSTED,
    POINTS_TRANSFERRED,
    POINTS_DONATED,
    GAME_PLAYED,
    PROGRAM_ENDING,
    PROGRAM_ENDED,
    CHALLENGE_PROGRESS,
    BADGE_EARNED,
    REFERRAL_REWARDED,
    BIRTHDAY_BONUS,
    LOYALTY_PROGRAM_DEFINED,
    PROMOTION_TARGETED,
    TIER_CHANGED,
    TIER_PROGRESS,
    MEMBERSHIP_STARTED,
    MEMBERSHIP_RENEWED,
    MEMBERSHIP_EXPIRING,
    MEMBERSHIP_ENDED,
    NOTIFICATION_SENT,
    NOTIFICATION_FAILED,
    SEGMENT_CHANGED,
)

POINTS_CONTRACTS: tuple[Contract[Any], ...] = (
    POINTS_EARNED,
    POINTS_REVERSED,
    POINTS_REDEEMED,
    REDEMPTION_RELEASED,
    REWARD_ISSUED,
    POINTS_EXPIRED,
    POINTS_EXPIRING_SOON,
    POINTS_ADJUSTED,
    POINTS_TRANSFERRED,
    POINTS_DONATED,
    GAME_PLAYED,
    PROGRAM_ENDING,
    PROGRAM_ENDED,
    CHALLENGE_PROGRESS,
    BADGE_EARNED,
    REFERRAL_REWARDED,
    BIRTHDAY_BONUS,
    LOYALTY_PROGRAM_DEFINED,
    PROMOTION_TARGETED,
)
TIERS_CONTRACTS: tuple[Contract[Any], ...] = (
    TIER_CHANGED,
    TIER_PROGRESS,
    MEMBERSHIP_STARTED,
    MEMBERSHIP_RENEWED,
    MEMBERSHIP_EXPIRING,
    MEMBERSHIP_ENDED,
)
_BY_NAME = {c.name: c for c in ALL_CONTRACTS}


def contract_named(name: str) -> Contract[Any]:
    """The contract an envelope's ``type`` names."""
    return _BY_NAME[name]


__all__ = [
    "ALL_CONTRACTS",
    "BADGE_EARNED",
    "BIRTHDAY_BONUS",
    "CHALLENGE_PROGRESS",
    "GAME_PLAYED",
    "LOYALTY_PROGRAM_DEFINED",
    "MEMBERSHIP_ENDED",
    "MEMBERSHIP_EXPIRING",
    "MEMBERSHIP_RENEWED",
    "MEMBERSHIP_STARTED",
    "MEMBER_ENROLLED",
    "MEMBER_ERASED",
    "MEMBER_PROFILE_CHANGED",
    "NOTIFICATION_FAILED",
    "NOTIFICATION_SENT",
    "PARTNER_CAMPAIGN_ANNOUNCED",
    "PARTNER_PURCHASE_RECORDED",
    "POINTS_ADJUSTED",
    "POINTS_CONTRACTS",
    "POINTS_DONATED",
    "POINTS_EARNED",
    "POINTS_EXPIRED",
    "POINTS_EXPIRING_SOON",
    "POINTS_REDEEMED",
    "POINTS_REVERSED",
    "POINTS_TRANSFERRED",
    "PROGRAM_ENDED",
    "PROGRAM_ENDING",
    "PROMOTION_TARGETED",
    "PURCHASE_RECORDED",
    "REDEMPTION_RELEASED",
    "REFERRAL_REWARDED",
    "RETURN_RECORDED",
    "REWARD_ISSUED",
    "SEGMENT_CHANGED",
    "TIERS_CONTRACTS",
    "TIER_CHANGED",
    "TIER_PROGRESS",
    "VIP_CANCELLED",
    "VIP_PURCHASED",
    "VIP_RENEWED",
    "BadgeEarned",
    "BirthdayBonus",
    "ChallengeProgress",
    "Contract",
    "Envelope",
    "GamePlayed",
    "LineItem",
    "LoyaltyProgramDefined",
    "MemberEnrolled",
    "MemberErased",
    "MemberProfileChanged",
    "MembershipStatus",
    "NotificationOutcome",
    "PartnerCampaignAnnounced",
    "PartnerPurchaseRecorded",
    "PointsAdjusted",
    "PointsDonated",
    "PointsEarned",
    "PointsExpired",
    "PointsExpiringSoon",
    "PointsRedeemed",
    "PointsReversed",
    "PointsTransferred",
    "ProgramEnded",
    "ProgramEnding",
    "PromotionTargeted",
    "PurchaseRecorded",
    "RedemptionReleased",
    "ReferralRewarded",
    "ReturnBase",
    "ReturnLine",
    "ReturnRecorded",
    "RewardIssued",
    "RuleContribution",
    "SegmentChanged",
    "Tender",
    "TierBenefits",
    "TierChanged",
    "TierProgress",
    "VipMembership",
    "contract_named",
]
