"""Co-branding: what partner brands publish through ingest."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.common import Id, MemberId
from shared.contracts.money import Currency, Money


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartnerPurchaseRecorded(_Contract):
    """A member's purchase at a partner brand that earns points here."""

    partner_id: Id
    receipt_no: Id
    member_id: MemberId
    currency: Currency
    total_amount: Money


class PartnerCampaignAnnounced(_Contract):
    """A partner-funded bonus: extra points on its SKUs or categories, within a window and budget."""

    partner_id: Id
    campaign_id: Id
    name: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    skus: list[Id] = Field(default_factory=list, max_length=10_000)
    categories: list[Id] = Field(default_factory=list, max_length=1_000)
    multiplier: Decimal = Field(gt=1, le=10, decimal_places=2)
    budget_points: int = Field(gt=0)
