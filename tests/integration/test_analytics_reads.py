"""What the KPI summary reads of a period: its customers summed by PostgreSQL (``totals_of``), not a row per
customer, equal to the domain's own ``tally`` of the per-customer rows, whatever the period's customers
are: members and not, refunds without a purchase, ties at the top fifth, nets below zero, baskets
without lines, other currencies and stores, last period's buyers who came back or did not.

The segments job's read likewise (``segment_changes``): the domain's ``segments`` of the same customers,
computed by PostgreSQL, against what is stored; and the job's rounds, each at most a few members, that
tell each member whose segment moved once."""

from __future__ import annotations

import random
import uuid
from dataclasses import astuple, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.analytics import jobs
from services.analytics.domain.kpis import Totals, tally
from services.analytics.domain.segments import LAPSED_SEGMENT, Segment, segments
from services.analytics.figures import YEAR
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import MIGRATIONS
from services.analytics.store.repository import (
    Scope,
    SegmentChange,
    customers_between,
    segment_changes,
    totals_of,
)
from services.analytics.store.tables import member_segments, members, purchases, returns
from shared.service import run_job_round
from shared.store.core_tables import OUTBOX
from tests.support import Stack, migrated_engine, store_settings

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=30)
TWO_PERIODS = START - timedelta(days=30)  # the start of last period's


def _sale(rnd: random.Random, member: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "member_id": member,
        "chain_id": "hyperstar",
        "store_id": rnd.choice(["s1", "s1", "s2"]),
        "channel": "pos",
        "currency": rnd.choice(["IRR"] * 9 + ["EUR"]),
        # Few amounts, so nets tie at the top fifth's edge.
        "amount": Decimal(rnd.choice([100, 250, 250, 1000])),
        "units": rnd.choice([None, Decimal("1.5"), Decimal(3)]),
        "occurred_at": at,
    }


def _refund(rnd: random.Random, sale: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "member_id": sale["member_id"],
        "chain_id": "hyperstar",
        "store_id": sale["store_id"],
        "currency": sale["currency"],
        "refund": sale["amount"] * rnd.choice([Decimal(1), Decimal("0.5"), Decimal(2)]),  # 2: below zero
        "original_event_id": sale["event_id"],
        "occurred_at": at,
    }


def _stream(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """300 customers over two periods of 30 days: last period's and this one's."""
    rnd = random.Random(seed)
    sales, refunds = [], []
    for i in range(300):
        member = f"m{i}"
        for period in (START - timedelta(days=30), START):
            for _ in range(rnd.choice([0, 0, 1, 1, 2, 4])):
                at = period + timedelta(minutes=rnd.randrange(30 * 24 * 60))
                sales.append(sale := _sale(rnd, member, at))
                if rnd.random() < 0.15:
                    # Sometimes in the next period: a customer of this one with a refund and no purchase.
                    refunds.append(_refund(rnd, sale, at + timedelta(days=rnd.randrange(0, 40))))
    enrolled = [
        {"member_id": f"m{i}", "chain_id": "hyperstar", "enrolled_at": START - timedelta(days=90)}
        for i in range(0, 300, 3)
    ]
    return sales, refunds, enrolled


async def _store_with_sales(stack: Stack, seed: int) -> tuple[AsyncEngine, list[dict[str, Any]]]:
    """A migrated analytics store holding ``_stream(seed)``'s purchases and refunds, and its members to
    enrol (the caller disposes of the engine)."""
    engine = await migrated_engine(stack, "analytics", MIGRATIONS)
    sales, refunds, enrolled = _stream(seed)
    async with engine.begin() as conn:
        await conn.execute(purchases.insert(), sales)
        await conn.execute(returns.insert(), refunds)
    return engine, enrolled


def _expected(customers: Any, before: Any) -> Totals:
    return tally(customers, {c.member_id for c in before if c.purchases > 0})


async def test_a_periods_totals_summed_by_postgresql_are_the_domains_tally_of_its_customers(
    stack: Stack,
) -> None:
    engine, enrolled = await _store_with_sales(stack, seed=20)
    try:
        async with engine.begin() as conn:
            await conn.execute(members.insert(), enrolled)
        async with engine.connect() as conn:
            read = {}
            for scope in (Scope("IRR"), Scope("IRR", store="s1"), Scope("EUR")):
                customers = await customers_between(conn, scope, START, END)
                before = await customers_between(conn, scope, START - (END - START), START)
                summed = await totals_of(conn, scope, START, END)
                assert summed == _expected(customers, before), scope
                read[scope] = customers, summed
            nobody = await totals_of(conn, Scope("IRR"), END + timedelta(days=90), END + timedelta(days=120))
    finally:
        await engine.dispose()
    customers, whole = read[Scope("IRR")]
    # Not a vacuous match: members and not, refunds without a purchase, nets below zero, ties at the
    # top fifth's edge and last period's customers, some back, are all there.
    assert whole.active > 100 and 0 < whole.members < whole.active and whole.others > 0
    assert 0 < whole.retained < whole.previous and whole.baskets < whole.purchases
    assert any(c.purchases == 0 for c in customers) and any(c.net < 0 < c.purchases for c in customers)
    nets = sorted((c.net for c in customers if c.purchases), reverse=True)
    edge = -(-len(nets) // 5)  # ceil(20%)
    assert nets[edge - 1] == nets[edge] and whole.top_net == sum(nets[:edge])
    assert all(v == 0 for v in astuple(nobody))


async def _store_segments(conn: Any, seed: int, start: datetime) -> None:
    """Segments stored before the job runs: right for some of [start, END)'s customers in IRR, right
    but for the label for others, wrong for more, and for members who bought nothing in the window,
    lapsed already or not yet."""
    rnd = random.Random(seed)
    right = (await _expected_changes(conn, Scope("IRR"), start)).values()
    guesses = [Segment("true_friends", "555", "champions"), Segment("strangers", "111", "hibernating")]
    stored = []
    for change in right:
        other_label = "loyal" if change.segment.rfm_label != "loyal" else "regular"
        choices = [change.segment, replace(change.segment, rfm_label=other_label), *guesses, LAPSED_SEGMENT]
        if rnd.random() < 0.7:
            stored.append({"member_id": change.member_id, **rnd.choice(choices).__dict__})
    stored += [
        {"member_id": f"gone{i}", **rnd.choice([*guesses, LAPSED_SEGMENT]).__dict__} for i in range(20)
    ]
    await conn.execute(
        member_segments.insert(), [{**r, "program_id": "main", "as_of": START} for r in stored]
    )


async def _expected_changes(conn: Any, scope: Scope, start: datetime = START) -> dict[str, SegmentChange]:
    """The job's changes by the domain's rules: ``segments`` of [start, END)'s customers, row by row."""
    customers = await customers_between(conn, scope, start, END)
    fresh = segments(
        [(c.member_id, c.purchases, c.net, c.last_at) for c in customers if c.purchases and c.last_at]
    )
    known = {
        r.member_id: Segment(r.segment, r.rfm, r.rfm_label)
        for r in await conn.execute(
            select(member_segments).where(member_segments.c.program_id == scope.program)
        )
    }
    for member in known.keys() - fresh.keys():
        fresh[member] = LAPSED_SEGMENT
    return {
        m: SegmentChange(m, s, known[m].segment if m in known else None)
        for m, s in fresh.items()
        if known.get(m) != s
    }


async def test_segments_computed_by_postgresql_are_the_domains_segments_of_its_customers(
    stack: Stack,
) -> None:
    engine, _ = await _store_with_sales(stack, seed=21)
    try:
        async with engine.begin() as conn:
            await _store_segments(conn, seed=3, start=TWO_PERIODS)
        async with engine.connect() as conn:
            sizes, changes = {}, []
            for scope in (Scope("IRR"), Scope("EUR"), Scope("IRR", store="s1"), Scope("IRR", store="s2")):
                expected = await _expected_changes(conn, scope, TWO_PERIODS)
                found = await segment_changes(conn, scope, TWO_PERIODS, END, limit=10_000)
                assert {c.member_id: c for c in found} == expected, scope
                changes += found
                assert [c.member_id for c in found] == sorted(expected)  # one order, rounds after rounds
                customers = await customers_between(conn, scope, TWO_PERIODS, END)
                sizes[scope] = len([c for c in customers if c.purchases])
                first = await segment_changes(conn, scope, TWO_PERIODS, END, limit=5)
                assert first == found[:5]
    finally:
        await engine.dispose()
    # Not a vacuous match: even and odd counts of customers (a median of one value or the mean of two),
    # and every kind of change there is.
    assert {n % 2 for n in sizes.values()} == {0, 1}, sizes
    assert any(c.previous is None for c in changes) and any(c.segment == LAPSED_SEGMENT for c in changes)
    assert {c.segment.segment for c in changes} >= {"true_friends", "butterflies", "barnacles", "strangers"}
    assert {c.segment.rfm_label for c in changes} >= {"champions", "at_risk", "loyal", "new", "hibernating"}


async def test_the_segments_job_tells_of_each_member_whose_segment_moved_once_a_few_a_round(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = await _store_with_sales(stack, seed=22)
    settings = AnalyticsSettings(**store_settings(stack, "analytics").model_dump(), analytics_currency="IRR")
    monkeypatch.setattr(jobs, "SEGMENTS_A_ROUND", 7)
    job = next(j for j in jobs.analytics_jobs(settings) if j.name == "segments")
    try:
        async with engine.begin() as conn:
            await _store_segments(conn, seed=4, start=END - YEAR)
        async with engine.connect() as conn:
            expected = await _expected_changes(conn, Scope("IRR"), END - YEAR)
        changed = await run_job_round(engine, job, END)
        async with engine.connect() as conn:
            told = [orjson.loads(v)["payload"] for v in await conn.scalars(select(OUTBOX.c.value))]
            stored = {
                r.member_id: Segment(r.segment, r.rfm, r.rfm_label)
                for r in await conn.execute(select(member_segments))
            }
            again = await _expected_changes(conn, Scope("IRR"), END - YEAR)
    finally:
        await engine.dispose()
    assert changed == len(expected) > 7 * 5  # many rounds
    assert sorted(t["member_id"] for t in told) == sorted(expected)  # each once
    for t in told:
        change = expected[t["member_id"]]
        assert (t["segment"], t["rfm"], t["rfm_label"]) == astuple(change.segment)
        assert t["previous_segment"] == change.previous
        assert stored[t["member_id"]] == change.segment
    assert again == {}
