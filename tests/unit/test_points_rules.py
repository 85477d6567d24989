"""Earning rules as data: each rule's points, every point explained, rule sets chosen by date."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.points.domain.rules import (
    MemberContext,
    Promotion,
    RuleSet,
    active_rule_set,
    evaluate,
    partner_earning,
)
from services.points.programs.targeting.domain import group_of
from shared.contracts import LineItem, PartnerCampaignAnnounced, PurchaseRecorded

# Saturday 2026-11-21, 19:30 in Tehran (UTC+3:30).
SATURDAY_EVENING = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)


def rules(**change: Any) -> RuleSet:
    return RuleSet.model_validate(
        {"effective_from": "2026-01-01T00:00:00+00:00", "base_rates": {"IRR": "0.0001", "EUR": "1"}, **change}
    )


def line(sku: str, category: str, amount: str) -> LineItem:
    return LineItem(
        sku=sku, category=category, quantity=Decimal(1), unit_price=Decimal(amount), amount=Decimal(amount)
    )


def purchase(
    *lines: LineItem, currency: str = "IRR", store: str = "s1", channel: str = "store"
) -> PurchaseRecorded:
    return PurchaseRecorded(
        chain_id="c", store_id=store, receipt_no="r", member_id="m", currency=currency, channel=channel,
        timezone="Asia/Tehran", lines=list(lines), total_amount=sum((ln.amount for ln in lines), Decimal(0)),
    )  # fmt: skip


BASKET = purchase(line("milk", "dairy", "1000000"), line("tea", "beverages", "2500000"))


def explain(earning: Any) -> list[tuple[str, int]]:
    return [(c.rule, c.points) for c in earning.contributions]


def test_the_base_rate_rounds_down_by_default_and_the_explanation_adds_up() -> None:
    earning = evaluate(rules(), purchase(line("a", "x", "19999")), SATURDAY_EVENING, MemberContext())
    assert explain(earning) == [("base: 0.0001 per IRR", 1)]
    half_up = evaluate(
        rules(rounding="half_up"), purchase(line("a", "x", "15000")), SATURDAY_EVENING, MemberContext()
    )
    assert half_up.points == 2


def test_multipliers_add_their_share_sku_beats_category() -> None:
    r = rules(category_multipliers={"dairy": "2", "beverages": "3"}, sku_multipliers={"tea": "1.5"})
    earning = evaluate(r, BASKET, SATURDAY_EVENING, MemberContext())
    assert explain(earning) == [
        ("base: 0.0001 per IRR", 350),
        ("sku tea x1.5", 125),
        ("category dairy x2", 100),
    ]
    assert earning.points == 575 == sum(p for _, p in explain(earning))


def test_store_channel_and_tier_multipliers_apply_to_the_whole_basket() -> None:
    r = rules(store_multipliers={"s1": "1.1"}, channel_multipliers={"online": "2"})
    earning = evaluate(r, purchase(*BASKET.lines, channel="online"), SATURDAY_EVENING,
                       MemberContext(tier="gold", tier_multiplier=Decimal("1.25")))  # fmt: skip
    assert explain(earning)[1:] == [
        ("store s1 x1.1", 35),
        ("channel online x2", 350),
        ("tier gold x1.25", 87),
    ]


@pytest.mark.parametrize(
    ("when", "applies"),
    [
        (SATURDAY_EVENING, True),  # Saturday 19:30 local
        (SATURDAY_EVENING + timedelta(hours=3), False),  # 22:30 local: after happy hour
        (SATURDAY_EVENING + timedelta(days=2), False),  # Monday
        (SATURDAY_EVENING + timedelta(days=14), False),  # after ends_on
    ],
)
def test_promotions_are_read_in_the_store_time_zone(when: datetime, applies: bool) -> None:
    promo = {"name": "weekend happy hour", "multiplier": "2", "weekdays": [5, 6], "from_time": "18:00",
             "to_time": "21:00", "ends_on": "2026-11-30", "categories": ["dairy"]}  # fmt: skip
    earning = evaluate(rules(promotions=[promo]), BASKET, when, MemberContext())
    assert (("promotion weekend happy hour x2", 100) in explain(earning)) is applies


def test_minimum_basket_caps_and_welcome_bonus() -> None:
    assert (
        evaluate(rules(minimum_basket={"IRR": "5000000"}), BASKET, SATURDAY_EVENING, MemberContext()).points
        == 0
    )
    capped = evaluate(rules(cap_per_receipt=300, welcome_bonus=500), BASKET, SATURDAY_EVENING,
                      MemberContext(first_purchase=True))  # fmt: skip
    assert explain(capped) == [
        ("base: 0.0001 per IRR", 350),
        ("cap per receipt 300", -50),
        ("welcome bonus", 500),
    ]
    daily = evaluate(rules(cap_per_day=400), BASKET, SATURDAY_EVENING, MemberContext(earned_today=300))
    assert daily.points == 100 and explain(daily)[-1] == ("cap per day 400", -250)


def test_partner_campaigns_fund_bonus_points_within_window_and_budget() -> None:
    campaign = PartnerCampaignAnnounced(
        partner_id="snapp", campaign_id="tea-week", name="Tea week", multiplier=Decimal("3"),
        starts_at=SATURDAY_EVENING - timedelta(days=1), ends_at=SATURDAY_EVENING + timedelta(days=6),
        skus=["tea"], budget_points=400,
    )  # fmt: skip
    member = MemberContext(campaign_budgets={"tea-week": 400})
    earning = evaluate(rules(), BASKET, SATURDAY_EVENING, member, [campaign])
    assert ("partner snapp campaign tea-week", 400) in explain(earning)  # 500 due, budget 400
    assert earning.partner_points == {"tea-week": 400}
    late = evaluate(rules(), BASKET, SATURDAY_EVENING + timedelta(days=7), member, [campaign])
    assert late.partner_points == {}
    assert (
        partner_earning(rules(partner_rates={"snapp": "0.0002"}), "snapp", "IRR", Decimal(500000)).points
        == 100
    )


def test_a_rule_set_is_validated_when_loaded() -> None:
    with pytest.raises(ValidationError, match="unknown currencies"):
        rules(base_rates={"XXX": "1"})
    with pytest.raises(ValidationError, match="to_time must be after from_time"):
        rules(promotions=[{"name": "p", "multiplier": "2", "from_time": "21:00", "to_time": "18:00"}])
    with pytest.raises(ValidationError):
        rules(category_multipliers={"dairy": "-1"})


def test_the_rule_set_in_force_is_chosen_by_the_purchase_time() -> None:
    v1 = rules(effective_from="2026-01-01T00:00:00+00:00")
    v2 = rules(effective_from="2026-11-22T00:00:00+00:00", base_rates={"IRR": "0.0002"})
    versions = [(1, v1), (2, v2)]
    assert active_rule_set(versions, SATURDAY_EVENING) == (1, v1)
    assert active_rule_set(versions, SATURDAY_EVENING + timedelta(days=2)) == (2, v2)
    assert active_rule_set(versions, datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_a_receipt_without_lines_earns_on_its_total() -> None:
    total_only = PurchaseRecorded(
        chain_id="c", store_id="s1", receipt_no="r", member_id="m", currency="IRR", total_amount=123456
    )
    assert explain(evaluate(rules(), total_only, SATURDAY_EVENING, MemberContext())) == [
        ("base: 0.0001 per IRR", 12)
    ]


def test_a_promotion_hour_with_an_offset_is_refused_not_a_crash() -> None:
    with pytest.raises(ValidationError, match="local time"):
        Promotion(name="happy hour", multiplier=Decimal(2), from_time=time(22, 45, tzinfo=UTC))


def test_a_targeted_promotion_applies_only_to_the_members_it_chose() -> None:
    targeted = {"name": "we-miss-you", "multiplier": "3", "audience": {"segments": ["at_risk"]}}
    ruleset = rules(promotions=[targeted, {"name": "everyone", "multiplier": "2"}])
    basket = purchase(line("a", "x", "1000000"))
    chosen = evaluate(ruleset, basket, SATURDAY_EVENING, MemberContext(promotions=frozenset({"we-miss-you"})))
    other = evaluate(ruleset, basket, SATURDAY_EVENING, MemberContext())
    assert explain(chosen) == [
        ("base: 0.0001 per IRR", 100), ("promotion we-miss-you x3", 200), ("promotion everyone x2", 100)
    ]  # fmt: skip
    assert explain(other) == [("base: 0.0001 per IRR", 100), ("promotion everyone x2", 100)]


def test_a_targeted_promotion_names_its_audience_and_a_name_of_its_own() -> None:
    with pytest.raises(ValidationError, match="segments, inactive_days or both"):
        rules(promotions=[{"name": "p", "multiplier": "2", "audience": {"holdout_percent": 10}}])
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        rules(
            promotions=[
                {"name": "p", "multiplier": "2", "audience": {"inactive_days": 60, "holdout_percent": 60}}
            ]
        )
    twice = {"name": "p", "multiplier": "2", "audience": {"inactive_days": 60}}
    with pytest.raises(ValidationError, match="names of their own"):
        rules(promotions=[twice, twice])


def test_the_holdout_is_a_stable_share_of_members_anyone_can_recompute() -> None:
    members = [f"m{i:04d}" for i in range(4000)]
    groups = [group_of("we-miss-you", m, 10) for m in members]
    assert 0.08 < groups.count("holdout") / len(groups) < 0.12
    by_hand = int.from_bytes(hashlib.sha256(b"we-miss-you\x00m0007").digest()[:8], "big") % 100 < 10
    assert (groups[7] == "holdout") == by_hand
    assert all(group_of("p", m, 0) == "treatment" for m in members[:100])
