"""Loyalty programs as tiers keeps them (pure): where a qualifying event counts.

Points runs the programs and tells of each (``loyalty_program.defined``); tiers keeps a ladder and a
standing per (program, member), so a member climbs each program's ladder on that program's activity
only. ``main`` is open to every chain and always exists (points never tells of it).

- A purchase counts in main and in each active program listing its chain.
- A return lowers the spend where its purchase counted (by its chain while the purchase is not here).
- Points earned or taken back count in the program they are in: points decides where a partner brand's
  purchase earns, so a points ladder follows it; partner spend qualifies nowhere, as before programs.
- Paid VIP membership is main's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from services.tiers.views import PointsGiven, PointsTaken, PurchaseTotal, ReturnTotal
from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, program_takes_chain

MAIN = MAIN_PROGRAM
PROGRAM_ID = PROGRAM_ID_PATTERN


class Program(BaseModel):
    """What tiers needs of a program: whose purchases count in it."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # points tells more (its name, partners)

    chains: frozenset[str] = Field(default=frozenset(), description="empty: every chain")
    active: bool = True

    def takes_chain(self, chain_id: str) -> bool:
        return program_takes_chain(self.chains, self.active, chain_id)


def registry(kept: Mapping[str, Program]) -> dict[str, Program]:
    """The programs a deployment runs: main, open to every chain whatever was told of it, and the rest."""
    return {**kept, MAIN: Program()}


def counted_in(
    programs: Mapping[str, Program], payload: object, counted: Mapping[uuid.UUID, Sequence[str]]
) -> list[str]:
    """The programs an event's qualifying activity counts in; ``counted``: where purchases counted."""
    if isinstance(payload, PurchaseTotal | ReturnTotal):
        if isinstance(payload, ReturnTotal) and payload.original_event_id in counted:
            return sorted(counted[payload.original_event_id])
        return sorted(p for p, program in programs.items() if program.takes_chain(payload.chain_id))
    if isinstance(payload, PointsGiven | PointsTaken):
        return [payload.program_id]
    return []
