"""Applying events and the clock to members' standings; what changed goes to history and the outbox.

The consumer hands over purchases, returns, points and paid-membership events; the jobs hand over the
clock (reviews at period end, memberships running out). Both load standings and qualifying activity,
let the domain decide, and save the result with the events that describe it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import (
    Change,
    Ladder,
    Standing,
    after_activity,
    nudge,
    qualifying_value,
    review,
    start,
    vip_ended,
    vip_started,
)
from services.tiers.settings import TiersSettings
from services.tiers.store.repository import (
    activity_between,
    activity_row,
    add_activity,
    add_history,
    due_for_review,
    load_standings,
    mark_vip_reminded,
    memberships_ended,
    memberships_ending,
    save_standings,
)
from shared.consumer import BatchResult
from shared.contracts import (
    MEMBERSHIP_ENDED,
    MEMBERSHIP_EXPIRING,
    MEMBERSHIP_RENEWED,
    MEMBERSHIP_STARTED,
    TIER_CHANGED,
    TIER_PROGRESS,
    Contract,
    Envelope,
    MembershipStatus,
    PointsEarned,
    PointsReversed,
    PurchaseRecorded,
    ReturnRecorded,
    TierChanged,
    TierProgress,
    VipMembership,
)
from shared.dates import add_months
from shared.outbox import OutboxMessage, append, emitted


@dataclass
class Moves:
    settings: TiersSettings
    ladder: Ladder
    outgoing: list[OutboxMessage] = field(default_factory=list)
    changes: list[tuple[str, Change]] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)

    def emit(
        self, contract: Contract[Any], member: str, payload: BaseModel, cause: Envelope[Any] | None
    ) -> None:
        self.outgoing.append(emitted(self.settings, contract, member, payload, cause))

    def changed(
        self, member: str, change: Change | None, standing: Standing, cause: Envelope[Any] | None
    ) -> None:
        if change is None:
            return
        self.changes.append((member, change))
        payload = TierChanged(
            member_id=member,
            from_tier=change.from_tier,
            to_tier=change.to_tier,
            reason=change.reason,
            benefits=self.ladder.tier(change.to_tier).benefits,
            effective_from=change.at,
            review_at=standing.review_at,
        )
        self.emit(TIER_CHANGED, member, payload, cause)

    def membership(
        self, contract: Contract[Any], member: str, plan: str, ends_at: datetime, cause: Envelope[Any] | None
    ) -> None:
        status = MembershipStatus(member_id=member, plan=plan, tier=self.ladder.vip_tier, ends_at=ends_at)
        self.emit(contract, member, status, cause)


def _activity(ladder: Ladder, event: Envelope[Any]) -> dict[str, Any] | None:
    p = event.payload
    member, at = getattr(p, "member_id", ""), event.occurred_at
    if isinstance(p, PurchaseRecorded):
        return activity_row(member, at, spend=ladder.qualifying_spend(p.currency, p.total_amount), visits=1)
    if isinstance(p, ReturnRecorded):
        return activity_row(member, at, spend=-ladder.qualifying_spend(p.currency, p.refund_amount))
    if isinstance(p, PointsEarned):
        return activity_row(member, at, points=p.points)
    if isinstance(p, PointsReversed):
        return activity_row(member, at, points=-p.points)
    return None


async def apply_events(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, events: Sequence[Envelope[Any]]
) -> BatchResult:
    rows = [r for r in (_activity(ladder, e) for e in events) if r is not None]
    await add_activity(conn, rows)
    members = {e.payload.member_id for e in events}
    standings = await load_standings(conn, members)
    times = [e.occurred_at for e in events]
    history = await activity_between(conn, members, ladder.window(min(times))[0], max(times))
    moves = Moves(settings, ladder)
    # In event time order: what arrived late or out of order is judged as of when it happened.
    for event in sorted(events, key=lambda e: e.occurred_at):
        member, at = event.payload.member_id, event.occurred_at
        standing = standings.get(member) or start(ladder, at)
        payload = event.payload
        if isinstance(payload, VipMembership):
            standing = _membership(moves, ladder, standing, event, payload, history.get(member, []))
        else:
            value = qualifying_value(ladder, history.get(member, []), at)
            standing, change = after_activity(ladder, standing, value, at)
            moves.changed(member, change, standing, event)
            standing, near = nudge(ladder, standing, value)
            if near:
                progress = TierProgress(
                    member_id=member,
                    tier=standing.tier,
                    next_tier=near[0],
                    remaining=near[1],
                    metric=ladder.metric,
                    window_ends=ladder.window(at)[1],
                )
                moves.emit(TIER_PROGRESS, member, progress, event)
        standings[member] = standing
    await save_standings(conn, standings, moves.plans)
    await add_history(conn, moves.changes)
    return BatchResult(outgoing=moves.outgoing)


def _membership(
    moves: Moves,
    ladder: Ladder,
    standing: Standing,
    event: Envelope[Any],
    vip: VipMembership,
    history: list[Any],
) -> Standing:
    member, at = vip.member_id, event.occurred_at
    moves.plans[member] = vip.plan
    if event.type == "vip.cancelled":
        if standing.vip_until is None:
            return standing
        ended_at = standing.vip_until
        standing, change = vip_ended(ladder, standing, qualifying_value(ladder, history, at), at)
        moves.changed(member, change, standing, event)
        moves.membership(MEMBERSHIP_ENDED, member, vip.plan, min(at, ended_at), event)
        return standing
    renewing = standing.vip_until is not None and standing.vip_until > at
    until = add_months(standing.vip_until if renewing and standing.vip_until else at, vip.term_months)
    standing, change = vip_started(ladder, standing, until, at)
    moves.changed(member, change, standing, event)
    contract = MEMBERSHIP_RENEWED if renewing else MEMBERSHIP_STARTED
    moves.membership(contract, member, vip.plan, until, event)
    return standing


# -- the clock ------------------------------------------------------------------------------------


async def review_due(conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime) -> int:
    """Members whose period ended more than the grace period ago: keep, or step down one tier."""
    members = await due_for_review(conn, now - timedelta(days=ladder.grace_days), 200)
    if not members:
        return 0
    standings = await load_standings(conn, members)
    earliest = min(s.review_at for s in standings.values())
    history = await activity_between(conn, members, ladder.period_before(earliest)[0], now)
    moves = Moves(settings, ladder)
    for member, standing in standings.items():
        value = qualifying_value(ladder, history.get(member, []), standing.review_at, at_review=True)
        standings[member], change = review(ladder, standing, value, now)
        moves.changed(member, change, standings[member], None)
    await _save(conn, standings, moves)
    return len(members)


async def end_memberships(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime
) -> int:
    ended = await memberships_ended(conn, now, 200)
    if not ended:
        return 0
    members = [m for m, _ in ended]
    standings = await load_standings(conn, members)
    history = await activity_between(conn, members, ladder.window(now)[0], now)
    moves = Moves(settings, ladder)
    for member, plan in ended:
        standing = standings[member]
        ends_at = standing.vip_until
        assert ends_at is not None
        value = qualifying_value(ladder, history.get(member, []), now)
        standings[member], change = vip_ended(ladder, standing, value, now)
        moves.changed(member, change, standings[member], None)
        moves.membership(MEMBERSHIP_ENDED, member, plan or "vip", ends_at, None)
    await _save(conn, standings, moves)
    return len(ended)


async def remind_memberships(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime
) -> int:
    ending = await memberships_ending(conn, now, now + timedelta(days=settings.tiers_vip_reminder_days), 200)
    moves = Moves(settings, ladder)
    for member, plan, until in ending:
        moves.membership(MEMBERSHIP_EXPIRING, member, plan or "vip", until, None)
    if ending:
        await mark_vip_reminded(conn, [m for m, _, _ in ending], now)
        await append(conn, moves.outgoing)
    return len(ending)


async def _save(conn: AsyncConnection, standings: dict[str, Standing], moves: Moves) -> None:
    await save_standings(conn, standings, {})
    await add_history(conn, moves.changes)
    await append(conn, moves.outgoing)
