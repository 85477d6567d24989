"""What the KPI routes answer, one response model per route, so /openapi.json describes every body.

Money and ratios are decimal strings: ``Decimal`` fields (pydantic writes them as strings) or ``Text``
where ``api.exact`` already turned them into strings.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from shared.wire import Out

Text = Annotated[str, Field(description="a decimal, as a string: no digit is lost to a float")]


class PeriodOut(Out):
    start: datetime
    end: datetime


class ScopeOut(Out):
    currency: str
    chain: str | None
    store: str | None
    segment: str | None
    program: str = Field(description="the loyalty program")


class Customers(Out):
    customers: int
    value_per_customer: Decimal | int | None


class Summary(Out):
    period: PeriodOut
    scope: ScopeOut
    N: int = Field(description="active customers")
    V: Decimal | int | None = Field(description="net revenue per customer")
    F: Decimal | int | None = Field(description="purchases per customer")
    S: Decimal | int | None = Field(description="units per basket")
    purchases: int
    gross_revenue: Decimal | int
    refunds: Decimal | int
    net_revenue: Decimal | int
    average_transaction_value: Decimal | int | None
    repeat_purchase_rate: Decimal | int | None
    retention_rate: Decimal | int | None
    churn_rate: Decimal | int | None
    previous_period_customers: int
    annual_sales_per_customer: Decimal | int | None
    customer_lifetime_value: Decimal | int | None
    top_20_percent_revenue_share: Decimal | int | None
    members: Customers
    non_members: Customers
    member_lift: Decimal | int | None


class Cohort(Out):
    cohort: str = Field(description="YYYY-MM of the first purchase")
    size: int
    retention: list[Text | None] = Field(description="the share buying in each month from the cohort's")


class Cohorts(Out):
    to: str = Field(description="ISO 8601")
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
    birthday_bonuses: int
    settled_at_program_end: int
    outstanding_liability: int
    redemption_rate: Text | None
    breakage_rate: Text | None


class Move(Out):
    from_: str | None = Field(alias="from")
    to: str
    members: int


class Vip(Out):
    members: int = Field(description="paid VIP members at the period's end")
    fees: Text = Field(description="membership fees paid in the period")
    revenue: Text = Field(description="net revenue of those members in the period")


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
    to: str = Field(description="ISO 8601")
    promotions: list[Promotion]
