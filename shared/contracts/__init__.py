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
    name: str  # the envelope's ``type``
    version: int
    payload: type[P]
    topic: Topic

    def envelope(self, *, key: str, producer: str, payload: P, **fields: Any) -> Envelope[P]:
        fields.setdefault("occurred_at", utcnow())
        return Envelope[self.payload](  # type: ignore[name-defined]
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
POINTS_EARNED: Contract[PointsEarned] = Contract("points.earned", 1, PointsEarned, Topic.POINTS_EARNED)

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
