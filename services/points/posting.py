"""The posting core: the one place points move.

A ``Book`` holds the wallets one transaction moves. Every change to a member's points is a posting on
it: a credit (a new lot, expiring by the deployment's policy, paying back debt first), a debit (from a
named lot first, then oldest first), a restore (a cancelled debit back to the lots it took from) or an
expiry. Each posting appends its ledger entry, saying which lots it touched; the events that tell of
it are emitted through the book. ``store.ledger.write`` then saves entries, lots and balances in the
caller's transaction, and the outbox carries the events: nothing else in the service builds a ledger
entry or touches a balance.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.points.domain.loyalty import MAIN
from services.points.domain.wallet import Take, Wallet
from services.points.settings import PointsSettings
from shared.contracts import POINTS_ADJUSTED, Contract, Envelope, PointsAdjusted
from shared.dates import add_months
from shared.outbox import OutboxMessage, emitted


@dataclass(frozen=True)
class LedgerEntry:
    member_id: str
    kind: str
    points: int
    source_event_id: uuid.UUID
    occurred_at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class Posted:
    """A posting's entry, and what it did to the lots."""

    entry: LedgerEntry
    takes: tuple[Take, ...] = ()  # a debit's: which lots gave how much
    repaid: int = 0  # a credit's: how much of it paid back debt instead of forming a lot


def takes_json(takes: Iterable[Take]) -> list[dict[str, Any]]:
    return [{"lot_id": str(t.lot_id), "points": t.points} for t in takes]


def takes_of(rows: Iterable[dict[str, Any]]) -> list[Take]:
    return [Take(uuid.UUID(t["lot_id"]), int(t["points"])) for t in rows]


@dataclass
class Book:
    settings: PointsSettings
    wallets: dict[str, Wallet]
    known: set[str] = field(default_factory=set)  # members who had points before this transaction
    entries: list[LedgerEntry] = field(default_factory=list)
    outgoing: list[OutboxMessage] = field(default_factory=list)
    program_id: str = MAIN  # the loyalty program whose points these are

    def lot_of(self, lot_id: uuid.UUID) -> uuid.UUID:
        """The id of a lot in this program: the same purchase forms a lot in each program it earns in
        (``main`` keeps the ids it always had)."""
        return lot_id if self.program_id == MAIN else uuid.uuid5(lot_id, self.program_id)

    def wallet(self, member: str) -> Wallet:
        return self.wallets[member]

    def balance(self, member: str) -> int:
        return self.wallets[member].balance

    def credit(
        self,
        member: str,
        kind: str,
        points: int,
        source: uuid.UUID,
        at: datetime,
        details: dict[str, Any] | None = None,
        *,
        lot_id: uuid.UUID | None = None,
    ) -> Posted:
        """``points`` (>= 0) into a new lot (``lot_id``, default the source), expiring by the policy;
        what the member owed is paid back first."""
        lot = self.lot_of(lot_id or source)
        repaid = self.wallets[member].credit(lot, points, at, self.settings.lot_expires(at))
        self.known.add(member)
        said = {**(details or {}), "lot_id": str(lot), "repaid_debt": repaid}
        return Posted(self._entry(member, kind, points, source, at, said), repaid=repaid)

    def debit(
        self,
        member: str,
        kind: str,
        points: int,
        source: uuid.UUID,
        at: datetime,
        details: dict[str, Any] | None = None,
        *,
        first: uuid.UUID | None = None,
        allow_debt: bool = False,
    ) -> Posted:
        """Take ``points`` (>= 0), from lot ``first`` (its id in this program: ``lot_of``) while it has
        any left, then oldest first; without ``allow_debt`` a shortfall raises ``InsufficientPoints`` and
        nothing is taken, with it the shortfall becomes debt the next credits pay back."""
        takes = self.wallets[member].debit(points, first=first, allow_debt=allow_debt)
        entry = self._entry(member, kind, -points, source, at, {**(details or {}), "lots": takes_json(takes)})
        return Posted(entry, tuple(takes))

    def restore(
        self,
        member: str,
        kind: str,
        takes: list[Take],
        source: uuid.UUID,
        at: datetime,
        details: dict[str, Any],
    ) -> Posted:
        """Give back what a debit took, to the lots it came from (the caller has them loaded)."""
        self.wallets[member].restore(takes)
        points = sum(t.points for t in takes)
        return Posted(self._entry(member, kind, points, source, at, {**details, "lots": takes_json(takes)}))

    def expire(self, member: str, source: uuid.UUID, now: datetime) -> Posted | None:
        """Empty the member's lots past their date; None when none was."""
        takes = self.wallets[member].expire(now)
        points = sum(t.points for t in takes)
        if not points:
            return None
        return Posted(
            self._entry(member, "expire", -points, source, now, {"lots": takes_json(takes)}), tuple(takes)
        )

    def take_back(
        self,
        cause: Envelope[Any],
        member: str,
        points: int,
        lot: uuid.UUID,
        purchase_event_id: uuid.UUID,
        reason: str,
        by: str,
        details: dict[str, Any],
    ) -> Posted:
        """What a purchase gave beyond its earn (a prize, a badge's bonus: credited with source ``lot``),
        taken back because ``cause`` (a return) undid the purchase: from that lot first, into debt if it
        was spent, once (the lot is the adjustment's source), told as an adjustment by ``by``."""
        said = {"reason": reason, **details, "purchase_event_id": str(purchase_event_id),
                "return_event_id": str(cause.event_id)}  # fmt: skip
        posted = self.debit(member, "adjust", points, lot, cause.occurred_at, said, first=self.lot_of(lot),
                            allow_debt=True)  # fmt: skip
        self.follow(cause, POINTS_ADJUSTED, PointsAdjusted(
            member_id=member, points=-points, balance=self.balance(member), reason=reason, operator=by,
            purchase_event_id=purchase_event_id,
        ))  # fmt: skip
        return posted

    def active(self, member: str, at: datetime) -> None:
        """The member did something: under the inactivity policy every lot's date moves out again."""
        if self.settings.points_expiry_policy == "inactivity":
            self.wallets[member].keep_alive(add_months(at, self.settings.points_expiry_months))

    def emit(
        self,
        contract: Contract[Any],
        key: str,
        payload: BaseModel,
        *,
        cause: Envelope[Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        said = type(payload).model_fields.get("program_id")
        if self.program_id != MAIN and said is not None and said.default == MAIN:
            payload = payload.model_copy(update={"program_id": self.program_id})
        self.outgoing.append(emitted(self.settings, contract, key, payload, cause, at))

    def follow(self, cause: Envelope[Any], contract: Contract[Any], payload: BaseModel) -> None:
        """An event caused by ``cause``, dated when it happened: points move when the purchase or return
        did, whenever it is processed."""
        self.emit(contract, cause.key, payload, cause=cause, at=cause.occurred_at)

    def _entry(
        self, member: str, kind: str, points: int, source: uuid.UUID, at: datetime, details: dict[str, Any]
    ) -> LedgerEntry:
        entry = LedgerEntry(member, kind, points, source, at, details)
        self.entries.append(entry)
        return entry
