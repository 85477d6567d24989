"""What the points API answers: one response model per route, so /openapi.json describes every body.

Bodies are what the routes returned before these models (see ``shared.wire``): a key a route leaves
out (``code`` before a redemption is confirmed, ``balance`` on a replayed request) is left out of the
body too (those routes answer with ``response_model_exclude_unset``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from shared.wire import OpenOut, Out, RowRefused


class Balance(Out):
    member_id: str
    balance: int = Field(description="points the member can spend (never below zero)")
    debt: int = Field(description="points owed: returns that took back points already spent")


class LedgerEntry(Out):
    id: int
    kind: str = Field(description="earn, reverse, redeem, redeem_release, expire, adjust, transfer_out, ...")
    points: int
    source_event_id: uuid.UUID
    occurred_at: datetime
    details: Any = Field(description="the explanation: the rules that gave the points, the lots taken")


class Ledger(Out):
    member_id: str
    entries: list[LedgerEntry]
    next_before: int | None = Field(description="the entry id to page back from, while there is more")


class Adjusted(Out):
    member_id: str
    points: int
    balance: int | None = Field(default=None, description="absent when the request was already applied")
    request_id: str


class OpeningImport(Out):
    import_id: str
    program: str
    dry_run: bool
    rows: int
    credited: int = Field(description="members credited now (0 in a dry run)")
    to_credit: int = Field(description="good rows whose member has no opening balance yet")
    points: int = Field(description="the points those rows credit")
    already_imported: int = Field(description="rows an earlier import credited with the same points")
    errors: list[RowRefused] = Field(
        description="every bad row's field and rule; nothing of them is credited"
    )


class Transferred(Out):
    transfer_id: str
    from_: str = Field(alias="from")
    to: str | None = Field(default=None, description="absent when the request was already applied")
    points: int
    balance: int | None = Field(default=None, description="the sender's; absent when already applied")


class RuleVersion(Out):
    version: int = Field(description="0: the default rate, until a rule set is stored")
    rules: Any = Field(description="the rule set (as POST /v1/rules takes it)")


class Rules(Out):
    versions: list[RuleVersion]


class RulesAdded(Out):
    version: int
    effective_from: str = Field(description="ISO 8601")


class SettlementLine(Out):
    campaign_id: str | None = Field(description="null: the partner's own purchases")
    points: int
    earns: int


class Settlement(Out):
    partner_id: str
    from_: datetime = Field(alias="from")
    to: datetime
    points: int
    lines: list[SettlementLine]


class Reward(Out):
    """A reward as it was put."""

    reward_id: str
    name: str
    kind: str
    cost_points: int
    stock: int | None
    valid_from: AwareDatetime | None
    valid_until: AwareDatetime | None
    active: bool


class CatalogReward(Out):
    reward_id: str
    name: str
    kind: str
    cost_points: int
    stock: int | None = Field(description="null: unlimited")
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool


class Catalog(Out):
    rewards: list[CatalogReward]


class Redemption(Out):
    redemption_id: str
    member_id: str
    reward_id: str
    points: int
    status: str = Field(description="reserved, confirmed, cancelled or expired")
    hold_until: str = Field(description="ISO 8601: until when the points and the stock are held")
    code: str | None = Field(default=None, description="the reward's code, once confirmed")
    balance: int | None = Field(default=None, description="the member's balance after this step")


class ProgramBalance(Out):
    program_id: str
    balance: int
    debt: int


class Balances(Out):
    member_id: str
    programs: list[ProgramBalance]


class LoyaltyProgramView(Out):
    program_id: str
    name: str
    chains: list[str] = Field(description="empty: every chain")
    partners: list[str]
    active: bool


class LoyaltyPrograms(Out):
    programs: list[LoyaltyProgramView]


class Export(OpenOut):
    """The core's part (declared here), and each program's (its own keys: referrals, challenges)."""

    member_id: str
    balance: int
    debt: int
    ledger: list[LedgerEntry]


class PreviewMember(Out):
    member_id: str
    purchases: int = Field(description="purchases of the member in the period")
    now: int = Field(description="the points those purchases earned")
    candidate: int = Field(description="the points they would have earned under the candidate")
    difference: int = Field(description="candidate - now")


class RulePreview(Out):
    from_: datetime = Field(alias="from")
    to: datetime
    purchases: int = Field(description="purchases replayed: those kept and earned in the period")
    members: int
    points_now: int
    points_candidate: int
    difference: int = Field(description="points_candidate - points_now")
    top: list[PreviewMember] = Field(description="the members whose points change most, either way")


class OpenLot(Out):
    lot_id: uuid.UUID
    points: int = Field(description="what the credit gave (after any debt it paid back)")
    remaining: int = Field(description="what is left of it to spend")
    earned_at: datetime
    expires_at: datetime | None = Field(description="when what is left expires; null: never")


class Lots(Out):
    member_id: str
    lots: list[OpenLot] = Field(description="lots with points left, oldest first (spent in that order)")
