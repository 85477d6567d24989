"""What tiers reads of the events that move a standing: the totals, not the basket or the rule lines.

Decoded through these views (``shared.contracts.view``), a purchase costs a fifth of validating it
whole; each field here is the contract's own, checked when the class is made."""

from __future__ import annotations

import uuid

from pydantic import Field

from shared.contracts import PointsEarned, PointsReversed, PurchaseRecorded, ReturnRecorded
from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, Id, MemberId, Points
from shared.contracts.money import Currency, Money
from shared.contracts.view import View


class PurchaseTotal(View, of=PurchaseRecorded):
    chain_id: Id
    member_id: MemberId
    currency: Currency
    total_amount: Money


class ReturnTotal(View, of=ReturnRecorded):
    chain_id: Id
    member_id: MemberId
    currency: Currency
    refund_amount: Money
    original_event_id: uuid.UUID


class PointsGiven(View, of=PointsEarned):
    member_id: MemberId
    points: Points = Field(ge=0)
    program_id: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)


class PointsTaken(View, of=PointsReversed):
    member_id: MemberId
    points: Points = Field(ge=0)
    program_id: str = Field(default=MAIN_PROGRAM, pattern=PROGRAM_ID_PATTERN)
