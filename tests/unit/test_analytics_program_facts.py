"""Loyalty programs in analytics' pure code: which program each fact is, and each program's figures from
its own facts, on small cases worked by hand."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka.structs import ConsumerRecord

from services.analytics.domain.facts import fact_of
from services.analytics.domain.kpis import Customer, points_economics, summary, tally
from services.analytics.handlers import CONSUMES
from shared.consumer import ContractDecoder
from shared.contracts import (
    LOYALTY_PROGRAM_DEFINED,
    POINTS_EARNED,
    POINTS_EXPIRED,
    POINTS_REVERSED,
    PROGRAM_ENDED,
    PURCHASE_RECORDED,
    TIER_CHANGED,
    Contract,
    Envelope,
    LineItem,
    LoyaltyProgramDefined,
    PointsEarned,
    PointsExpired,
    PointsReversed,
    ProgramEnded,
    PurchaseRecorded,
    TierBenefits,
    TierChanged,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
_READS = ContractDecoder(CONSUMES)


def _event(contract: Contract[Any], payload: Any) -> Envelope[Any]:
    """The event as analytics receives it: through its decoder (and so its views)."""
    envelope = contract.envelope(key="sara", producer="test", occurred_at=T0, payload=payload)
    record = ConsumerRecord(contract.topic, 0, 0, 0, 0, b"sara", envelope.to_bytes(), None, 0, 0, [])
    decoded = _READS(record)
    assert isinstance(decoded, Envelope), decoded
    return decoded


def _earned(points: int, **program: str) -> Envelope[Any]:
    payload = PointsEarned(
        member_id="sara", purchase_event_id=uuid.uuid4(), points=points, balance=points, currency="IRR",
        amount=Decimal(1000), rules=[], **program,
    )  # fmt: skip
    return _event(POINTS_EARNED, payload)


def _reversed(points: int, **program: str) -> Envelope[Any]:
    payload = PointsReversed(
        member_id="sara", return_event_id=uuid.uuid4(), purchase_event_id=uuid.uuid4(), points=points,
        refund_amount=Decimal(500), balance=0, **program,
    )  # fmt: skip
    return _event(POINTS_REVERSED, payload)


def test_a_time_limited_programs_settlement_counts_in_the_loyalty_program_it_ended() -> None:
    def ended(**program: str) -> Any:
        payload = ProgramEnded(member_id="sara", program_id="yalda", name="Yalda", points=300,
                               offer="tote bag", kind="free_item", value="", code="C", **program)  # fmt: skip
        return fact_of(_event(PROGRAM_ENDED, payload))

    club, main = ended(loyalty_program="hyper-club"), ended()
    assert (club.row["program_id"], club.row["points"]) == ("hyper-club", -300)
    assert (main.row["program_id"], main.row["points"]) == ("main", -300)


def test_a_points_move_is_its_programs_and_one_from_before_programs_is_mains() -> None:
    club = fact_of(_earned(2000, program_id="hyper-club"))
    old = fact_of(_event(POINTS_EXPIRED, PointsExpired(member_id="sara", points=5, balance=0)))
    assert club is not None and old is not None
    assert (club.row["program_id"], club.row["points"]) == ("hyper-club", 2000)
    assert (old.row["program_id"], old.row["points"]) == ("main", -5)


class _LadderTierChanged(TierChanged):
    """tier.changed as tiers will send it with a ladder per program."""

    program_id: str = "main"


def test_a_tier_change_is_mains_until_tiers_names_its_ladders_program() -> None:
    change: dict[str, Any] = {
        "member_id": "sara", "from_tier": "Bronze", "to_tier": "Silver", "reason": "qualified",
        "benefits": TierBenefits(), "effective_from": T0, "review_at": None,
    }  # fmt: skip
    today = fact_of(_event(TIER_CHANGED, TierChanged(**change)))
    laddered = fact_of(_event(TIER_CHANGED, _LadderTierChanged(**change, program_id="hyper-club")))
    assert today is not None and laddered is not None
    assert (today.row["program_id"], laddered.row["program_id"]) == ("main", "hyper-club")


def test_a_programs_definition_is_its_registry_row_which_the_next_one_replaces() -> None:
    defined = LoyaltyProgramDefined(
        program_id="hyper-club", name="Hyperstar club", chains=["chain-2", "chain-1"], partners=["snapp"]
    )
    fact = fact_of(_event(LOYALTY_PROGRAM_DEFINED, defined))
    assert fact is not None and fact.table == "loyalty_programs" and fact.replaces == "program_id"
    assert fact.row == {
        "program_id": "hyper-club",
        "name": "Hyperstar club",
        "chains": ["chain-1", "chain-2"],
        "partners": ["snapp"],
        "active": True,
        "defined_at": T0,
    }


def test_each_programs_points_economics_come_from_its_own_moves_only() -> None:
    """A purchase of 1,000 earning in main at 1 point a rial and in the club at 2, half of it returned."""
    stream: list[Envelope[Any]] = [
        _earned(1000),
        _earned(2000, program_id="hyper-club"),
        _reversed(500),
        _reversed(1000, program_id="hyper-club"),
    ]
    moves: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in stream:
        fact = fact_of(event)
        assert fact is not None
        moves[fact.row["program_id"]][fact.row["kind"]] += fact.row["points"]
    main = points_economics(moves["main"], 0, sum(moves["main"].values()))
    club = points_economics(moves["hyper-club"], 0, sum(moves["hyper-club"].values()))
    assert (main["issued"], main["reversed"], main["outstanding_liability"]) == (1000, 500, 500)
    assert (club["issued"], club["reversed"], club["outstanding_liability"]) == (2000, 1000, 1000)


def test_a_member_in_both_programs_can_be_retained_in_one_and_lost_to_the_other() -> None:
    """Sara and Lena bought at chain-1 (in both programs) last period; this one Sara bought there again,
    Lena only at chain-2 (main's alone)."""

    def buyer(member: str, gross: int) -> Customer:
        return Customer(member, 1, Decimal(gross), Decimal(0), Decimal(0), 0, False)

    def figures(customers: list[Customer]) -> dict[str, Any]:
        return summary(
            tally(customers, previous={"sara", "lena"}),
            year_net=Decimal(0),
            year_customers=0,
            margin=Decimal("0.25"),
            period_discount=Decimal("0.01"),
        )

    main = figures([buyer("sara", 600), buyer("lena", 700)])
    club = figures([buyer("sara", 600)])
    assert (main["N"], main["V"], main["retention_rate"]) == (2, Decimal("650.00"), Decimal("1.0000"))
    assert (club["N"], club["V"], club["churn_rate"]) == (1, Decimal("600.00"), Decimal("0.5000"))


def test_a_purchase_read_through_analytics_view_is_one_fact_with_its_units_and_amount() -> None:
    lines = [
        LineItem(
            sku="tea", category="food", quantity=Decimal(2), unit_price=Decimal(100), amount=Decimal(200)
        ),
        LineItem(
            sku="rice", category="food", quantity=Decimal("1.5"), unit_price=Decimal(60), amount=Decimal(90)
        ),
    ]
    sale = PurchaseRecorded(
        chain_id="chain-1", store_id="store-7", receipt_no="r-1", member_id="sara", channel="online",
        currency="IRR", lines=lines, total_amount=Decimal(290),
    )  # fmt: skip
    fact = fact_of(_event(PURCHASE_RECORDED, sale))
    assert fact is not None and fact.table == "purchases"
    assert {k: fact.row[k] for k in ("member_id", "chain_id", "store_id", "channel", "amount", "units")} == {
        "member_id": "sara", "chain_id": "chain-1", "store_id": "store-7", "channel": "online",
        "amount": Decimal(290), "units": Decimal("3.5"),
    }  # fmt: skip
    bare = fact_of(_event(PURCHASE_RECORDED, sale.model_copy(update={"lines": []})))
    assert bare is not None and bare.row["units"] is None  # no basket sent: units unknown, not 0


def test_an_earn_read_through_analytics_view_counts_what_partners_funded() -> None:
    payload = PointsEarned(
        member_id="sara", purchase_event_id=uuid.uuid4(), points=300, balance=300, currency="IRR",
        amount=Decimal(1000), rules=[], partner_points={"snapp-nowruz": 120, "digikala": 30},
    )  # fmt: skip
    fact = fact_of(_event(POINTS_EARNED, payload))
    assert fact is not None
    assert (fact.row["kind"], fact.row["points"], fact.row["funded"]) == ("earned", 300, 150)
