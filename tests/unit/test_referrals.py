"""Referral rules by hand: refusals, which purchase clears, and when a referral lapses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.points.programs.referrals.domain import (
    Purchase,
    ReferralProgram,
    cleared_purchase,
    lapsed,
    refusal,
)

PROGRAM = ReferralProgram(
    referrer_points=500, friend_points=200, minimum_purchase={"IRR": Decimal(500)}, return_window_days=14,
    qualify_within_days=30,
)  # fmt: skip
JOINED = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def bought(days: int, amount: str, refunded: str = "0", currency: str = "IRR") -> Purchase:
    return Purchase(uuid.uuid4(), JOINED + days * DAY, currency, Decimal(amount), Decimal(refunded))


def test_a_code_that_is_unknown_the_members_own_or_leads_back_to_the_friend_is_refused() -> None:
    assert refusal("ben", "ava", []) is None
    assert refusal("ben", None, []) == "unknown referral code"
    assert "self-referral" in (refusal("ben", "ben", []) or "")
    assert "loop" in (refusal("ava", "carl", ["ben", "ava"]) or "")


def test_the_first_qualifying_purchase_counts_once_its_return_window_has_passed() -> None:
    small, kept, later = bought(1, "300"), bought(2, "600"), bought(3, "900")
    assert cleared_purchase(PROGRAM, JOINED, [later, small, kept], JOINED + 15 * DAY) is None  # 2 + 14 > 15
    found = cleared_purchase(PROGRAM, JOINED, [later, small, kept], JOINED + 16 * DAY)
    assert found is not None and found.purchase is kept and found.at == JOINED + 16 * DAY


def test_a_purchase_returned_below_the_minimum_before_enrolment_or_too_late_does_not_qualify() -> None:
    returned = bought(1, "600", refunded="200")  # 400 kept
    before = bought(-1, "900")
    late = bought(31, "900")
    dollars = bought(2, "900", currency="USD")
    now = JOINED + 100 * DAY
    assert cleared_purchase(PROGRAM, JOINED, [returned, before, late, dollars], now) is None
    assert lapsed(PROGRAM, JOINED, JOINED + 44 * DAY) and not lapsed(PROGRAM, JOINED, JOINED + 43 * DAY)


def test_a_program_that_gives_nothing_or_names_an_unknown_currency_is_refused() -> None:
    with pytest.raises(ValidationError, match="gives points"):
        ReferralProgram(referrer_points=0, friend_points=0, minimum_purchase={"IRR": 1}, return_window_days=7)
    with pytest.raises(ValidationError, match="unknown currencies"):
        ReferralProgram(referrer_points=1, friend_points=0, minimum_purchase={"XXX": 1}, return_window_days=7)
