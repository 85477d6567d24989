"""Targeted promotions' part in a batch of purchases: which promotions had chosen each member, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.program import Batch, PurchaseHook
from services.points.programs.targeting.store import chosen_for


@dataclass
class TargetingHook(PurchaseHook):
    chosen: dict[str, dict[str, datetime]]  # member -> promotion -> when chosen (treatment group)

    def promotions(self, member: str, at: datetime) -> frozenset[str]:
        # A purchase made before the member was chosen (and processed late) does not get it.
        return frozenset(name for name, when in self.chosen.get(member, {}).items() if when <= at)


async def load(conn: AsyncConnection, batch: Batch) -> PurchaseHook:
    if batch.program_id != MAIN:  # targeted promotions are in main's rule sets
        return PurchaseHook()
    targeted = {p.name for _, rules in batch.rule_sets for p in rules.targeted()}
    members = (e.payload.member_id for e in batch.purchases)
    return TargetingHook(await chosen_for(conn, members, targeted) if batch.purchases else {})
