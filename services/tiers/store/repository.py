"""Reads and writes of the tiers store, inside the caller's transaction. Standings, history and activity
are per (program, member); paid VIP membership is main's."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, Select, String, and_, bindparam, case, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, Insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tiers.domain import Activity, Change, Checkpoint, Order, Standing
from services.tiers.programs import MAIN
from services.tiers.store.tables import activity_events, history, standings, vip_orders
from shared.store.bulk import any_of, one_of, rows_insert


async def add_events(
    conn: AsyncConnection, activity: Sequence[dict[str, Any]], orders: Sequence[dict[str, Any]]
) -> None:
    """Keep each event at its own instant (a redelivered one is already there)."""
    if activity:
        # A purchase counts once in each program.
        kept, values = rows_insert(
            activity_events,
            activity,
            finish=lambda new: new.on_conflict_do_nothing(index_elements=["event_id", "program_id"]),
        )
        await conn.execute(kept, values)
    if orders:
        kept, values = rows_insert(
            vip_orders, orders, finish=lambda new: new.on_conflict_do_nothing(index_elements=["event_id"])
        )
        await conn.execute(kept, values)


# The reads every batch makes, built once: building and keying a statement cost more of a small batch's
# CPU than running it (the member lists and the program are parameters).
_a, _h, _o, _s = activity_events.c, history.c, vip_orders.c, standings.c
_COUNTED = select(_a.event_id, _a.program_id).where(any_of(_a.event_id, "purchases")).order_by(_a.program_id)
_ORDERS = (
    select(_o.member_id, _o.occurred_at, _o.kind, _o.plan, _o.term_months, _o.event_id)
    .where(any_of(_o.member_id, "members"))
    .order_by(_o.occurred_at, _o.event_id)
)
_STANDINGS = (
    select(standings)
    .where(_s.program_id == bindparam("program_id"), any_of(_s.member_id, "members"))
    .order_by(_s.member_id)
    .with_for_update()
)
_HISTORY = (
    select(_h.id, _h.member_id, _h.from_tier, _h.to_tier, _h.reason, _h.at)
    .where(
        _h.program_id == bindparam("program_id"), any_of(_h.member_id, "members"), _h.replaced_at.is_(None)
    )
    .order_by(_h.id)
)


@cache
def _activity(since: bool, until: bool) -> Select[Any]:
    """The activity read, with the window's bounds it is given: one row per member and instant.

    A purchase and the points it earned are two events at one instant (points dates what it emits at
    the purchase's), and a replay takes an instant's activity together, as one moment, and sums it:
    summed here, half the rows travel, become tuples and are sorted, on every batch that concerns the
    member, for the same replay (``test_activity_summed_per_instant_replays_the_same``)."""
    query = select(
        _a.member_id,
        _a.occurred_at,
        func.sum(_a.spend),
        cast(func.sum(_a.points), BigInteger),  # a bigint's sum is numeric in PostgreSQL
        cast(func.sum(_a.visits), BigInteger),
    ).where(_a.program_id == bindparam("program_id"), any_of(_a.member_id, "members"))
    if since:
        query = query.where(_a.occurred_at >= bindparam("start"))
    if until:
        query = query.where(_a.occurred_at <= bindparam("end"))
    return query.group_by(_a.member_id, _a.occurred_at).order_by(_a.member_id, _a.occurred_at)


async def counted(conn: AsyncConnection, purchases: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The programs each of these purchases counted in (those that arrived)."""
    wanted = sorted(set(purchases))
    if not wanted:  # a batch without returns (most): no round trip
        return {}
    rows = await conn.execute(_COUNTED, {"purchases": wanted})
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for event_id, program_id in rows:
        found[event_id].append(program_id)
    return found


async def activity_between(
    conn: AsyncConnection,
    program_id: str,
    members: Iterable[str],
    start: datetime | None,
    end: datetime | None,
) -> dict[str, list[Activity]]:
    """Each member's qualifying activity in the program (all of it without bounds), an instant's
    summed, oldest first."""
    query = _activity(start is not None, end is not None)
    given = {"program_id": program_id, "members": sorted(set(members)), "start": start, "end": end}
    found: dict[str, list[Activity]] = defaultdict(list)
    for member, at, spend, points, visits in await conn.execute(query, given):
        day = at.date() if at.tzinfo is UTC else at.astimezone(UTC).date()  # asyncpg's are UTC
        found[member].append(Activity(day, spend, points, visits, at))
    return found


# Each member's activity from their own instant (the window their replay resumes on, or all of it),
# summed a UTC day at a time before their ``daily`` instant and an instant at a time after it.
_TIMESTAMPS = ARRAY(DateTime(timezone=True))
_FROM = (
    func.unnest(
        cast(bindparam("members", type_=ARRAY(String)), ARRAY(String)),
        cast(bindparam("starts", type_=_TIMESTAMPS), _TIMESTAMPS),
        cast(bindparam("daily", type_=_TIMESTAMPS), _TIMESTAMPS),
    )
    .table_valued("member_id", "start", "daily")
    .render_derived("wanted")
)
_SUMMED = case(
    (_a.occurred_at < _FROM.c.daily, func.date_trunc("day", _a.occurred_at, "UTC")), else_=_a.occurred_at
)
_LAST = func.max(_a.occurred_at).label("at")  # an instant's own; a summed day's last
_SINCE = (
    select(
        _a.member_id,
        _LAST,
        func.sum(_a.spend),
        cast(func.sum(_a.points), BigInteger),
        cast(func.sum(_a.visits), BigInteger),
    )
    .select_from(
        _FROM.join(activity_events, and_(_a.member_id == _FROM.c.member_id, _a.occurred_at >= _FROM.c.start))
    )
    .where(_a.program_id == bindparam("program_id"))
    .group_by(_a.member_id, _SUMMED)
    .order_by(_a.member_id, _LAST)
)
_EVER = datetime.min.replace(tzinfo=UTC)


async def activity_since(
    conn: AsyncConnection, program_id: str, starts: dict[str, tuple[datetime, datetime] | None]
) -> dict[str, list[Activity]]:
    """``activity_between`` for many members, each from their own instant, the days before the second
    instant given summed a day to a row, at the day's last instant (``by_day``); None: all of it, an
    instant to a row."""
    members = sorted(starts)
    bounds = [starts[m] or (_EVER, _EVER) for m in members]
    given = {
        "program_id": program_id,
        "members": members,
        "starts": [start for start, _ in bounds],
        "daily": [daily for _, daily in bounds],
    }
    found: dict[str, list[Activity]] = defaultdict(list)
    for member, at, spend, points, visits in await conn.execute(_SINCE, given):
        day = at.date() if at.tzinfo is UTC else at.astimezone(UTC).date()  # asyncpg's are UTC
        found[member].append(Activity(day, spend, points, visits, at))
    return found


async def orders_of(conn: AsyncConnection, members: Iterable[str]) -> dict[str, list[Order]]:
    rows = await conn.execute(_ORDERS, {"members": sorted(set(members))})
    found: dict[str, list[Order]] = defaultdict(list)
    for member, at, kind, plan, term, event_id in rows:
        found[member].append(Order(at, kind, plan, term, str(event_id)))
    return found


@dataclass(frozen=True)
class Kept:
    """A member's stored standing, the revision of what was told about it, how far the clock ran, and
    where the next replay can resume (under the ladder ``ladder_key`` names)."""

    standing: Standing
    revision: int = 0
    settled_until: datetime | None = None
    restated: list[datetime] = field(default_factory=list)  # restatements told and not voided since
    checkpoint: Checkpoint | None = None
    ladder_key: str = ""
    earlier: Checkpoint | None = None  # for an event before ``checkpoint`` (``replay``)


async def load_standings(conn: AsyncConnection, program_id: str, members: Iterable[str]) -> dict[str, Kept]:
    rows = await conn.execute(_STANDINGS, {"program_id": program_id, "members": sorted(set(members))})
    kept = {}
    for r in rows:
        kept[r.member_id] = Kept(
            Standing(r.tier, r.since, r.review_at, r.vip_until, r.nudged_for),
            r.revision,
            r.settled_until,
            [datetime.fromisoformat(at) for at in r.restated],
            *_checkpoints_read(r.checkpoint),
        )
    return kept


def _checkpoints_read(
    value: dict[str, Any] | None,
) -> tuple[Checkpoint | None, str, Checkpoint | None]:
    """``_checkpoint_kept`` read back: the checkpoint, the ladder's key, the earlier checkpoint."""
    if not value:
        return None, "", None
    earlier = value.get("earlier")
    return _checkpoint(value), value["ladder"], _checkpoint(earlier) if earlier else None


def _checkpoint(kept: dict[str, Any]) -> Checkpoint:
    at = {k: datetime.fromisoformat(kept[k]) for k in ("at", "settled", "since", "review_at")}
    until = kept["vip_until"]
    standing = Standing(
        kept["tier"], at["since"], at["review_at"], datetime.fromisoformat(until) if until else None
    )
    return Checkpoint(at["at"], at["settled"], standing, kept["plan"])


def _checkpoint_kept(kept: Kept) -> dict[str, Any] | None:
    """The checkpoint, the ladder it was taken under and the earlier checkpoint, as one JSON value
    (a checkpoint kept before the earlier one was has none: the next replay makes it)."""
    if kept.checkpoint is None:
        return None
    earlier = kept.earlier if kept.earlier is not None and kept.earlier != kept.checkpoint else None
    return {
        **_checkpoint_fields(kept.checkpoint),
        "ladder": kept.ladder_key,
        "earlier": _checkpoint_fields(earlier) if earlier is not None else None,
    }


def _checkpoint_fields(checkpoint: Checkpoint) -> dict[str, Any]:
    s = checkpoint.standing
    return {
        "at": checkpoint.at.isoformat(), "settled": checkpoint.settled.isoformat(), "tier": s.tier,
        "since": s.since.isoformat(), "review_at": s.review_at.isoformat(),
        "vip_until": s.vip_until.isoformat() if s.vip_until else None, "plan": checkpoint.plan,
    }  # fmt: skip


async def save_standings(
    conn: AsyncConnection, program_id: str, found: dict[str, Kept], plans: dict[str, str]
) -> None:
    if not found:
        return
    upsert, rows = rows_insert(
        standings,
        [
            {
                "program_id": program_id,
                "member_id": m,
                "tier": k.standing.tier,
                "since": k.standing.since,
                "review_at": k.standing.review_at,
                "vip_until": k.standing.vip_until,
                "nudged_for": k.standing.nudged_for,
                "revision": k.revision,
                "settled_until": k.settled_until,
                "restated": [at.isoformat() for at in k.restated],
                "checkpoint": _checkpoint_kept(k),
                **({"vip_plan": plans.get(m)} if plans else {}),
            }
            for m, k in sorted(found.items())
        ],
        finish=_standing_kept_with_plan if plans else _standing_kept,
    )
    await conn.execute(upsert, rows)


_STANDING = (
    *("tier", "since", "review_at", "vip_until", "nudged_for"),
    *("revision", "settled_until", "restated", "checkpoint"),
)


def _standing_kept(upsert: Insert) -> Insert:
    return upsert.on_conflict_do_update(
        index_elements=[standings.c.program_id, standings.c.member_id],
        set_={k: upsert.excluded[k] for k in _STANDING},
    )


def _standing_kept_with_plan(upsert: Insert) -> Insert:
    return upsert.on_conflict_do_update(
        index_elements=[standings.c.program_id, standings.c.member_id],
        set_={k: upsert.excluded[k] for k in (*_STANDING, "vip_plan")},
    )


async def told_history(
    conn: AsyncConnection, program_id: str, members: Iterable[str]
) -> dict[str, list[tuple[int, Change]]]:
    """Each member's history in the program as it stands (rows a correction replaced left out), with
    the row ids."""
    rows = await conn.execute(_HISTORY, {"program_id": program_id, "members": sorted(set(members))})
    found: dict[str, list[tuple[int, Change]]] = defaultdict(list)
    for row_id, member, from_tier, to_tier, reason, at in rows:
        found[member].append((row_id, Change(from_tier, to_tier, reason, at)))
    return found


async def add_history(
    conn: AsyncConnection,
    program_id: str,
    changes: Sequence[tuple[str, Change]],
    replaced: Sequence[int] = (),
) -> None:
    """Append changes; ``replaced`` rows stay for the record but leave the history."""
    if replaced:
        await conn.execute(
            history.update().where(one_of(history.c.id, sorted(replaced))).values(replaced_at=func.now())
        )
    if changes:
        rows = [
            {
                "program_id": program_id,
                "member_id": m,
                "from_tier": c.from_tier,
                "to_tier": c.to_tier,
                "reason": c.reason,
                "at": c.at,
            }
            for m, c in changes
        ]
        await conn.execute(*rows_insert(history, rows))


async def due_for_review(
    conn: AsyncConnection, program_id: str, reviewed_before: datetime, limit: int
) -> list[str]:
    s = standings.c
    rows = await conn.execute(
        select(s.member_id).where(s.program_id == program_id, s.review_at <= reviewed_before).limit(limit)
    )
    return list(rows.scalars())


async def memberships_ended(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, str | None]]:
    rows = await conn.execute(
        select(standings.c.member_id, standings.c.vip_plan)
        .where(standings.c.program_id == MAIN, standings.c.vip_until <= now)
        .limit(limit)
    )
    return [(m, p) for m, p in rows]


async def memberships_ending(
    conn: AsyncConnection, now: datetime, until: datetime, limit: int
) -> list[tuple[str, str | None, datetime]]:
    rows = await conn.execute(
        select(standings.c.member_id, standings.c.vip_plan, standings.c.vip_until)
        .where(
            standings.c.program_id == MAIN,
            standings.c.vip_until > now,
            standings.c.vip_until <= until,
            standings.c.vip_reminded_at.is_(None),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(m, p, u) for m, p, u in rows]


async def mark_vip_reminded(conn: AsyncConnection, members: list[str], now: datetime) -> None:
    await conn.execute(
        standings.update()
        .where(standings.c.program_id == MAIN, one_of(standings.c.member_id, members))
        .values(vip_reminded_at=now)
    )


async def standing_of(conn: AsyncConnection, program_id: str, member: str) -> Any:
    s = standings.c
    return (
        await conn.execute(select(standings).where(s.program_id == program_id, s.member_id == member))
    ).first()


async def standings_of(conn: AsyncConnection, member: str) -> dict[str, Any]:
    """The member's standing in each program they have one in."""
    rows = await conn.execute(
        select(standings).where(standings.c.member_id == member).order_by(standings.c.program_id)
    )
    return {r.program_id: r for r in rows}


async def history_of(
    conn: AsyncConnection, program_id: str, member: str, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    h = history.c
    rows = await conn.execute(
        select(h.from_tier, h.to_tier, h.reason, h.at)
        .where(h.program_id == program_id, h.member_id == member, h.replaced_at.is_(None))
        .order_by(h.id)
        .offset(offset)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def activity_row(
    event_id: uuid.UUID,
    program_id: str,
    member: str,
    at: datetime,
    *,
    spend: Decimal = Decimal(0),
    points: int = 0,
    visits: int = 0,
) -> dict[str, Any]:
    return {
        "event_id": event_id, "program_id": program_id, "member_id": member, "occurred_at": at,
        "spend": spend, "points": points, "visits": visits,
    }  # fmt: skip


def order_row(
    event_id: uuid.UUID, member: str, at: datetime, kind: str, plan: str, term: int
) -> dict[str, Any]:
    return {
        "event_id": event_id, "member_id": member, "occurred_at": at, "kind": kind, "plan": plan,
        "term_months": term,
    }  # fmt: skip
