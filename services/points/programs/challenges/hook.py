"""Challenges' part in a batch of purchases: each purchase's marks, the progress told, and the badge
(with its bonus points) when a member reaches the target in a period."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.posting import Book
from services.points.program import Batch, PurchaseHook
from services.points.programs.challenges.domain import Challenge, advance, marks, period_of
from services.points.programs.challenges.store import (
    Badge,
    Progress,
    active_challenges,
    badges_on,
    progress_of,
    save_progress,
)
from services.points.purchases import local_day
from services.points.store.ledger import Original
from shared.contracts import (
    BADGE_EARNED,
    CHALLENGE_PROGRESS,
    BadgeEarned,
    ChallengeProgress,
    Envelope,
    PurchaseRecorded,
    ReturnRecorded,
)
from shared.store.settled import Cached

_BADGE_NAMESPACE = uuid.UUID("8f0b2d4e-9a7c-4c3e-b1f5-0e6a2d9c7b31")  # badge lots' ids, as ever


@dataclass
class ChallengesHook(PurchaseHook):
    challenges: list[tuple[str, Challenge]]
    progress: Progress = field(default_factory=dict)
    badges: list[Badge] = field(default_factory=list)  # on the purchases this batch's returns refer to
    progressed: set[tuple[str, str, str]] = field(default_factory=set)

    def purchased(self, book: Book, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        for challenge_id, challenge in self.challenges:
            self._challenge(book, challenge_id, challenge, event, purchase)

    def _challenge(
        self,
        book: Book,
        challenge_id: str,
        challenge: Challenge,
        event: Envelope[Any],
        purchase: PurchaseRecorded,
    ) -> None:
        day = local_day(event)
        member = purchase.member_id
        key = (challenge_id, member, period_of(day))
        seen, done = self.progress.get(key, (set(), False))
        after, reached = advance(challenge, seen, marks(challenge, purchase, day))
        if after == seen:
            return
        self.progress[key] = (after, done or reached)
        self.progressed.add(key)
        period = key[2]
        book.follow(
            event,
            CHALLENGE_PROGRESS,
            ChallengeProgress(
                member_id=member, challenge_id=challenge_id, name=challenge.name, period=period,
                progress=len(after), target=challenge.target,
            ),
        )  # fmt: skip
        if not reached or done:
            return
        points = challenge.bonus_points
        if points:
            lot = uuid.uuid5(_BADGE_NAMESPACE, f"badge:{challenge_id}:{member}:{period}")
            details = {
                "challenge_id": challenge_id,
                "period": period,
                "purchase_event_id": str(event.event_id),
            }
            book.credit(member, "badge", points, lot, event.occurred_at, details)
            self.badges.append(Badge(lot, member, points, challenge_id, period, event.event_id))
        book.follow(
            event,
            BADGE_EARNED,
            BadgeEarned(
                member_id=member, challenge_id=challenge_id, name=challenge.name, period=period,
                points=points, balance=book.balance(member),
            ),
        )  # fmt: skip

    def returned(
        self, book: Book, event: Envelope[Any], ret: ReturnRecorded, original: Original | None
    ) -> None:
        """A badge's bonus is taken back when the purchase that reached the target is returned in full
        (told as an adjustment). The month's badge stays spent: what that purchase marked is not known
        apart from the others', so the challenge is not reopened."""
        if original is None or original.refunded < original.amount:
            return
        for badge in [b for b in self.badges if b.purchase_event_id == ret.original_event_id]:
            self.badges.remove(badge)
            what = f"challenge {badge.challenge_id} ({badge.period})"
            reason = f"badge bonus of {what} taken back: purchase {badge.purchase_event_id} returned"
            details = {"challenge_id": badge.challenge_id, "period": badge.period}
            b = badge
            book.take_back(
                event, b.member_id, b.points, b.lot_id, b.purchase_event_id, reason, "challenges", details
            )

    async def save(self, conn: AsyncConnection) -> None:
        await save_progress(conn, self.progress, self.progressed)


_ACTIVE: Cached[str, list[tuple[str, Challenge]]] = Cached("challenges")


async def load(conn: AsyncConnection, batch: Batch) -> PurchaseHook:
    if batch.program_id != MAIN:  # challenges are main's
        return PurchaseHook()
    challenges = (
        await _ACTIVE.get(conn, batch.stamps, "active", lambda: active_challenges(conn))
        if batch.purchases
        else []
    )
    periods = {period_of(local_day(e)) for e in batch.purchases}
    ids = [cid for cid, _ in challenges]
    progress = await progress_of(conn, ids, batch.members, periods) if challenges else {}
    badges = await badges_on(conn, (r.payload.original_event_id for r in batch.returns))
    return ChallengesHook(challenges, progress, badges)
