"""Versioned event contracts: each (type, schema_version) names one payload model and its topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.contracts.envelope import Envelope, utcnow
from shared.contracts.points import PointsEarned, RuleContribution
from shared.contracts.purchases import PurchaseRecorded
from shared.topics import Topic

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Contract(Generic[P]):
    type: str
    version: int
    payload: type[P]
    topic: Topic

    def envelope(self, *, key: str, producer: str, payload: P, **fields: Any) -> Envelope[P]:
        fields.setdefault("occurred_at", utcnow())
        return Envelope[self.payload](  # type: ignore[name-defined]
            type=self.type,
            schema_version=self.version,
            key=key,
            producer=producer,
            payload=payload,
            **fields,
        )


PURCHASE_RECORDED = Contract("purchase.recorded", 1, PurchaseRecorded, Topic.PURCHASES)
POINTS_EARNED = Contract("points.earned", 1, PointsEarned, Topic.POINTS_EARNED)

ALL_CONTRACTS: tuple[Contract[Any], ...] = (PURCHASE_RECORDED, POINTS_EARNED)

__all__ = [
    "ALL_CONTRACTS",
    "POINTS_EARNED",
    "PURCHASE_RECORDED",
    "Contract",
    "Envelope",
    "PointsEarned",
    "PurchaseRecorded",
    "RuleContribution",
]
