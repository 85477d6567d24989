"""Loyalty programs side by side in one deployment: a chain's own program beside a coalition's (pure).

Every point lives in one program: its own rules, ledger, balances and tiers. A purchase earns in every
program it belongs to: one open to every chain, or one listing the purchase's chain (or, for a partner
brand's purchase, the partner). ``main`` is the program every deployment starts with (open to every chain);
points earned before programs existed are its points.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import MAIN_PROGRAM, PROGRAM_ID_PATTERN, program_takes_chain

MAIN = MAIN_PROGRAM
PROGRAM_ID = PROGRAM_ID_PATTERN
ProgramId = str


class LoyaltyProgram(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    chains: frozenset[str] = Field(default=frozenset(), max_length=500, description="empty: every chain")
    partners: frozenset[str] = Field(
        default=frozenset(), max_length=500, description="partner brands it earns at"
    )
    active: bool = True

    def takes_chain(self, chain_id: str) -> bool:
        return program_takes_chain(self.chains, self.active, chain_id)

    def takes_partner(self, partner_id: str) -> bool:
        """A partner brand's purchases earn where the partner is listed, or in a program open to all."""
        return self.active and (partner_id in self.partners or not (self.chains or self.partners))


def programs_for_chain(programs: dict[ProgramId, LoyaltyProgram], chain_id: str) -> list[ProgramId]:
    return sorted(p for p, program in programs.items() if program.takes_chain(chain_id))


def programs_for_partner(programs: dict[ProgramId, LoyaltyProgram], partner_id: str) -> list[ProgramId]:
    return sorted(p for p, program in programs.items() if program.takes_partner(partner_id))
