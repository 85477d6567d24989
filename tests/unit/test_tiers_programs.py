"""Loyalty programs in tiers: where a qualifying event counts, and a ladder per program that a member
climbs on that program's activity only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from services.tiers.domain import Activity, Ladder, replay
from services.tiers.programs import MAIN, Program, counted_in, registry
from services.tiers.settings import TiersSettings
from services.tiers.views import PointsGiven, PurchaseTotal, ReturnTotal
from shared.contracts import PointsEarned
from shared.contracts.view import View
from tests.support import purchase, refund

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROGRAMS = registry(
    {
        "hyper-club": Program(chains=frozenset({"chain-1"})),
        "closed": Program(chains=frozenset({"chain-1"}), active=False),
        # What points told of main cannot close it here either: main is open to every chain.
        MAIN: Program(chains=frozenset({"nowhere"}), active=False),
    }
)
CLUB = Ladder.model_validate(
    {
        "tiers": [
            {"name": "Member", "threshold": "0"},
            {"name": "Silver", "threshold": "1000", "benefits": {"earn_multiplier": "2"}},
        ]
    }
)
MAIN_LADDER = Ladder.model_validate(
    {
        "tiers": [{"name": "Bronze", "threshold": "0"}, {"name": "Silver", "threshold": "5000"}],
        "vip_tier": "Silver",
    }
)


def _at(chain: str, amount: str) -> object:
    sale = purchase("sara", amount, occurred_at=T0)
    return seen(PurchaseTotal, sale.payload.model_copy(update={"chain_id": chain}))


def seen(view: type[View], payload: BaseModel) -> View:
    """A payload as tiers receives it: decoded through its view."""
    return view.model_validate_json(payload.model_dump_json())


def test_a_purchase_counts_in_main_and_in_each_active_program_listing_its_chain() -> None:
    assert counted_in(PROGRAMS, _at("chain-1", "10"), {}) == ["hyper-club", MAIN]
    assert counted_in(PROGRAMS, _at("chain-2", "10"), {}) == [MAIN]


def test_a_return_lowers_the_spend_where_its_purchase_counted_or_by_its_chain_before_it_arrives() -> None:
    sale = purchase("sara", "100", occurred_at=T0)
    back = seen(ReturnTotal, refund(sale, T0 + timedelta(days=1)).payload)
    # The purchase counted in main only (before the club existed): so does its return.
    assert counted_in(PROGRAMS, back, {sale.event_id: [MAIN]}) == [MAIN]
    assert counted_in(PROGRAMS, back, {}) == ["hyper-club", MAIN]


def test_points_count_in_the_program_they_are_in() -> None:
    sale = purchase("sara", "20", occurred_at=T0)
    earned = PointsEarned(
        program_id="hyper-club", member_id="sara", purchase_event_id=sale.event_id, points=40, balance=40,
        currency="IRR", amount=Decimal(20), rules=[],
    )  # fmt: skip
    assert counted_in(PROGRAMS, seen(PointsGiven, earned), {}) == ["hyper-club"]


def test_a_member_climbs_each_programs_ladder_on_that_programs_activity_only() -> None:
    day = T0.date()
    at_chain_1 = [Activity(day, spend=Decimal(1200), visits=1, at=T0)]
    at_chain_2 = [Activity(day, spend=Decimal(3000), visits=1, at=T0 + timedelta(hours=1))]
    club = replay(CLUB, at_chain_1, [], T0 + timedelta(days=1))
    main = replay(MAIN_LADDER, at_chain_1 + at_chain_2, [], T0 + timedelta(days=1))
    assert club.standing is not None and club.standing.tier == "Silver"  # 1,200 of chain-1 spend
    assert main.standing is not None and main.standing.tier == "Bronze"  # 4,200 of 5,000


def test_paid_vip_membership_is_mains_a_programs_ladder_names_no_vip_tier() -> None:
    assert CLUB.vip_tier is None
    with pytest.raises(ValueError, match="no tier for a paid membership"):
        _ = CLUB.vip
    assert MAIN_LADDER.vip == "Silver"


def test_mains_ladder_from_the_settings_must_name_the_vip_tier(tmp_path: Path) -> None:
    ladder_file = tmp_path / "ladder.json"
    ladder_file.write_text(CLUB.model_dump_json())
    with pytest.raises(ValueError, match="vip_tier"):
        TiersSettings(tiers_ladder_file=str(ladder_file)).ladder()
