"""Contracts the analytics service emits, for promotions that target a segment."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.contracts.common import MemberId


class SegmentChanged(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: MemberId
    # true_friends | butterflies | barnacles | strangers | lapsed (loyalty x profitability)
    segment: str
    previous_segment: str | None
    rfm: str  # recency, frequency, monetary scores 1-5, e.g. "545"
    rfm_label: str  # champions | loyal | new | at_risk | hibernating | regular | lapsed
    as_of: AwareDatetime
