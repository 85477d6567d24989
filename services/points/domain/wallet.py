"""A member's points as lots, so the oldest points are spent and expire first.

Every credit is a lot; every debit takes from lots, oldest first, and says which. When a return
reverses points the member has already spent, the stated policy is a negative balance: the shortfall
becomes ``debt``, and the next points earned pay it back before they form a lot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


class InsufficientPoints(Exception):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"{wanted} points wanted, {available} available")
        self.wanted, self.available = wanted, available


@dataclass
class Lot:
    lot_id: uuid.UUID
    earned_at: datetime
    expires_at: datetime | None
    remaining: int
    original: int


@dataclass(frozen=True)
class Take:
    lot_id: uuid.UUID
    points: int


@dataclass
class Wallet:
    member_id: str
    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    # Always sum(lot.remaining) - debt; kept as points move, so crediting needs no lots loaded.
    balance: int = 0
    # Earning only adds a lot: a wallet loaded for that leaves the member's lots in the store.
    lots_loaded: bool = True
    changed: set[uuid.UUID] = field(default_factory=set)  # lots to write back

    def _need_lots(self) -> None:
        assert self.lots_loaded, "taking points needs the member's lots"

    def credit(self, lot_id: uuid.UUID, points: int, earned_at: datetime, expires_at: datetime | None) -> int:
        """Add earned points; returns how many of them paid back debt first."""
        assert points >= 0
        repaid = min(points, self.debt)
        self.debt -= repaid
        self.balance += points
        if points - repaid:
            self.lots.append(Lot(lot_id, earned_at, expires_at, points - repaid, points - repaid))
            self.changed.add(lot_id)
        return repaid

    def debit(self, points: int, *, first: uuid.UUID | None = None, allow_debt: bool = False) -> list[Take]:
        """Take ``points``, from lot ``first`` if given, then oldest first. Without ``allow_debt`` a
        shortfall raises and nothing is taken."""
        assert points >= 0
        self._need_lots()
        available = sum(lot.remaining for lot in self.lots)
        if points > available and not allow_debt:
            raise InsufficientPoints(points, self.balance)
        order = sorted(self.lots, key=lambda lot: (lot.lot_id != first, lot.earned_at))
        takes, wanted = [], points
        for lot in order:
            if not wanted:
                break
            taken = min(lot.remaining, wanted)
            if taken:
                lot.remaining -= taken
                wanted -= taken
                takes.append(Take(lot.lot_id, taken))
                self.changed.add(lot.lot_id)
        self.debt += wanted
        self.balance -= points
        return takes

    def restore(self, takes: list[Take]) -> None:
        """Give back what a debit took, to the same lots (a cancelled redemption)."""
        self._need_lots()
        for take in takes:
            lot = next(lot for lot in self.lots if lot.lot_id == take.lot_id)
            lot.remaining += take.points
            self.balance += take.points
            self.changed.add(lot.lot_id)

    def expire(self, now: datetime) -> list[Take]:
        """Take every point whose lot has expired."""
        self._need_lots()
        takes = []
        for lot in self.lots:
            if lot.expires_at is not None and lot.expires_at <= now and lot.remaining:
                takes.append(Take(lot.lot_id, lot.remaining))
                self.balance -= lot.remaining
                lot.remaining = 0
                self.changed.add(lot.lot_id)
        return takes

    def expiring(self, now: datetime, within: timedelta) -> int:
        return sum(
            lot.remaining
            for lot in self.lots
            if lot.expires_at is not None and now < lot.expires_at <= now + within
        )

    def keep_alive(self, until: datetime) -> None:
        """Inactivity policy: any activity moves every lot's expiry to ``until``."""
        for lot in self.lots:
            if lot.remaining and lot.expires_at != until:
                lot.expires_at = until
                self.changed.add(lot.lot_id)


def points_to_reverse(
    earned: int, purchase_total: Decimal, refunded_total: Decimal, already_reversed: int
) -> int:
    """Points to take back now for a return, proportional to the money refunded so far in all.

    Computed on the cumulative refund, so several partial returns never reverse more than was
    earned, and a return of everything reverses exactly everything.
    """
    if purchase_total <= 0:
        return 0
    share = min(refunded_total / purchase_total, Decimal(1))
    due = int((earned * share).to_integral_value(rounding=ROUND_HALF_UP))
    return max(due - already_reversed, 0)
