"""A member gives points to a cause, in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.actions import insufficient
from services.points.domain.wallet import InsufficientPoints
from services.points.programs.causes.domain import brand_match
from services.points.programs.causes.store import cause_for_update, donation_by_id, record_donation
from services.points.settings import PointsSettings
from services.points.store.ledger import open_book, post
from shared.contracts import POINTS_DONATED, PointsDonated
from shared.errors import NotFound


async def donate(
    conn: AsyncConnection,
    settings: PointsSettings,
    donation_id: uuid.UUID,
    member_id: str,
    cause_id: str,
    points: int,
    now: datetime,
) -> dict[str, Any]:
    """A member gives points to a cause: they leave the member's wallet (oldest first) for the cause
    ledger, and the brand adds its match while the match budget lasts. A retry is the same donation."""
    known = await donation_by_id(conn, donation_id)
    if known is not None:
        return _donation_json(known)
    cause = await cause_for_update(conn, cause_id)
    if cause is None or not cause.active:
        raise NotFound(f"no active cause {cause_id!r}", title="Unknown cause")
    book = await open_book(conn, settings, [member_id], with_lots=[member_id])
    matched = brand_match(points, cause.match_ratio, cause.match_budget - cause.matched_total)
    try:
        book.debit(member_id, "donate", points, donation_id, now, {"cause_id": cause_id, "matched": matched})
    except InsufficientPoints as short:
        raise insufficient("give", points, short) from None
    row = {"donation_id": donation_id, "member_id": member_id, "cause_id": cause_id, "points": points,
           "matched": matched, "at": now}  # fmt: skip
    await record_donation(conn, row)
    balance = book.balance(member_id)
    payload = PointsDonated(
        member_id=member_id, cause_id=cause_id, donation_id=donation_id, points=points, matched=matched,
        balance=balance,
    )  # fmt: skip
    book.emit(POINTS_DONATED, member_id, payload)
    await post(conn, book)
    return _donation_json(row) | {"balance": balance}


def _donation_json(row: Any) -> dict[str, Any]:
    return {
        "donation_id": str(row["donation_id"]),
        "member_id": row["member_id"],
        "cause_id": row["cause_id"],
        "points": row["points"],
        "matched": row["matched"],
        "at": row["at"],
    }
