"""What the KPI summary reads of a period: its customers summed by PostgreSQL (``totals_of``), not a row per
customer, equal to the domain's own ``tally`` of the per-customer rows, whatever the period's customers
are: members and not, refunds without a purchase, ties at the top fifth, nets below zero, baskets
without lines, other currencies and stores, last period's buyers who came back or did not."""

from __future__ import annotations

import random
import uuid
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.analytics.domain.kpis import Totals, tally
from services.analytics.store import MIGRATIONS
from services.analytics.store.repository import Scope, customers_between, totals_of
from services.analytics.store.tables import members, purchases, returns
from tests.support import Stack, migrated_engine

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=30)


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


def _expected(customers: Any, before: Any) -> Totals:
    return tally(customers, {c.member_id for c in before if c.purchases > 0})


async def test_a_periods_totals_summed_by_postgresql_are_the_domains_tally_of_its_customers(
    stack: Stack,
) -> None:
    engine = await migrated_engine(stack, "analytics", MIGRATIONS)
    sales, refunds, enrolled = _stream(seed=20)
    try:
        async with engine.begin() as conn:
            await conn.execute(purchases.insert(), sales)
            await conn.execute(returns.insert(), refunds)
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
