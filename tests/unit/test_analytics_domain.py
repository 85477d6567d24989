"""The meaning of the program's figures, on small cases worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from services.analytics.domain.kpis import (
    Customer,
    Group,
    clv,
    cohort_retention,
    points_economics,
    promotion_lift,
    summary,
    tally,
    vip_at,
)
from services.analytics.domain.segments import rfm_label, segments

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def customer(member: str, purchases: int, gross: str, refunds: str = "0", enrolled: bool = True) -> Customer:
    return Customer(
        member, purchases, Decimal(gross), Decimal(refunds), Decimal(purchases * 2), purchases, enrolled
    )


def test_nvfs_and_friends_by_their_definitions() -> None:
    figures = summary(
        tally(
            [
                customer("a", 3, "300"),
                customer("b", 1, "100", refunds="40"),
                customer("c", 0, "0", refunds="10", enrolled=False),
            ],
            previous={"a", "z"},
        ),
        year_net=Decimal(1000),
        year_customers=4,
        margin=Decimal("0.25"),
        period_discount=Decimal("0.01"),
    )
    assert figures["N"] == 2  # c only returned something: not active
    assert figures["net_revenue"] == Decimal(350)
    assert figures["V"] == Decimal("175.00")
    assert figures["F"] == Decimal("2.0000")
    assert figures["S"] == Decimal("2.0000")
    assert figures["average_transaction_value"] == Decimal("100.00")
    assert figures["repeat_purchase_rate"] == Decimal("0.5000")
    assert (figures["retention_rate"], figures["churn_rate"]) == (Decimal("0.5000"), Decimal("0.5000"))
    assert figures["annual_sales_per_customer"] == Decimal("250.00")
    # 175 x 0.25 x 0.5 / (1 + 0.01 - 0.5)
    assert figures["customer_lifetime_value"] == Decimal("42.89")
    assert figures["top_20_percent_revenue_share"] == Decimal("0.8333")  # a: 300 of 360
    assert figures["non_members"]["customers"] == 0 and figures["member_lift"] is None


def test_ratios_without_a_denominator_are_none_not_zero() -> None:
    figures = summary(
        tally([], set()), year_net=Decimal(0), year_customers=0, margin=Decimal(1), period_discount=Decimal(0)
    )
    assert figures["N"] == 0 and figures["V"] is None and figures["retention_rate"] is None
    assert figures["top_20_percent_revenue_share"] is None and clv(None, Decimal(1), None, Decimal(0)) is None


def _top_share(*nets: int) -> Decimal | None:
    customers = [customer(f"m{i}", 1, str(net)) for i, net in enumerate(nets)]
    share: Decimal | None = summary(
        tally(customers, set()),
        year_net=Decimal(0),
        year_customers=0,
        margin=Decimal(1),
        period_discount=Decimal(0),
    )["top_20_percent_revenue_share"]
    return share


def test_the_80_20_check_takes_at_least_one_customer() -> None:
    assert _top_share(10, 10, 10, 10) == Decimal("0.2500")  # ceil(0.8) = 1 of 4 equal customers
    assert _top_share(5, 5, 80, 5, 5) == Decimal("0.8000")
    assert _top_share(*range(1, 12)) == Decimal("0.4545")  # ceil(2.2) = 3 of 11: 30 of 66


def test_cohorts_count_each_member_once_in_the_month_they_first_bought() -> None:
    first = {"a": "2026-08", "b": "2026-08", "c": "2026-09"}
    active = [("a", "2026-08"), ("b", "2026-08"), ("a", "2026-09"), ("c", "2026-09"), ("b", "2026-10")]
    assert cohort_retention(first, active) == [
        {
            "cohort": "2026-08",
            "size": 2,
            "retention": [Decimal("1.0000"), Decimal("0.5000"), Decimal("0.5000")],
        },
        {"cohort": "2026-09", "size": 1, "retention": [Decimal("1.0000"), Decimal("0.0000")]},
    ]


def test_points_economics_nets_released_reservations_out_of_redemptions() -> None:
    moves = {"earned": 1000, "redeemed": -300, "released": 100, "expired": -50, "reversed": -20}
    figures = points_economics(moves, funded=70, outstanding=4321)
    assert (figures["redeemed"], figures["expired"], figures["reversed"]) == (200, 50, 20)
    assert figures["redemption_rate"] == Decimal("0.2000") and figures["breakage_rate"] == Decimal("0.0500")
    assert figures["outstanding_liability"] == 4321 and figures["partner_funded"] == 70


def test_a_paid_membership_runs_its_term_from_the_later_end_and_a_cancellation_ends_it() -> None:
    def order(member: str, kind: str, days: int, months: int = 1, fee: str = "100") -> SimpleNamespace:
        return SimpleNamespace(
            member_id=member, kind=kind, occurred_at=T0 + timedelta(days=days), term_months=months, fee=fee
        )

    orders = [
        order("a", "purchased", 0),  # to Nov 1 ...
        order("a", "renewed", 20),  # ... renewed early: to Dec 1
        order("b", "purchased", 0, months=12),
        order("b", "cancelled", 25),
        order("c", "purchased", 0),  # ended Nov 1
    ]
    held = vip_at(orders, T0 + timedelta(days=15), T0 + timedelta(days=40))
    assert held == {"members": 1, "fees": Decimal(100), "holders": ["a"]}


def test_segments_by_medians_and_rfm_quintiles() -> None:
    at = [T0 + timedelta(days=d) for d in range(5)]
    found = segments(
        [
            ("often-big", 9, Decimal(900), at[4]),
            ("often-small", 8, Decimal(10), at[3]),
            ("rare-big", 1, Decimal(800), at[2]),
            ("rare-small", 1, Decimal(5), at[0]),
            ("middle", 4, Decimal(100), at[1]),
        ]
    )
    assert {m: s.segment for m, s in found.items()} == {
        "often-big": "true_friends",
        "often-small": "barnacles",
        "rare-big": "butterflies",
        "rare-small": "strangers",
        "middle": "true_friends",  # at the median counts as at least the median
    }
    assert found["often-big"].rfm == "555" and found["often-big"].rfm_label == "champions"
    assert found["rare-small"].rfm == "111" and found["rare-small"].rfm_label == "hibernating"
    assert rfm_label(5, 1, 1, purchases=1) == "new" and rfm_label(1, 4, 4, purchases=7) == "at_risk"


def test_equal_customers_score_the_same() -> None:
    same = segments([(f"m{i}", 2, Decimal(50), T0) for i in range(7)])
    assert {s.rfm for s in same.values()} == {"111"}


def test_a_promotions_lift_is_the_treatment_against_the_holdout_by_hand() -> None:
    treatment = Group(members=90, buyers=30, purchases=45, spend=Decimal(9_000_000))
    holdout = Group(members=10, buyers=2, purchases=2, spend=Decimal(500_000))
    lift = promotion_lift(treatment, holdout)
    assert lift["treatment"]["conversion"] == Decimal("0.3333")
    assert lift["holdout"]["spend_per_member"] == Decimal("50000.00")
    assert lift["conversion_lift"] == Decimal("0.6667")  # (30/90) / (2/10) - 1
    assert lift["spend_lift"] == Decimal("1.0000")  # 100,000 per member against 50,000
    assert lift["incremental_spend"] == Decimal("4500000.00")  # 9,000,000 - 90 x 50,000
    nobody_held_out = promotion_lift(treatment, Group(0, 0, 0, Decimal(0)))
    assert nobody_held_out["conversion_lift"] is None and nobody_held_out["incremental_spend"] is None
