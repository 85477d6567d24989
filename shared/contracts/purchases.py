"""Point-of-sale contracts: purchases and returns (the shape; ingest checks their consistency)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import Id, MemberId, Quantity, TimeZone
from shared.contracts.money import Currency, Money

MAX_LINES = 1000


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineItem(_Contract):
    sku: Id
    category: Id
    quantity: Quantity
    unit_price: Money
    discount: Money = Decimal(0)
    # What the line was charged, as the POS rounded it to the currency.
    amount: Money


class Tender(_Contract):
    kind: Literal["cash", "card", "wallet", "gift_card", "points", "voucher", "other"]
    amount: Money


class PurchaseRecorded(_Contract):
    """A completed purchase at a store or online, as accepted by ingest."""

    chain_id: Id
    store_id: Id
    terminal_id: Id | None = None
    receipt_no: Id
    member_id: MemberId
    member_id_kind: Literal["member", "card", "phone"] = "member"
    channel: Literal["store", "online"] = "store"
    # The store's zone: promotions such as happy hours are set in local time.
    timezone: TimeZone = "Asia/Tehran"
    currency: Currency
    lines: list[LineItem] = Field(default_factory=list, max_length=MAX_LINES)
    tenders: list[Tender] = Field(default_factory=list, max_length=20)
    total_amount: Money


class ReturnLine(_Contract):
    sku: Id
    quantity: Quantity
    amount: Money


class ReturnBase(_Contract):
    chain_id: Id
    store_id: Id
    return_no: Id
    original_store_id: Id
    original_receipt_no: Id
    member_id: MemberId
    timezone: TimeZone = "Asia/Tehran"
    currency: Currency
    full: bool = False
    lines: list[ReturnLine] = Field(default_factory=list, max_length=MAX_LINES)
    refund_amount: Money


class ReturnRecorded(ReturnBase):
    """Goods brought back, fully or in part, referencing the original receipt."""

    # The original purchase's event_id, derived by ingest from (chain, store, receipt).
    original_event_id: uuid.UUID
