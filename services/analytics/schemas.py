"""What the KPI routes answer, one response model per route, so /openapi.json describes every body.

The figures keep the encoding they had: the routes that pass their figures through ``api.exact``
send money and ratios as decimal strings (``Text``); ``/summary`` sends them as JSON numbers
(``Number``), as it always has.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.wire import Instant, Number, Out

Text = Annotated[str, Field(description="a decimal, as a string: no digit is lost to a float")]


class PeriodOut(Out):
    start: Instant
    end: Instant


class ScopeOut(Out):
    currency: str
    chain: str | None
    store: str | None
    segment: str | None


class Customers(Out):
    customers: int
    value_per_customer: Number | None


class Summary(Out):
    period: PeriodOut
    scope: ScopeOut
    N: int = Field(description="active customers")
    V: Number | None = Field(description="net revenue per customer")
    F: Number | None = Field(description="purchases per customer")
    S: Number | None = Field(description="units per basket")
    purchases: int
    gross_revenue: Number
    refunds: Number
    net_revenue: Number
    average_transaction_value: Number | None
    repeat_purchase_rate: Number | None
    retention_rate: Number | None
    churn_rate: Number | None
    previous_period_customers: int
    annual_sales_per_customer: Number | None
    customer_lifetime_value: Number | None
    top_20_percent_revenue_share: Number | None
    members: Customers
    non_members: Customers
    member_lift: Number | None


class Cohort(Out):
    cohort: str = Field(description="YYYY-MM of the first purchase")
    size: int
    retention: list[Text | None] = Field(description="the share buying in each month from the cohort's")


class Cohorts(Out):
    to: Instant
    cohorts: list[Cohort]


class PointsFigures(Out):
    issued: int
    partner_funded: int
    reversed: int
    redeemed: int
    expired: int
    adjusted: int
    transferred: int
    donated: int
    game_prizes: int
    badge_bonuses: int
    referral_bonuses: int
    settled_at_program_end: int
    outstanding_liability: int
    redemption_rate: Text | None
    breakage_rate: Text | None


class Move(Out):
    from_: str | None = Field(alias="from")
    to: str
    members: int


class Vip(Out):
    members: int
    fees: Text
    holders: list[str]


class TiersFigures(Out):
    distribution: dict[str, int] = Field(description="tier -> members in it at the period's end")
    migration: list[Move]
    vip: Vip


class Partner(Out):
    partner_id: str
    purchases: int
    amount: Text
    members: int


class Partners(Out):
    partners: list[Partner]


class Segments(Out):
    matrix: dict[str, int] = Field(description="loyalty x profitability segment -> members")
    rfm: dict[str, int] = Field(description="RFM label -> members")


class Notifications(Out):
    channels: dict[str, dict[str, int]] = Field(description="channel -> outcome -> messages")


class Group(Out):
    members: int
    buyers: int
    conversion: Text | None
    purchases: int
    spend: Text
    spend_per_member: Text | None


class Promotion(Out):
    promotion: str
    treatment: Group
    holdout: Group
    conversion_lift: Text | None
    spend_lift: Text | None
    incremental_spend: Text | None


class Promotions(Out):
    to: Instant
    promotions: list[Promotion]
