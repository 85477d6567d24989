"""Set-based reads of the facts: the store sums per customer, the domain decides what the sums mean."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.domain.facts import MAIN
from services.analytics.domain.kpis import TOP_SHARE, Customer, Group, Totals
from services.analytics.domain.segments import LAPSED_SEGMENT, MATRIX, Segment
from services.analytics.store.tables import (
    loyalty_programs,
    member_segments,
    members,
    notifications,
    partner_purchases,
    points_moves,
    promotion_members,
    purchases,
    returns,
    tier_changes,
    vip_orders,
)


@dataclass(frozen=True)
class Scope:
    """Which sales a figure counts: one loyalty program's (main: every chain's) in one currency,
    optionally of one chain, store or segment."""

    currency: str
    chain: str | None = None
    store: str | None = None
    segment: str | None = None
    program: str = MAIN

    def sales(self, table: Table, start: datetime | None, end: datetime) -> ColumnElement[bool]:
        clauses = [table.c.currency == self.currency, table.c.occurred_at < end]
        if start is not None:
            clauses.append(table.c.occurred_at >= start)
        clauses.append(self.program_chains(table.c.chain_id))
        if self.chain:
            clauses.append(table.c.chain_id == self.chain)
        if self.store:
            clauses.append(table.c.store_id == self.store)
        if self.segment:
            clauses.append(self._in_segment(table.c.member_id))
        return and_(*clauses)

    def members(self, column: Any) -> ColumnElement[bool]:
        """For figures kept per member (points, tiers): the chain through the member's enrolment."""
        clauses: list[ColumnElement[bool]] = [literal(True)]
        if self.chain:
            clauses.append(column.in_(select(members.c.member_id).where(members.c.chain_id == self.chain)))
        if self.segment:
            clauses.append(self._in_segment(column))
        return and_(*clauses)

    def program_chains(self, column: Any) -> ColumnElement[bool]:
        """Sales at the program's chains: those it lists, or every chain when it lists none (as points
        has it: a program naming only partner brands is open to every chain)."""
        p = loyalty_programs.c
        return self._listed(column, p.chains, func.cardinality(p.chains) == 0)

    def program_partners(self, column: Any) -> ColumnElement[bool]:
        """A partner brand's purchases: of the partners the program lists, or of every partner when it
        lists neither chains nor partners."""
        p = loyalty_programs.c
        return self._listed(
            column, p.partners, and_(func.cardinality(p.chains) == 0, func.cardinality(p.partners) == 0)
        )

    def _listed(self, column: Any, listed: Any, open_to_all: ColumnElement[bool]) -> ColumnElement[bool]:
        """Read from the program's registry row in the query: no copy of a purchase per program to keep,
        and no dependence on whether a definition or a purchase was consumed first (their topics differ,
        a replay may take them in any order). The program's list as it stands counts its chains' past
        sales too, as the ``chain`` filter does."""
        if self.program == MAIN:
            return true()
        named = loyalty_programs.c.program_id == self.program
        return or_(column.in_(select(func.unnest(listed)).where(named)), exists().where(named, open_to_all))

    def moves(self, table: Table) -> ColumnElement[bool]:
        """Figures kept per program (points moves, tier changes): the program's own."""
        return and_(table.c.program_id == self.program, self.members(table.c.member_id))

    def _in_segment(self, column: Any) -> ColumnElement[bool]:
        """Members in the segment (of the program's): a loyalty x profitability cell or an RFM label."""
        chosen = select(member_segments.c.member_id).where(
            member_segments.c.program_id == self.program,
            (member_segments.c.segment == self.segment) | (member_segments.c.rfm_label == self.segment),
        )
        return column.in_(chosen)  # type: ignore[no-any-return]


def _customers(scope: Scope, start: datetime | None, end: datetime) -> Any:
    """Per customer with a purchase or a refund in [start, end): member_id, purchases, gross, refunds,
    units, baskets (purchases that list their lines), last_at (of a purchase), enrolled."""
    bought = (
        select(
            purchases.c.member_id,
            func.count().label("purchases"),
            func.sum(purchases.c.amount).label("gross"),
            literal(0).label("refunds"),
            func.coalesce(func.sum(purchases.c.units), 0).label("units"),
            func.count(purchases.c.units).label("baskets"),
            func.max(purchases.c.occurred_at).label("last_at"),
        )
        .where(scope.sales(purchases, start, end))
        .group_by(purchases.c.member_id)
    )
    refunded = (
        select(
            returns.c.member_id,
            literal(0),
            literal(0),
            func.sum(returns.c.refund),
            literal(0),
            literal(0),
            literal(None),
        )
        .where(scope.sales(returns, start, end))
        .group_by(returns.c.member_id)
    )
    both = union_all(bought, refunded).subquery()
    return (
        select(
            both.c.member_id,
            func.sum(both.c.purchases).label("purchases"),
            func.sum(both.c.gross).label("gross"),
            func.sum(both.c.refunds).label("refunds"),
            func.sum(both.c.units).label("units"),
            func.sum(both.c.baskets).label("baskets"),
            func.max(both.c.last_at).label("last_at"),
            func.bool_or(members.c.member_id.is_not(None)).label("enrolled"),
        )
        .select_from(both.outerjoin(members, members.c.member_id == both.c.member_id))
        .group_by(both.c.member_id)
    )


async def customers_between(
    conn: AsyncConnection, scope: Scope, start: datetime | None, end: datetime
) -> list[Customer]:
    """Every customer with a purchase or a refund in [start, end), with their sums."""
    rows = await conn.execute(_customers(scope, start, end))
    return [
        Customer(
            member_id=r.member_id,
            purchases=int(r.purchases),
            gross=Decimal(r.gross),
            refunds=Decimal(r.refunds),
            units=Decimal(r.units),
            baskets_with_lines=int(r.baskets),
            enrolled=bool(r.enrolled),
            last_at=r.last_at,
        )
        for r in rows
    ]


async def totals_of(conn: AsyncConnection, scope: Scope, start: datetime, end: datetime) -> Totals:
    """``tally`` of the customers of [start, end), the previous period of its length before it, summed
    by PostgreSQL: the KPI gauges read it every 15 s, and a row per customer would hold the service's
    memory at the program's size."""
    c = _customers(scope, start, end).subquery()
    net = c.c.gross - c.c.refunds
    active = c.c.purchases > 0
    ranked = select(
        c,
        net.label("net"),
        func.row_number().over(partition_by=active, order_by=net.desc()).label("place"),
        func.count().filter(active).over().label("n"),
    ).subquery()
    r = ranked.c
    active, enrolled = r.purchases > 0, r.enrolled
    previous = select(purchases.c.member_id).where(scope.sales(purchases, start - (end - start), start))
    top = func.greatest(1, func.ceil(r.n * literal(TOP_SHARE)))
    sums = {
        "purchases": func.sum(r.purchases),
        "gross": func.sum(r.gross),
        "refunds": func.sum(r.refunds),
        "units": func.sum(r.units),
        "baskets": func.sum(r.baskets),
        "active": func.count().filter(active),
        "repeat": func.count().filter(r.purchases >= 2),
        "active_net": func.sum(r.net).filter(active),
        "top_net": func.sum(r.net).filter(and_(active, r.place <= top)),
        "previous": select(func.count(previous.subquery().c.member_id.distinct())).scalar_subquery(),
        "retained": func.count().filter(and_(active, r.member_id.in_(previous))),
        "members": func.count().filter(and_(active, enrolled)),
        "members_net": func.sum(r.net).filter(and_(active, enrolled)),
        "others": func.count().filter(and_(active, ~enrolled)),
        "others_net": func.sum(r.net).filter(and_(active, ~enrolled)),
    }
    row = (await conn.execute(select(*(func.coalesce(v, 0).label(k) for k, v in sums.items())))).one()
    found = row._mapping
    typed: dict[str, Any] = {
        f.name: int(found[f.name]) if f.type == "int" else Decimal(found[f.name]) for f in fields(Totals)
    }
    return Totals(**typed)


async def totals_between(
    conn: AsyncConnection, scope: Scope, start: datetime, end: datetime
) -> tuple[Decimal, int]:
    """Net revenue in [start, end) and how many customers bought: what ``customers_between`` sums to,
    summed by PostgreSQL. A year's customers are the whole program's: a row each, every time the
    gauges are read, held the service's memory at the program's size."""
    gross = select(
        func.coalesce(func.sum(purchases.c.amount), 0), func.count(purchases.c.member_id.distinct())
    )
    refunded = select(func.coalesce(func.sum(returns.c.refund), 0))
    bought, customers = (await conn.execute(gross.where(scope.sales(purchases, start, end)))).one()
    back = await conn.scalar(refunded.where(scope.sales(returns, start, end)))
    return Decimal(bought) - Decimal(back or 0), int(customers)


async def months_of(conn: AsyncConnection, scope: Scope, end: datetime) -> list[tuple[str, str]]:
    """(member, month of a purchase) for every month each customer bought in, up to ``end``."""
    month = func.to_char(func.timezone("UTC", purchases.c.occurred_at), "YYYY-MM")
    rows = await conn.execute(
        select(purchases.c.member_id, month).where(scope.sales(purchases, None, end)).distinct()
    )
    return [(r[0], r[1]) for r in rows]


async def points_between(
    conn: AsyncConnection, scope: Scope, start: datetime, end: datetime
) -> tuple[dict[str, int], int, int]:
    """Points per kind of move in the period, the partner-funded part, and what members hold at ``end``."""
    in_scope = scope.moves(points_moves)
    rows = await conn.execute(
        select(points_moves.c.kind, func.sum(points_moves.c.points), func.sum(points_moves.c.funded))
        .where(points_moves.c.occurred_at >= start, points_moves.c.occurred_at < end, in_scope)
        .group_by(points_moves.c.kind)
    )
    moves, funded = {}, 0
    for kind, points, paid in rows:
        moves[kind] = int(points)
        funded += int(paid)
    outstanding = await conn.scalar(
        select(func.coalesce(func.sum(points_moves.c.points), 0)).where(
            points_moves.c.occurred_at < end, in_scope
        )
    )
    return moves, funded, int(outstanding or 0)


async def tiers_at(conn: AsyncConnection, scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """How many members are in each tier at ``end``, and the moves between tiers in the period: of
    the changes that stand (a correction voids those it replaces), whatever order they came in."""
    t, c = tier_changes.c, tier_changes.alias("later").c
    void = exists().where(
        c.program_id == t.program_id,
        c.member_id == t.member_id,
        c.revision > t.revision,
        c.corrects_from <= t.effective_from,
    )
    latest = (
        select(t.member_id, t.to_tier)
        .where(t.effective_from < end, scope.moves(tier_changes), ~void)
        .order_by(t.member_id, t.effective_from.desc(), t.revision.desc(), t.event_id)
        .distinct(t.member_id)
        .subquery()
    )
    distribution = await conn.execute(select(latest.c.to_tier, func.count()).group_by(latest.c.to_tier))
    moved = await conn.execute(
        select(tier_changes.c.from_tier, tier_changes.c.to_tier, func.count())
        .where(
            tier_changes.c.effective_from >= start,
            tier_changes.c.effective_from < end,
            scope.moves(tier_changes),
            ~void,
            # A correction may restate the tier held from an instant: that is no move.
            t.from_tier.is_distinct_from(t.to_tier),
        )
        .group_by(tier_changes.c.from_tier, tier_changes.c.to_tier)
        .order_by(tier_changes.c.from_tier, tier_changes.c.to_tier)
    )
    return {
        "distribution": {tier: n for tier, n in sorted(distribution.all())},
        "migration": [{"from": f, "to": t, "members": n} for f, t, n in moved],
    }


async def vip_orders_until(conn: AsyncConnection, scope: Scope, end: datetime) -> list[Any]:
    rows = await conn.execute(
        select(vip_orders)
        .where(
            vip_orders.c.occurred_at < end,
            scope.members(vip_orders.c.member_id),
            scope.program_chains(vip_orders.c.chain_id),
        )
        .order_by(vip_orders.c.occurred_at, vip_orders.c.event_id)
    )
    return list(rows)


async def partners_between(
    conn: AsyncConnection, scope: Scope, start: datetime, end: datetime, partner: str | None
) -> list[dict[str, Any]]:
    clauses = [
        partner_purchases.c.currency == scope.currency,
        partner_purchases.c.occurred_at >= start,
        partner_purchases.c.occurred_at < end,
        scope.members(partner_purchases.c.member_id),
        scope.program_partners(partner_purchases.c.partner_id),
    ]
    if partner:
        clauses.append(partner_purchases.c.partner_id == partner)
    rows = await conn.execute(
        select(
            partner_purchases.c.partner_id,
            func.count(),
            func.sum(partner_purchases.c.amount),
            func.count(partner_purchases.c.member_id.distinct()),
        )
        .where(*clauses)
        .group_by(partner_purchases.c.partner_id)
        .order_by(partner_purchases.c.partner_id)
    )
    return [{"partner_id": p, "purchases": n, "amount": Decimal(a), "members": m} for p, n, a, m in rows]


async def notifications_between(
    conn: AsyncConnection, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    rows = await conn.execute(
        select(notifications.c.channel, notifications.c.status, func.count())
        .where(notifications.c.occurred_at >= start, notifications.c.occurred_at < end)
        .group_by(notifications.c.channel, notifications.c.status)
    )
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in rows:
        out.setdefault(channel, {})[status] = n
    return out


@dataclass(frozen=True)
class SegmentChange:
    member_id: str
    segment: Segment
    previous: str | None  # the segment the member had, None when they had none


async def segment_changes(
    conn: AsyncConnection, scope: Scope, start: datetime, end: datetime, limit: int
) -> list[SegmentChange]:
    """The first ``limit`` members (by id) whose segment in the scope's program is not the one stored:
    ``segments`` (the domain's rules) of the customers who bought in [start, end), and ``LAPSED_SEGMENT``
    for a member stored who is no customer now, computed by PostgreSQL. A row per customer in Python
    held the job's memory at the program's size (44 MB for 38,000 customers)."""
    c = _customers(scope, start, end).subquery()
    bought = (
        select(c.c.member_id, c.c.purchases, (c.c.gross - c.c.refunds).label("net"), c.c.last_at)
        .where(c.c.purchases > 0, c.c.last_at.is_not(None))
        .cte("bought")
    )
    b = bought.c
    n = func.count().over()

    def score(column: Any) -> Any:  # ``_scores``: 1 + 5 x (customers below) // customers
        return 1 + (5 * (func.rank().over(order_by=column) - 1)) // n

    def median(column: Any) -> Any:  # the middle value, or the mean of the middle two (``statistics``)
        place = func.row_number().over(order_by=column).label("place")
        ordered = select(column.label("value"), place, n.label("n")).subquery()
        o = ordered.c
        middle = o.place.in_([(o.n + 1) // 2, (o.n + 2) // 2])
        return select(func.avg(o.value)).where(middle).scalar_subquery()

    scored = select(
        b.member_id,
        b.purchases,
        score(b.last_at).label("r"),
        score(b.purchases).label("f"),
        score(b.net).label("m"),
        (b.purchases >= median(b.purchases)).label("loyal"),
        (b.net >= median(b.net)).label("profitable"),
    ).subquery()
    s = scored.c
    label = case(  # ``rfm_label``, rule for rule
        (and_(s.r >= 4, s.f >= 4, s.m >= 4), "champions"),
        (and_(s.r <= 2, s.f >= 3), "at_risk"),
        (s.f >= 4, "loyal"),
        (and_(s.purchases == 1, s.r >= 4), "new"),
        (s.r <= 2, "hibernating"),
        else_="regular",
    )
    cell = case(*((and_(s.loyal == loyal, s.profitable == rich), v) for (loyal, rich), v in MATRIX.items()))
    fresh = select(
        s.member_id,
        cell.label("segment"),
        func.concat(s.r, s.f, s.m).label("rfm"),
        label.label("rfm_label"),
    ).subquery()
    f = fresh.c
    known = select(member_segments).where(member_segments.c.program_id == scope.program).subquery()
    k = known.c
    segment = func.coalesce(f.segment, LAPSED_SEGMENT.segment)
    rfm = func.coalesce(f.rfm, LAPSED_SEGMENT.rfm)
    rfm_label = func.coalesce(f.rfm_label, LAPSED_SEGMENT.rfm_label)
    member = func.coalesce(f.member_id, k.member_id)
    rows = await conn.execute(
        select(member.label("member_id"), segment, rfm, rfm_label, k.segment)
        .select_from(fresh.outerjoin(known, f.member_id == k.member_id, full=True))
        .where(or_(k.member_id.is_(None), segment != k.segment, rfm != k.rfm, rfm_label != k.rfm_label))
        .order_by(member)
        .limit(limit)
    )
    return [SegmentChange(m, Segment(seg, r, lab), previous) for m, seg, r, lab, previous in rows]


async def segment_counts(conn: AsyncConnection, program: str) -> dict[str, dict[str, int]]:
    rows = await conn.execute(
        select(member_segments.c.segment, member_segments.c.rfm_label, func.count())
        .where(member_segments.c.program_id == program)
        .group_by(member_segments.c.segment, member_segments.c.rfm_label)
    )
    matrix: dict[str, int] = {}
    rfm: dict[str, int] = {}
    for segment, label, n in rows:
        matrix[segment] = matrix.get(segment, 0) + n
        rfm[label] = rfm.get(label, 0) + n
    return {"matrix": dict(sorted(matrix.items())), "rfm": dict(sorted(rfm.items()))}


async def programs(conn: AsyncConnection) -> list[str]:
    """Every loyalty program analytics knows of: main, and each points has told of."""
    defined = await conn.scalars(select(loyalty_programs.c.program_id))
    return sorted({MAIN, *defined})


async def promotion_groups(
    conn: AsyncConnection, scope: Scope, end: datetime, promotion: str | None = None
) -> dict[str, dict[str, Group]]:
    """Per targeted promotion and group: members chosen before ``end``, and their purchases (in the
    scope's currency, chain and store) from their choosing until ``end``."""
    chosen = promotion_members
    bought = and_(
        purchases.c.member_id == chosen.c.member_id,
        purchases.c.occurred_at >= chosen.c.occurred_at,
        purchases.c.currency == scope.currency,
        purchases.c.occurred_at < end,
        scope.program_chains(purchases.c.chain_id),
        *([purchases.c.chain_id == scope.chain] if scope.chain else []),
        *([purchases.c.store_id == scope.store] if scope.store else []),
    )
    clauses = [chosen.c.occurred_at < end, scope.members(chosen.c.member_id)]
    if promotion:
        clauses.append(chosen.c.promotion == promotion)
    rows = await conn.execute(
        select(
            chosen.c.promotion,
            chosen.c.group,
            func.count(chosen.c.member_id.distinct()),
            func.count(purchases.c.member_id.distinct()),
            func.count(purchases.c.event_id),
            func.coalesce(func.sum(purchases.c.amount), 0),
        )
        .select_from(chosen.outerjoin(purchases, bought))
        .where(*clauses)
        .group_by(chosen.c.promotion, chosen.c.group)
    )
    out: dict[str, dict[str, Group]] = {}
    for name, group, members_n, buyers, bought_n, spend in rows:
        out.setdefault(name, {})[group] = Group(members_n, buyers, bought_n, Decimal(spend))
    return out
