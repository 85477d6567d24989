"""What analytics reads of the two events that come with every purchase: the purchase's figures and the
basket's units (not its prices), and the points an earn moved (not the rules that made them).

Decoded through these views (``shared.contracts.view``); each field here is the contract's own, checked
when the class is made."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts import PointsEarned, PurchaseRecorded
from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, Id, MemberId, Points, Quantity
from shared.contracts.money import Currency, Money
from shared.contracts.purchases import MAX_LINES, LineItem
from shared.contracts.view import View


class LineUnits(View, of=LineItem):
    quantity: Quantity


class PurchaseFigures(View, of=PurchaseRecorded):
    chain_id: Id
    store_id: Id
    member_id: MemberId
    channel: Literal["store", "online"] = "store"
    currency: Currency
    lines: list[LineUnits] = Field(default_factory=list, max_length=MAX_LINES)
    total_amount: Money


class PointsMoved(View, of=PointsEarned):
    member_id: MemberId
    points: Points = Field(ge=0)
    program_id: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)
    partner_points: dict[str, Points] = Field(
        default_factory=dict, description="funded, per campaign/partner"
    )
