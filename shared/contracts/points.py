"""Contracts the points service emits."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.money import Money


class RuleContribution(BaseModel):
    """One line of the explanation of an earn: which rule gave how many points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    points: int


class PointsEarned(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    purchase_event_id: uuid.UUID
    points: int = Field(ge=0)
    balance: int
    currency: str
    amount: Money
    rules: list[RuleContribution]
