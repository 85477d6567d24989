"""Referrals: each enrolment with a code recorded, and both sides rewarded once the friend's first
qualifying purchase has cleared the return window."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.programs.referrals import store as referrals
from services.points.programs.referrals.domain import (
    Cleared,
    ReferralProgram,
    cleared_purchase,
    lapsed,
    refusal,
)
from services.points.settings import PointsSettings
from services.points.store.ledger import open_book, post
from shared.contracts import REFERRAL_REWARDED, Envelope, MemberEnrolled, ReferralRewarded

_REFERRAL_NAMESPACE = uuid.UUID("3c9e7a1d-52b4-4e8f-9a06-d17f2b8c4e95")


async def record_referrals(conn: AsyncConnection, enrolments: Sequence[Envelope[MemberEnrolled]]) -> None:
    """Each enrolment with a code becomes a pending referral, or a refused one with the reason.

    One at a time: two friends naming each other's codes in one batch must see each other."""
    enrolments = [e for e in enrolments if e.payload.referral_code]
    owners = await referrals.code_owners(conn, (e.payload.referral_code or "" for e in enrolments))
    # Main keeps every referral (terms may come later); a program with terms keeps its own copy.
    programs = [MAIN, *(p for p, _ in await referrals.terms_by_program(conn) if p != MAIN)]
    for event in enrolments:
        friend, code = event.payload.member_id, event.payload.referral_code or ""
        referrer = owners.get(code)
        above = await referrals.referrers_above(conn, referrer) if referrer else []
        reason = refusal(friend, referrer, above)
        row = {"friend_id": friend, "referrer_id": referrer, "code": code, "enrolled_at": event.occurred_at}
        decided = row | {"status": "refused" if reason else "pending", "reason": reason or ""}
        await referrals.record(conn, [decided | {"program_id": p} for p in programs])


async def reward_referrals(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, page: int = 500
) -> int:
    """Reward both sides of each referral whose friend's first qualifying purchase has cleared the return
    window (ledger kind ``referral``, one ``referral.rewarded`` each); let lapse those that can no longer
    clear. Returns how many referrals were rewarded."""
    rewarded = 0
    for program_id, program in await referrals.terms_by_program(conn):
        rewarded += await _reward_program(conn, settings, program_id, program, now, page)
    return rewarded


async def _reward_program(
    conn: AsyncConnection, settings: PointsSettings, program_id: str, program: ReferralProgram, now: datetime,
    page: int,
) -> int:  # fmt: skip
    rewarded, after = 0, ""
    while due := await referrals.pending(conn, after, page, program_id):
        after = due[-1].friend_id
        bought = await referrals.purchases_of(conn, [r.friend_id for r in due], program_id)
        cleared: list[tuple[Any, Cleared]] = []
        for row in due:
            if found := cleared_purchase(program, row.enrolled_at, bought.get(row.friend_id, []), now):
                cleared.append((row, found))
        done = {row.friend_id for row, _ in cleared}
        gone = [r.friend_id for r in due if r.friend_id not in done and lapsed(program, r.enrolled_at, now)]
        await referrals.mark_lapsed(conn, gone, "no qualifying purchase cleared in time", program_id)
        if cleared:
            await _reward(conn, settings, program_id, program, cleared, now)
            rewarded += len(cleared)
        if len(due) < page:
            break
    return rewarded


async def _reward(
    conn: AsyncConnection,
    settings: PointsSettings,
    program_id: str,
    program: ReferralProgram,
    cleared: list[tuple[Any, Cleared]],
    now: datetime,
) -> None:
    referrer_points, friend_points = program.referrer_points, program.friend_points
    members = {m for row, _ in cleared for m in (row.referrer_id, row.friend_id)}
    book = await open_book(conn, settings, members, with_lots=(), program_id=program_id)
    for row, found in cleared:
        sides = (("referrer", row.referrer_id, referrer_points), ("friend", row.friend_id, friend_points))
        for role, member, points in sides:
            # Keyed by the friend and the side: the unique (source, kind) refuses a second reward.
            source = uuid.uuid5(_REFERRAL_NAMESPACE, f"{row.friend_id}/{role}")
            if points:
                details = {
                    "role": role,
                    "referrer_id": row.referrer_id,
                    "friend_id": row.friend_id,
                    "purchase_event_id": str(found.purchase.event_id),
                }
                book.credit(member, "referral", points, source, found.at, details)
                payload = ReferralRewarded(
                    member_id=member, role=role, referrer_id=row.referrer_id, friend_id=row.friend_id,
                    purchase_event_id=found.purchase.event_id, points=points, balance=book.balance(member),
                )  # fmt: skip
                book.emit(REFERRAL_REWARDED, member, payload, at=found.at)
        await referrals.mark_rewarded(conn, row.friend_id, found.purchase.event_id, now, program_id)
    await post(conn, book)
