"""Property tests of a member's lots: whatever happens, the balance is the sum of the ledger, no lot
goes negative or gives more than it held, and the oldest points go first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.points.domain.wallet import InsufficientPoints, Wallet, points_to_reverse
from services.points.programs.causes.domain import brand_match

T0 = datetime(2026, 1, 1, tzinfo=UTC)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(0, 500)),
        st.tuples(st.just("redeem"), st.integers(1, 700)),
        st.tuples(st.just("reverse"), st.integers(1, 300)),
        st.tuples(st.just("expire"), st.integers(0, 400)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_balance_is_always_the_sum_of_the_ledger_and_no_lot_is_overdrawn(ops: list[tuple[str, int]]) -> None:
    wallet = Wallet("m")
    ledger: list[int] = []
    taken: dict[uuid.UUID, int] = {}
    for day, (op, n) in enumerate(ops):
        now = T0 + timedelta(days=day)
        if op == "earn":
            wallet.credit(uuid.uuid4(), n, now, now + timedelta(days=200))
            ledger.append(n)
            continue
        if op == "redeem":
            try:
                takes = wallet.debit(n)
            except InsufficientPoints:
                continue  # refused: nothing taken, nothing written
            ledger.append(-n)
        elif op == "reverse":
            takes = wallet.debit(n, allow_debt=True)  # the stated policy: negative balance
            ledger.append(-n)
        else:
            takes = wallet.expire(T0 + timedelta(days=n))
            ledger.append(-sum(t.points for t in takes))
        for t in takes:
            taken[t.lot_id] = taken.get(t.lot_id, 0) + t.points
        assert wallet.balance == sum(ledger) == sum(lot.remaining for lot in wallet.lots) - wallet.debt
        assert all(lot.remaining >= 0 for lot in wallet.lots)
        assert all(taken.get(lot.lot_id, 0) + lot.remaining == lot.original for lot in wallet.lots)
        assert wallet.debt >= 0 and (wallet.debt == 0 or all(lot.remaining == 0 for lot in wallet.lots))


def test_oldest_points_are_spent_first_and_a_reversal_starts_with_its_own_lot() -> None:
    wallet = Wallet("m")
    old, new = uuid.uuid4(), uuid.uuid4()
    wallet.credit(old, 100, T0, None)
    wallet.credit(new, 50, T0 + timedelta(days=1), None)
    assert [(t.lot_id, t.points) for t in wallet.debit(120)] == [(old, 100), (new, 20)]
    wallet.credit(uuid.uuid4(), 40, T0 + timedelta(days=2), None)
    assert [(t.lot_id, t.points) for t in wallet.debit(10, first=new)] == [(new, 10)]


def test_points_already_spent_become_debt_that_the_next_earn_pays_first() -> None:
    wallet = Wallet("m")
    wallet.credit(uuid.uuid4(), 100, T0, None)
    wallet.debit(90)
    wallet.debit(60, allow_debt=True)  # a return of a purchase whose points were spent
    assert (wallet.balance, wallet.debt) == (-50, 50)
    assert wallet.credit(uuid.uuid4(), 80, T0, None) == 50
    assert (wallet.balance, wallet.debt) == (30, 0)


def test_a_redemption_beyond_the_balance_is_refused_and_takes_nothing() -> None:
    wallet = Wallet("m")
    wallet.credit(uuid.uuid4(), 30, T0, None)
    with pytest.raises(InsufficientPoints):
        wallet.debit(31)
    assert wallet.balance == 30


@settings(max_examples=300, deadline=None)
@given(
    earned=st.integers(0, 10_000),
    total=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**7), places=2),
    refunds=st.lists(st.decimals(min_value=0, max_value=Decimal(10**7), places=2), max_size=6),
)
def test_partial_returns_never_reverse_more_than_was_earned_and_a_full_return_reverses_all(
    earned: int, total: Decimal, refunds: list[Decimal]
) -> None:
    reversed_, refunded = 0, Decimal(0)
    for refund in refunds:
        refunded += refund
        reversed_ += points_to_reverse(earned, total, refunded, reversed_)
        assert 0 <= reversed_ <= earned
    reversed_ += points_to_reverse(earned, total, total, reversed_)
    assert reversed_ == earned


def test_the_brand_match_rounds_down_and_stops_at_its_budget() -> None:
    assert brand_match(200, Decimal("0.5"), budget_left=150) == 100
    assert brand_match(300, Decimal("0.5"), budget_left=50) == 50
    assert brand_match(3, Decimal("0.5"), budget_left=10) == 1
    assert brand_match(100, Decimal(0), budget_left=10) == 0
    assert brand_match(100, Decimal(2), budget_left=0) == 0
