"""Point-of-sale purchase contracts (the thin slice; issue 3 widens them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.money import Money


class PurchaseRecorded(BaseModel):
    """A completed purchase at a store, as accepted by ingest. Money is Decimal, never float."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain_id: str = Field(min_length=1, max_length=64)
    store_id: str = Field(min_length=1, max_length=64)
    receipt_no: str = Field(min_length=1, max_length=64)
    member_id: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total_amount: Money
