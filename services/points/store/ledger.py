"""Reads and writes of the ledger, balances and lots, inside the caller's transaction, set-based."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.domain.opening import KIND as OPENING
from services.points.domain.wallet import Lot, Wallet
from services.points.posting import Book
from services.points.settings import PointsSettings
from services.points.store.tables import balances, ledger, lots
from shared.outbox import append
from shared.store.bulk import Writes, any_of, one_of


async def open_book(
    conn: AsyncConnection,
    settings: PointsSettings,
    members: Iterable[str],
    with_lots: Iterable[str] | None = None,
    program_id: str = MAIN,
) -> Book:
    """A book over each member's wallet in ``program_id``, locked for this transaction, knowing who had
    points there before.

    Lots are read only for ``with_lots`` (default: everyone): earning needs none, and a frequent
    shopper has many."""
    wanted = sorted(set(members))  # one lock order everywhere: no deadlock between batches and jobs
    lot_members = sorted(set(wanted if with_lots is None else with_lots))
    known = await conn.execute(_WALLETS, {"program_id": program_id, "members": wanted})
    loaded = set(lot_members)
    wallets = {m: Wallet(m, lots_loaded=m in loaded) for m in wanted}
    seen: set[str] = set()
    for member, balance, debt in known:
        wallets[member].balance, wallets[member].debt = balance, debt
        seen.add(member)
    book = Book(settings, wallets, seen, program_id=program_id)
    if not lot_members:
        return book
    rows = await conn.execute(_LOTS, {"program_id": program_id, "members": lot_members})
    for row in rows:
        wallets[row.member_id].lots.append(
            Lot(row.lot_id, row.earned_at, row.expires_at, row.remaining, row.original)
        )
    return book


# Built once: they run on every batch.
_WALLETS = (
    select(balances.c.member_id, balances.c.balance, balances.c.debt)
    .where(balances.c.program_id == bindparam("program_id"), any_of(balances.c.member_id, "members"))
    .order_by(balances.c.member_id)
    .with_for_update()
)
_LOTS = (
    select(lots)
    .where(
        lots.c.program_id == bindparam("program_id"),
        any_of(lots.c.member_id, "members"),
        lots.c.remaining > 0,
    )
    .order_by(lots.c.earned_at, lots.c.lot_id)
)


def book_writes(writes: Writes, book: Book) -> None:
    """The book's entries appended, and the lots and balances they moved written back, when ``writes``
    runs; its events are the caller's to emit (``post``, or the consumer core for a batch)."""
    entries, wallets = book.entries, book.wallets.values()
    writes.insert(ledger, [{**e.__dict__, "program_id": book.program_id} for e in entries])
    moved = {e.member_id for e in entries}
    touched = [w for w in wallets if w.changed or w.member_id in moved]
    changed_lots = [
        {
            "lot_id": lot.lot_id,
            "program_id": book.program_id,
            "member_id": w.member_id,
            "earned_at": lot.earned_at,
            "expires_at": lot.expires_at,
            "original": lot.original,
            "remaining": lot.remaining,
        }
        for w in touched
        for lot in w.lots
        if lot.lot_id in w.changed
    ]
    writes.insert(
        lots,
        changed_lots,
        lambda upsert: upsert.on_conflict_do_update(
            index_elements=[lots.c.lot_id],
            set_={"remaining": upsert.excluded.remaining, "expires_at": upsert.excluded.expires_at},
        ),
    )
    writes.insert(
        balances,
        [{"program_id": book.program_id, "member_id": w.member_id, "balance": w.balance, "debt": w.debt}
         for w in touched],
        lambda upsert: upsert.on_conflict_do_update(
            index_elements=[balances.c.program_id, balances.c.member_id],
            set_={"balance": upsert.excluded.balance, "debt": upsert.excluded.debt, "updated_at": func.now()},
        ),
    )  # fmt: skip
    for w in touched:
        w.changed.clear()
    book.entries = []


async def write(conn: AsyncConnection, book: Book) -> None:
    """``book_writes``, now, in one statement."""
    writes = Writes()
    book_writes(writes, book)
    await writes.run(conn)


async def post(conn: AsyncConnection, book: Book) -> None:
    """``write``, and the book's events into the outbox, in the caller's transaction."""
    await write(conn, book)
    await append(conn, book.outgoing)
    book.outgoing = []


TIER_CORRECTION = "tier correction"  # the reason of the adjustments that correct a purchase's tier line


@dataclass
class Original:
    """A purchase's earn, and what returns have taken back from it so far."""

    points: int
    amount: Decimal
    lot_id: uuid.UUID | None
    reversed: int = 0
    refunded: Decimal = Decimal(0)


async def originals(
    conn: AsyncConnection, purchase_ids: Iterable[uuid.UUID], program_id: str = MAIN
) -> dict[uuid.UUID, Original]:
    """The earns of these purchases in ``program_id``, with what returns and corrections moved since."""
    ids = sorted(set(purchase_ids))
    if not ids:
        return {}
    earns = await conn.execute(
        select(ledger.c.source_event_id, ledger.c.points, ledger.c.details).where(
            ledger.c.program_id == program_id, ledger.c.kind == "earn", one_of(ledger.c.source_event_id, ids)
        )
    )
    found = {
        row.source_event_id: Original(
            points=int(row.details.get("reversible", row.points)),
            amount=Decimal(row.details.get("amount", "0")),
            lot_id=uuid.UUID(row.details["lot_id"]) if row.details.get("lot_id") else None,
        )
        for row in earns
    }
    # Returns, and tier corrections (which move the earn and what its returns took back with it).
    moves = await conn.execute(
        text(
            "SELECT details->>'purchase_event_id' AS purchase, "
            "sum(CASE WHEN kind = 'reverse' THEN -points ELSE (details->>'reversed')::bigint END) AS points, "
            "sum(CASE WHEN kind = 'reverse' THEN (details->>'refund_amount')::numeric ELSE 0 END) "
            "AS refunded, "
            "sum(CASE WHEN kind = 'reverse' THEN 0 ELSE (details->>'earned')::bigint END) AS earned "
            "FROM ledger WHERE (kind = 'reverse' OR (kind = 'adjust' AND details->>'reason' = :correction)) "
            "AND details->>'purchase_event_id' = ANY(:ids) AND program_id = :program GROUP BY 1"
        ),
        {"ids": [str(i) for i in ids], "correction": TIER_CORRECTION, "program": program_id},
    )
    for row in moves:
        original = found[uuid.UUID(row.purchase)]
        original.reversed, original.refunded = int(row.points), Decimal(row.refunded)
        original.points += int(row.earned)
    return found


async def balance_of(conn: AsyncConnection, member_id: str, program_id: str = MAIN) -> tuple[int, int] | None:
    row = (
        await conn.execute(
            select(balances.c.balance, balances.c.debt).where(
                balances.c.program_id == program_id, balances.c.member_id == member_id
            )
        )
    ).first()
    return (row.balance, row.debt) if row else None


async def balances_of(conn: AsyncConnection, member_id: str) -> list[dict[str, Any]]:
    """The member's balance in each program they hold points (or owe them) in."""
    rows = await conn.execute(
        select(balances.c.program_id, balances.c.balance, balances.c.debt)
        .where(balances.c.member_id == member_id)
        .order_by(balances.c.program_id)
    )
    return [dict(r._mapping) for r in rows]


async def ledger_page(
    conn: AsyncConnection, member_id: str, before: int | None, limit: int, program_id: str = MAIN
) -> list[dict[str, Any]]:
    query = select(
        ledger.c.id,
        ledger.c.kind,
        ledger.c.points,
        ledger.c.source_event_id,
        ledger.c.occurred_at,
        ledger.c.details,
    ).where(ledger.c.program_id == program_id, ledger.c.member_id == member_id)
    if before is not None:
        query = query.where(ledger.c.id < before)
    rows = await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


async def lots_by_id(conn: AsyncConnection, wallet: Wallet, lot_ids: Iterable[uuid.UUID]) -> None:
    """Add to ``wallet`` the given lots it did not load (emptied ones), so points can go back."""
    have = {lot.lot_id for lot in wallet.lots}
    wanted = [i for i in lot_ids if i not in have]
    if wanted:
        for row in await conn.execute(select(lots).where(one_of(lots.c.lot_id, wanted))):
            wallet.lots.append(Lot(row.lot_id, row.earned_at, row.expires_at, row.remaining, row.original))


async def ledger_entry(
    conn: AsyncConnection, source_event_id: uuid.UUID, kind: str, program_id: str = MAIN
) -> Any:
    return (
        await conn.execute(
            select(ledger).where(
                ledger.c.program_id == program_id,
                ledger.c.source_event_id == source_event_id,
                ledger.c.kind == kind,
            )
        )
    ).first()


async def members_with_expired_lots(
    conn: AsyncConnection, now: datetime, limit: int
) -> list[tuple[str, str]]:
    """(program, member) holding lots past their date."""
    rows = await conn.execute(
        select(lots.c.program_id, lots.c.member_id)
        .where(lots.c.remaining > 0, lots.c.expires_at <= now)
        .group_by(lots.c.program_id, lots.c.member_id)
        .order_by(lots.c.program_id, lots.c.member_id)
        .limit(limit)
    )
    return [(p, m) for p, m in rows]


async def expiring_unreminded(
    conn: AsyncConnection, now: datetime, until: datetime, limit: int
) -> list[tuple[str, str, int, datetime]]:
    """(program, member, points, first expiry) for lots expiring by ``until`` no reminder covered yet."""
    rows = await conn.execute(
        select(lots.c.program_id, lots.c.member_id, func.sum(lots.c.remaining), func.min(lots.c.expires_at))
        .where(
            lots.c.remaining > 0,
            lots.c.expires_at > now,
            lots.c.expires_at <= until,
            lots.c.reminded_at.is_(None),
        )
        .group_by(lots.c.program_id, lots.c.member_id)
        .order_by(lots.c.program_id, lots.c.member_id)
        .limit(limit)
    )
    return [(g, m, int(p), e) for g, m, p, e in rows]


async def mark_reminded(
    conn: AsyncConnection, program_id: str, members: list[str], now: datetime, until: datetime
) -> None:
    await conn.execute(
        lots.update()
        .where(
            lots.c.program_id == program_id,
            one_of(lots.c.member_id, members),
            lots.c.remaining > 0,
            lots.c.expires_at > now,
            lots.c.expires_at <= until,
            lots.c.reminded_at.is_(None),
        )
        .values(reminded_at=now)
    )


async def holders(conn: AsyncConnection, limit: int, program_id: str = MAIN) -> list[str]:
    rows = await conn.execute(
        select(balances.c.member_id)
        .where(balances.c.program_id == program_id, balances.c.balance > 0)
        .order_by(balances.c.member_id)
        .limit(limit)
    )
    return [r.member_id for r in rows]


async def open_lots(conn: AsyncConnection, member_id: str, program_id: str = MAIN) -> list[dict[str, Any]]:
    """The member's lots with points left, oldest first (the order they are spent and expire in)."""
    rows = await conn.execute(
        select(lots.c.lot_id, lots.c.original, lots.c.remaining, lots.c.earned_at, lots.c.expires_at)
        .where(lots.c.program_id == program_id, lots.c.member_id == member_id, lots.c.remaining > 0)
        .order_by(lots.c.earned_at, lots.c.lot_id)
    )
    return [
        {"lot_id": r.lot_id, "points": r.original, "remaining": r.remaining, "earned_at": r.earned_at,
         "expires_at": r.expires_at}
        for r in rows
    ]  # fmt: skip


async def opening_balances(conn: AsyncConnection, program_id: str, members: Iterable[str]) -> dict[str, int]:
    """The opening balance each of ``members`` was given in ``program_id`` (those given one). Imports
    into a program take turns (a transaction-scoped lock), so two at once cannot both find a member
    without one."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"opening/{program_id}", 0))))
    wanted = sorted(set(members))
    if not wanted:
        return {}
    found = await conn.execute(
        select(ledger.c.member_id, ledger.c.points).where(
            ledger.c.program_id == program_id, ledger.c.kind == OPENING, ledger.c.member_id.in_(wanted)
        )
    )
    return {row.member_id: int(row.points) for row in found}
