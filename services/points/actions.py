"""What the points API and the core's scheduled jobs do, each inside the caller's transaction.

Redemption is a two-step reservation: ``reserve`` takes the points (oldest lots first) and a unit of
stock at once, so nothing can be spent twice; ``confirm`` issues the reward code; ``release`` (the POS
cancelled, or nobody confirmed in time) gives the points back to the lots they came from. Every step
is idempotent by the POS's request id, writes the ledger, and emits its event through the outbox.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain import opening
from services.points.domain.wallet import InsufficientPoints
from services.points.posting import Book, takes_json, takes_of
from services.points.settings import PointsSettings
from services.points.store.ledger import (
    expiring_unreminded,
    ledger_entry,
    lots_by_id,
    mark_reminded,
    members_with_expired_lots,
    open_book,
    opening_balances,
    post,
)
from services.points.store.rewards import (
    add_redemption,
    held_past,
    move_stock,
    redemption_for_update,
    reward_for_update,
    settle_redemption,
)
from shared.contracts import (
    POINTS_ADJUSTED,
    POINTS_EXPIRED,
    POINTS_EXPIRING_SOON,
    POINTS_REDEEMED,
    POINTS_TRANSFERRED,
    REDEMPTION_RELEASED,
    REWARD_ISSUED,
    Contract,
    PointsAdjusted,
    PointsExpired,
    PointsExpiringSoon,
    PointsRedeemed,
    PointsTransferred,
    RedemptionReleased,
    RewardIssued,
)
from shared.errors import Conflict, Declined, Invalid, NotFound

_EXPIRY_NAMESPACE = uuid.UUID("b5f3c1a2-6d4e-4f7a-8c9b-2e1d0a3f5c67")
_REFERRAL_NAMESPACE = uuid.UUID("3c9e7a1d-52b4-4e8f-9a06-d17f2b8c4e95")
_OPENING_NAMESPACE = uuid.UUID("8f2d6b1e-4c7a-4e93-b5d0-61a9c3e7f042")


def _emit(book: Book, contract: Contract[Any], member: str, payload: BaseModel) -> None:
    book.emit(contract, member, payload)


def reward_code() -> str:
    """80 random bits, in groups a cashier can read out: XXXX-XXXX-XXXX-XXXX."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _redemption_json(row: Any) -> dict[str, Any]:
    answer = {
        "redemption_id": str(row.redemption_id),
        "member_id": row.member_id,
        "reward_id": row.reward_id,
        "points": row.points,
        "status": row.status,
        "hold_until": row.hold_until.isoformat(),
    }
    if row.code:
        answer["code"] = row.code
    return answer


async def reserve(
    conn: AsyncConnection,
    settings: PointsSettings,
    redemption_id: uuid.UUID,
    member_id: str,
    reward_id: str,
    now: datetime,
) -> dict[str, Any]:
    existing = await redemption_for_update(conn, redemption_id)
    if existing is not None:
        if (existing.member_id, existing.reward_id) != (member_id, reward_id):
            raise Conflict("this request id was used for another redemption")
        return _redemption_json(existing)
    reward = await reward_for_update(conn, reward_id)
    if reward is None:
        raise NotFound(f"there is no reward {reward_id!r} in the catalog", title="Unknown reward")
    if (
        not reward.active
        or (reward.valid_from and now < reward.valid_from)
        or (reward.valid_until and now >= reward.valid_until)
    ):
        raise Conflict(f"{reward_id!r} cannot be redeemed now", title="Reward unavailable")
    if reward.stock is not None and reward.stock <= 0:
        raise Conflict(f"{reward_id!r} is out of stock", title="Out of stock")
    book = await open_book(conn, settings, [member_id])
    try:
        posted = book.debit(
            member_id, "redeem", reward.cost_points, redemption_id, now, {"reward_id": reward_id}
        )
    except InsufficientPoints as short:
        raise Declined(
            f"{reward_id!r} costs {short.wanted} points; the balance is {short.available}",
            title="Insufficient points",
            field="member_id",
            rule="insufficient_points",
            message=f"balance {short.available}",
        ) from None
    await move_stock(conn, reward_id, -1)
    hold_until = now + timedelta(seconds=settings.points_redemption_hold_s)
    await add_redemption(
        conn,
        redemption_id=redemption_id,
        member_id=member_id,
        reward_id=reward_id,
        points=reward.cost_points,
        status="reserved",
        takes=takes_json(posted.takes),
        hold_until=hold_until,
    )
    _emit(
        book,
        POINTS_REDEEMED,
        member_id,
        PointsRedeemed(
            member_id=member_id,
            redemption_id=redemption_id,
            reward_id=reward_id,
            points=reward.cost_points,
            balance=book.balance(member_id),
        ),
    )
    await post(conn, book)
    return {
        "redemption_id": str(redemption_id),
        "member_id": member_id,
        "reward_id": reward_id,
        "points": reward.cost_points,
        "status": "reserved",
        "hold_until": hold_until.isoformat(),
        "balance": book.balance(member_id),
    }


async def confirm(
    conn: AsyncConnection, settings: PointsSettings, redemption_id: uuid.UUID
) -> dict[str, Any]:
    row = await redemption_for_update(conn, redemption_id)
    if row is None:
        raise NotFound(f"no redemption {redemption_id}", title="Unknown redemption")
    if row.status == "confirmed":
        return _redemption_json(row)
    if row.status != "reserved":
        raise Conflict(f"this redemption was {row.status}; reserve again", title="Redemption released")
    code = reward_code()
    await settle_redemption(conn, redemption_id, "confirmed", code)
    reward = await reward_for_update(conn, row.reward_id)
    book = await open_book(conn, settings, [])
    _emit(
        book,
        REWARD_ISSUED,
        row.member_id,
        RewardIssued(
            member_id=row.member_id,
            redemption_id=redemption_id,
            reward_id=row.reward_id,
            name=reward.name,
            kind=reward.kind,
            code=code,
            valid_until=reward.valid_until,
        ),
    )
    await post(conn, book)
    return {**_redemption_json(row), "status": "confirmed", "code": code}


async def release(
    conn: AsyncConnection, settings: PointsSettings, redemption_id: uuid.UUID, reason: str, now: datetime
) -> dict[str, Any]:
    """Cancel a reservation: its points go back to the lots they came from, its stock to the shelf."""
    row = await redemption_for_update(conn, redemption_id)
    if row is None:
        raise NotFound(f"no redemption {redemption_id}", title="Unknown redemption")
    if row.status in ("cancelled", "expired"):
        return _redemption_json(row)
    if row.status == "confirmed":
        raise Conflict("a confirmed redemption cannot be cancelled", title="Redemption confirmed")
    book = await open_book(conn, settings, [row.member_id])
    takes = takes_of(row.takes)
    await lots_by_id(conn, book.wallet(row.member_id), (t.lot_id for t in takes))
    details = {"reward_id": row.reward_id, "reason": reason}
    book.restore(row.member_id, "redeem_release", takes, redemption_id, now, details)
    status = "cancelled" if reason == "cancelled" else "expired"
    await settle_redemption(conn, redemption_id, status)
    await move_stock(conn, row.reward_id, 1)
    _emit(
        book,
        REDEMPTION_RELEASED,
        row.member_id,
        RedemptionReleased(
            member_id=row.member_id,
            redemption_id=redemption_id,
            reward_id=row.reward_id,
            points=row.points,
            balance=book.balance(row.member_id),
            reason=reason,
        ),
    )
    await post(conn, book)
    return {**_redemption_json(row), "status": status, "balance": book.balance(row.member_id)}


def insufficient(verb: str, points: int, short: InsufficientPoints) -> Declined:
    """A debit the balance cannot cover, naming the field that asked too much."""
    return Declined(
        f"cannot {verb} {points} points: the balance is {short.available}",
        title="Insufficient points",
        field="points",
        rule="insufficient_points",
        message=f"balance {short.available}",
    )


async def adjust(
    conn: AsyncConnection,
    settings: PointsSettings,
    request_id: uuid.UUID,
    member_id: str,
    points: int,
    reason: str,
    operator: str,
    now: datetime,
) -> dict[str, Any]:
    """A manual correction by an operator, with the reason; a debit cannot overdraw."""
    done = await ledger_entry(conn, request_id, "adjust")
    if done is not None:
        return {"member_id": done.member_id, "points": done.points, "request_id": str(request_id)}
    book = await open_book(conn, settings, [member_id])
    details = {"reason": reason, "operator": operator}
    if points >= 0:
        book.credit(member_id, "adjust", points, request_id, now, details)
    else:
        try:
            book.debit(member_id, "adjust", -points, request_id, now, details)
        except InsufficientPoints as short:
            raise insufficient("take", -points, short) from None
    balance = book.balance(member_id)
    payload = PointsAdjusted(
        member_id=member_id, points=points, balance=balance, reason=reason, operator=operator
    )
    _emit(book, POINTS_ADJUSTED, member_id, payload)
    await post(conn, book)
    return {
        "member_id": member_id,
        "points": points,
        "balance": balance,
        "request_id": str(request_id),
    }


async def import_openings(
    conn: AsyncConnection,
    settings: PointsSettings,
    import_id: str,
    rows: list[tuple[int, str, str]],
    dry_run: bool,
    program_id: str,
    operator: str,
    now: datetime,
) -> dict[str, Any]:
    """Opening balances from another program, one credit per member (``domain/opening.py`` judges the
    rows). A dry run says what the import would do and changes nothing; the import credits the good
    rows, each into a lot of its own expiring by the deployment's policy, and tells of each as an
    adjustment (its reason naming the import)."""
    # Only the ids a row may hold are looked up (one with a NUL byte is no text PostgreSQL takes).
    members = [member for row, member, points in rows if not opening.row_errors(row, member, points)]
    imported = await opening_balances(conn, program_id, members)
    judged = opening.judge(rows, imported)
    if not dry_run and judged.to_credit:
        book = await open_book(
            conn, settings, [o.member_id for o in judged.to_credit], with_lots=[], program_id=program_id
        )
        reason = f"opening balance ({import_id})"
        for o in judged.to_credit:
            # One source per member and program: the ledger's unique key refuses a second opening.
            source = uuid.uuid5(_OPENING_NAMESPACE, o.member_id)
            details = {"import_id": import_id, "row": o.row, "operator": operator}
            book.credit(o.member_id, opening.KIND, o.points, source, now, details)
            payload = PointsAdjusted(
                program_id=program_id, member_id=o.member_id, points=o.points,
                balance=book.balance(o.member_id), reason=reason, operator=operator,
            )  # fmt: skip
            _emit(book, POINTS_ADJUSTED, o.member_id, payload)
        await post(conn, book)
    return {
        "import_id": import_id,
        "program": program_id,
        "dry_run": dry_run,
        "rows": len(rows),
        "credited": 0 if dry_run else len(judged.to_credit),
        "to_credit": len(judged.to_credit),
        "points": judged.points,
        "already_imported": len(judged.done),
        "errors": [
            {"row": e.row, "field": e.field, "rule": e.rule, "message": e.message} for e in judged.errors
        ],
    }


async def transfer(
    conn: AsyncConnection,
    settings: PointsSettings,
    transfer_id: uuid.UUID,
    sender: str,
    recipient: str,
    points: int,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """Move points between members, oldest of the sender's first; the recipient gets a fresh lot."""
    done = await ledger_entry(conn, transfer_id, "transfer_out")
    if done is not None:
        return {"transfer_id": str(transfer_id), "from": done.member_id, "points": -done.points}
    if sender == recipient:
        raise Invalid("a member cannot transfer points to themselves")
    book = await open_book(conn, settings, [sender, recipient], with_lots=[sender])
    try:
        book.debit(sender, "transfer_out", points, transfer_id, now, {"to": recipient, "note": note})
    except InsufficientPoints as short:
        raise insufficient("transfer", points, short) from None
    details = {"from": sender, "note": note}
    book.credit(
        recipient, "transfer_in", points, transfer_id, now, details, lot_id=uuid.uuid5(transfer_id, "in")
    )
    for member, other, moved in ((sender, recipient, -points), (recipient, sender, points)):
        payload = PointsTransferred(
            member_id=member,
            counterparty=other,
            points=moved,
            balance=book.balance(member),
            transfer_id=transfer_id,
            note=note,
        )
        _emit(book, POINTS_TRANSFERRED, member, payload)
    await post(conn, book)
    return {
        "transfer_id": str(transfer_id),
        "from": sender,
        "to": recipient,
        "points": points,
        "balance": book.balance(sender),
    }


async def expire_due(conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500) -> int:
    """Expire the lots past their date for up to ``limit`` members (in each program); returns how many."""
    due = await members_with_expired_lots(conn, now, limit)
    for program_id, members in _by_program((p, m) for p, m in due):
        book = await open_book(conn, settings, members, program_id=program_id)
        for member in members:
            source = uuid.uuid5(_EXPIRY_NAMESPACE, f"{member}/{now.isoformat()}")
            if posted := book.expire(member, source, now):
                taken, balance = -posted.entry.points, book.balance(member)
                _emit(
                    book,
                    POINTS_EXPIRED,
                    member,
                    PointsExpired(member_id=member, points=taken, balance=balance),
                )
        await post(conn, book)
    return len(due)


async def remind_expiring(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500
) -> int:
    """One ``points.expiring_soon`` per member and program for lots expiring within the notice period."""
    until = now + timedelta(days=settings.points_expiring_soon_days)
    due = await expiring_unreminded(conn, now, until, limit)
    for program_id, members in _by_program((p, m) for p, m, _, _ in due):
        book = await open_book(conn, settings, members, program_id=program_id)
        for p, member, points, first in due:
            if p == program_id:
                payload = PointsExpiringSoon(
                    member_id=member, points=points, expires_at=first, balance=book.balance(member)
                )
                _emit(book, POINTS_EXPIRING_SOON, member, payload)
        await post(conn, book)
        await mark_reminded(conn, program_id, members, now, until)
    return len(due)


def _by_program(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for program_id, member in pairs:
        grouped.setdefault(program_id, []).append(member)
    return sorted(grouped.items())


async def release_held(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 200
) -> int:
    """Release the reservations nobody confirmed in time."""
    held = await held_past(conn, now, limit)
    for redemption_id in held:
        await release(conn, settings, redemption_id, "timed out", now)
    return len(held)
