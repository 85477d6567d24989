"""Applying events and the clock to members' standings; what changed goes to history and the outbox.

The consumer hands over purchases, returns, points and paid-membership events; the jobs hand over the
clock (reviews at period end, memberships running out). Both load standings and qualifying activity,
let the domain decide, and save the result with the events that describe it: one loyalty program at a
time, each on its own ladder (main's from the settings, another's as an operator set it), in program
order (one lock order: programs, then members). A program without a ladder keeps its activity and has
no standings until it gets one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import (
    Announcement,
    Change,
    Checkpoint,
    Ladder,
    Replay,
    Standing,
    announce,
    nudge,
    replay,
    resume_point,
)
from services.tiers.programs import MAIN, counted_in
from services.tiers.settings import TiersSettings
from services.tiers.store.programs import keep_programs, ladders_of, programs
from services.tiers.store.repository import (
    Kept,
    activity_row,
    activity_since,
    add_events,
    add_history,
    counted,
    due_for_review,
    load_standings,
    mark_vip_reminded,
    memberships_ended,
    memberships_ending,
    order_row,
    orders_of,
    save_standings,
    told_history,
)
from services.tiers.views import PointsGiven, PointsTaken, PurchaseTotal, ReturnTotal
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
    LoyaltyProgramDefined,
    MembershipStatus,
    TierChanged,
    TierProgress,
    VipMembership,
)
from shared.outbox import OutboxMessage, append, emitted
from shared.store.settled import stamps


@dataclass
class Moves:
    """What one program's ladder moved: the changes, and the events that tell of them."""

    settings: TiersSettings
    program_id: str
    ladder: Ladder
    outgoing: list[OutboxMessage] = field(default_factory=list)
    changes: list[tuple[str, Change]] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)

    @cached_property
    def ladder_key(self) -> str:
        """Names the ladder a checkpoint is taken under: one taken under another resumes nothing."""
        return hashlib.blake2b(self.ladder.model_dump_json().encode(), digest_size=8).hexdigest()

    def emit(
        self, contract: Contract[Any], member: str, payload: BaseModel, cause: Envelope[Any] | None
    ) -> None:
        self.outgoing.append(emitted(self.settings, contract, member, payload, cause))

    def announced(self, member: str, said: Announcement, cause: Envelope[Any] | None) -> None:
        change = said.change
        payload = TierChanged(
            program_id=self.program_id,
            member_id=member,
            from_tier=change.from_tier,
            to_tier=change.to_tier,
            reason=change.reason,
            benefits=self.ladder.tier(change.to_tier).benefits,
            effective_from=change.at,
            review_at=change.review_at,
            revision=said.revision,
            corrects_from=said.corrects_from,
        )
        self.emit(TIER_CHANGED, member, payload, cause)

    def membership(
        self, contract: Contract[Any], member: str, plan: str, ends_at: datetime, cause: Envelope[Any] | None
    ) -> None:
        status = MembershipStatus(member_id=member, plan=plan, tier=self.ladder.vip, ends_at=ends_at)
        self.emit(contract, member, status, cause)


def _activity(ladder: Ladder, program_id: str, event: Envelope[Any]) -> dict[str, Any] | None:
    p = event.payload
    member, at, eid = getattr(p, "member_id", ""), event.occurred_at, event.event_id
    if isinstance(p, PurchaseTotal):
        spend = ladder.qualifying_spend(p.currency, p.total_amount)
        return activity_row(eid, program_id, member, at, spend=spend, visits=1)
    if isinstance(p, ReturnTotal):
        refund = -ladder.qualifying_spend(p.currency, p.refund_amount)
        return activity_row(eid, program_id, member, at, spend=refund)
    if isinstance(p, PointsGiven):
        return activity_row(eid, program_id, member, at, points=p.points)
    if isinstance(p, PointsTaken):
        return activity_row(eid, program_id, member, at, points=-p.points)
    return None


async def apply_events(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, events: Sequence[Envelope[Any]]
) -> BatchResult:
    """Keep the programs told of and the events (each in every program it counts in), then replay
    each member they concern in each program: what changed, or was wrong, is told."""
    await keep_programs(conn, [e.payload for e in events if isinstance(e.payload, LoyaltyProgramDefined)])
    events = [e for e in events if not isinstance(e.payload, LoyaltyProgramDefined)]
    if not events:
        return BatchResult()
    # After keep_programs: a batch that wrote the registry reads it fresh (shared.store.settled).
    seen = await stamps(conn)
    known, ladder_of = await programs(conn, seen), await ladders_of(conn, ladder, seen)
    where = await counted(
        conn, (e.payload.original_event_id for e in events if isinstance(e.payload, ReturnTotal))
    )
    concerned: dict[str, list[Envelope[Any]]] = defaultdict(list)
    activity: list[dict[str, Any]] = []
    for event in events:
        for program_id in counted_in(known, event.payload, where):
            # Spend qualifies in the program's ladder currency (main's while it has no ladder yet).
            row = _activity(ladder_of.get(program_id, ladder), program_id, event)
            if row is not None:
                activity.append(row)
                concerned[program_id].append(event)
    vip = [e for e in events if isinstance(e.payload, VipMembership)]  # paid membership is main's
    concerned[MAIN] += vip
    orders = [
        order_row(e.event_id, e.payload.member_id, e.occurred_at, e.type.removeprefix("vip."),
                  e.payload.plan, e.payload.term_months)
        for e in vip
    ]  # fmt: skip
    await add_events(conn, activity, orders)
    outgoing = []
    for program_id, theirs in sorted(concerned.items()):
        if program_id in ladder_of and theirs:
            moves = Moves(settings, program_id, ladder_of[program_id])
            await _settle(conn, moves, {e.payload.member_id for e in theirs}, theirs, None)
            outgoing += moves.outgoing
    return BatchResult(outgoing=outgoing)


async def _settle(
    conn: AsyncConnection,
    moves: Moves,
    members: Iterable[str],
    events: Sequence[Envelope[Any]],
    clock: datetime | None,
) -> None:
    """Replay each member's events up to the later of their last event, how far the clock ran before
    and ``clock``; announce the difference from what was told, and save standing and history.

    A member whose events here are all at or after their checkpoint's instant resumes there, reading
    the activity its windows can reach; one with an earlier (late) event, or none, replays it all."""
    ladder, program_id = moves.ladder, moves.program_id
    members = sorted(set(members))
    kept = await load_standings(conn, program_id, members)
    if events:
        # A member with a standing whose events here cannot move it is replayed by their next event
        # that can, or by the clock: on a ladder that does not count points, the points.earned that
        # follows each purchase replayed its member a second time, and one arriving after the member's
        # later purchases (tiers reads points and purchases at two offsets) replayed all their history.
        events = [e for e in events if _can_move(ladder, e) or e.payload.member_id not in kept]
        members = sorted({e.payload.member_id for e in events})
        if not members:
            return
    first: dict[str, datetime] = {}
    for e in events:
        member = e.payload.member_id
        first[member] = min(first.get(member, e.occurred_at), e.occurred_at)
    resume: dict[str, tuple[Checkpoint, Checkpoint | None]] = {}
    for member, k in kept.items():
        since, earlier = _resumes(k, moves.ladder_key, first.get(member))
        if since is not None:
            resume[member] = since, earlier
    starts = {
        m: (resume[m][0].reads_from(ladder), resume[m][0].daily_before) if m in resume else None
        for m in members
    }
    activity = await activity_since(conn, program_id, starts)
    orders = await orders_of(conn, members) if program_id == MAIN else {}  # paid membership is main's
    told = await told_history(conn, program_id, members)
    latest = {e.payload.member_id: e for e in sorted(events, key=lambda e: e.occurred_at)}
    arrived = {str(e.event_id) for e in events}
    saved: dict[str, Kept] = {}
    for member in members:
        mine, theirs = activity.get(member, []), orders.get(member, [])
        old = kept.get(member)
        if theirs:
            moves.plans[member] = theirs[-1].plan
        times = [a.at for a in mine if a.at] + [o.at for o in theirs]
        horizon = max(t for t in (*times, clock, old.settled_until if old else None) if t is not None)
        since, earlier = resume.get(member, (None, None))
        replayed = replay(ladder, mine, theirs, horizon, since, earlier)
        if replayed.standing is None:
            continue
        cause = latest.get(member)
        before = told.get(member, [])
        # Resumed: the changes up to the checkpoint stand as told, the replay tells those after it.
        after = [c for _, c in before if c.at <= since.settled] if since else []
        after += replayed.changes
        revision, said, restated = announce(
            ladder,
            [c for _, c in before],
            after,
            old.revision if old else 0,
            old.restated if old else [],
        )
        same = _common(before, after)
        moves.replaced += [row for row, _ in before[same:]]
        moves.changes += [(member, c) for c in after[same:]]
        for announcement in said:
            moves.announced(member, announcement, cause)
        ran_before = old.settled_until if old else None
        for notice in replayed.notices:
            # Orders tell their own moments; a term running out is told once, when the clock passes it.
            fresh = notice.key in arrived if notice.key else ran_before is None or notice.ends_at > ran_before
            if fresh:
                moves.membership(_NOTICES[notice.kind], member, notice.plan or "vip", notice.ends_at, cause)
        standing = replace(replayed.standing, nudged_for=old.standing.nudged_for if old else None)
        if cause is not None and not isinstance(cause.payload, VipMembership):
            standing = _nudge(moves, member, standing, replayed, cause)
        saved[member] = Kept(
            standing, revision, horizon, restated, replayed.checkpoint, moves.ladder_key, replayed.earlier
        )
    await save_standings(conn, program_id, saved, moves.plans)
    await add_history(conn, program_id, moves.changes, moves.replaced)


def _can_move(ladder: Ladder, event: Envelope[Any]) -> bool:
    """Points count only on a ladder that qualifies by points; on another, a points event is kept (a
    new ladder may count it) and moves no standing."""
    return ladder.metric == "points" or not isinstance(event.payload, PointsGiven | PointsTaken)


def _resumes(
    kept: Kept, ladder_key: str, first: datetime | None
) -> tuple[Checkpoint | None, Checkpoint | None]:
    """The checkpoint to resume at and the earlier one that stays true, if taken under this ladder."""
    if kept.ladder_key != ladder_key:
        return None, None
    return resume_point(kept.checkpoint, kept.earlier, first)


_NOTICES = {"started": MEMBERSHIP_STARTED, "renewed": MEMBERSHIP_RENEWED, "ended": MEMBERSHIP_ENDED}


def _common(before: Sequence[tuple[int, Change]], after: Sequence[Change]) -> int:
    """How many changes at the start of the told history still stand."""
    return next(
        (i for i, ((_, old), new) in enumerate(zip(before, after, strict=False)) if old != new),
        min(len(before), len(after)),
    )


def _nudge(moves: Moves, member: str, standing: Standing, replayed: Replay, cause: Envelope[Any]) -> Standing:
    """Within reach of the next tier after the member's latest event here: tell them, once per tier."""
    ladder, at = moves.ladder, cause.occurred_at
    # The replay's sums (not a second pass over the whole history), at the instant in UTC as the
    # replay itself reads every event: the nudge and the upgrade judge the same value.
    value = replayed.value_at(at.astimezone(UTC))
    standing, near = nudge(ladder, standing, value)
    if near:
        progress = TierProgress(
            program_id=moves.program_id,
            member_id=member,
            tier=standing.tier,
            next_tier=near[0],
            remaining=near[1],
            metric=ladder.metric,
            window_ends=ladder.window(at)[1],
        )
        moves.emit(TIER_PROGRESS, member, progress, cause)
    return standing


# -- the clock ------------------------------------------------------------------------------------


async def review_due(conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime) -> int:
    """Members whose period ended more than the grace period ago, in each program by its own ladder:
    the clock runs to ``now`` for them."""
    reviewed = 0
    for program_id, theirs in sorted((await ladders_of(conn, ladder)).items()):
        members = await due_for_review(conn, program_id, now - timedelta(days=theirs.grace_days), 200)
        reviewed += await _run_clock(conn, Moves(settings, program_id, theirs), members, now)
    return reviewed


async def end_memberships(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime
) -> int:
    ended = await memberships_ended(conn, now, 200)
    return await _run_clock(conn, Moves(settings, MAIN, ladder), [m for m, _ in ended], now)


async def _run_clock(conn: AsyncConnection, moves: Moves, members: list[str], now: datetime) -> int:
    if not members:
        return 0
    await _settle(conn, moves, members, [], now)
    await append(conn, moves.outgoing)
    return len(members)


async def remind_memberships(
    conn: AsyncConnection, settings: TiersSettings, ladder: Ladder, now: datetime
) -> int:
    ending = await memberships_ending(conn, now, now + timedelta(days=settings.tiers_vip_reminder_days), 200)
    moves = Moves(settings, MAIN, ladder)
    for member, plan, until in ending:
        moves.membership(MEMBERSHIP_EXPIRING, member, plan or "vip", until, None)
    if ending:
        await mark_vip_reminded(conn, [m for m, _, _ in ending], now)
        await append(conn, moves.outgoing)
    return len(ending)
