"""The program's KPIs from per-customer figures (pure: the store sums, this file decides what they mean).

Definitions, for a period [start, end) and one currency:
- N, active customers: members with at least one purchase in the period.
- V, value per customer: net revenue (purchases - refunds) / N.
- F, frequency: purchases / N.
- S, basket size: units per purchase, over purchases that list their lines.
- ATV, average transaction value: gross purchase amount / purchases.
- repeat-purchase rate: share of N with two purchases or more.
- retention: share of the customers active in the previous period of the same length who bought again
  in this one; churn = 1 - retention.
- annual sales per customer: net revenue in the 365 days up to ``end`` / customers active in them.
- CLV: margin per customer per period x r / (1 + i - r), r the period's retention, i the discount rate
  for the period's length (the textbook infinite-horizon formula).
- top 20% share: share of net revenue from the top ceil(20%) of customers by net revenue (the 80/20 check).
- lift: value per customer of enrolled members over that of purchasers who never enrolled, minus one.
- a targeted promotion's lift: among the members it chose, those in the treatment group against those
  held out, counting purchases from each member's choosing to the period's end: conversion (share who
  bought) and spend per member, each as treatment / holdout - 1; incremental spend is the treatment's
  spend less what it would have spent at the holdout's rate.
Ratios are Decimals rounded to 4 places, money averages to 2; None where a ratio has no denominator.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from shared.dates import add_months

RATIO = Decimal("0.0001")
MONEY = Decimal("0.01")


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(RATIO, ROUND_HALF_EVEN) if whole else None


def average(total: Decimal | int, count: Decimal | int) -> Decimal | None:
    return (Decimal(total) / Decimal(count)).quantize(MONEY, ROUND_HALF_EVEN) if count else None


@dataclass(frozen=True)
class Customer:
    """One customer's figures in a period."""

    member_id: str
    purchases: int
    gross: Decimal
    refunds: Decimal
    units: Decimal
    baskets_with_lines: int
    enrolled: bool
    last_at: datetime | None = None

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds


TOP_SHARE = Decimal("0.2")


def top_count(customers: int, share: Decimal = TOP_SHARE) -> int:
    """How many customers the top ``share`` is: ceil(share x customers), at least one."""
    return max(1, math.ceil(customers * share))


@dataclass(frozen=True)
class Totals:
    """A period's customers summed: what its KPIs are made of. ``tally`` says what each sum is; the
    store sums the same in PostgreSQL, so reading a period costs a row, not a row per customer."""

    purchases: int
    gross: Decimal
    refunds: Decimal
    units: Decimal
    baskets: int  # purchases that list their lines
    active: int  # customers with a purchase (N)
    repeat: int  # of them, those with two or more
    active_net: Decimal
    top_net: Decimal  # the net of the top ``top_count(active)`` of them by net
    previous: int  # customers of the previous period
    retained: int  # of them, those active in this one
    members: int  # active and enrolled
    members_net: Decimal
    others: int  # active and never enrolled
    others_net: Decimal


def tally(customers: Iterable[Customer], previous: set[str]) -> Totals:
    everyone = list(customers)
    active = [c for c in everyone if c.purchases > 0]
    members = [c for c in active if c.enrolled]
    others = [c for c in active if not c.enrolled]
    nets = sorted((c.net for c in active), reverse=True)
    return Totals(
        purchases=sum(c.purchases for c in everyone),
        gross=sum((c.gross for c in everyone), Decimal(0)),
        refunds=sum((c.refunds for c in everyone), Decimal(0)),
        units=sum((c.units for c in everyone), Decimal(0)),
        baskets=sum(c.baskets_with_lines for c in everyone),
        active=len(active),
        repeat=sum(1 for c in active if c.purchases >= 2),
        active_net=sum(nets, Decimal(0)),
        top_net=sum(nets[: top_count(len(nets))], Decimal(0)),
        previous=len(previous),
        retained=len(previous & {c.member_id for c in active}),
        members=len(members),
        members_net=sum((c.net for c in members), Decimal(0)),
        others=len(others),
        others_net=sum((c.net for c in others), Decimal(0)),
    )


def clv(
    value_per_customer: Decimal | None, margin: Decimal, retention: Decimal | None, discount: Decimal
) -> Decimal | None:
    if value_per_customer is None or retention is None:
        return None
    return (value_per_customer * margin * retention / (1 + discount - retention)).quantize(MONEY)


def summary(
    totals: Totals,
    *,
    year_net: Decimal,
    year_customers: int,
    margin: Decimal,
    period_discount: Decimal,
) -> dict[str, Any]:
    t, n = totals, totals.active
    net = t.gross - t.refunds
    retention = ratio(t.retained, t.previous)
    v_members = average(t.members_net, t.members)
    v_others = average(t.others_net, t.others)
    v = average(net, n)
    return {
        "N": n,
        "V": v,
        "F": ratio(t.purchases, n),
        "S": ratio(t.units, t.baskets),
        "purchases": t.purchases,
        "gross_revenue": t.gross,
        "refunds": t.refunds,
        "net_revenue": net,
        "average_transaction_value": average(t.gross, t.purchases),
        "repeat_purchase_rate": ratio(t.repeat, n),
        "retention_rate": retention,
        "churn_rate": None if retention is None else 1 - retention,
        "previous_period_customers": t.previous,
        "annual_sales_per_customer": average(year_net, year_customers),
        "customer_lifetime_value": clv(v, margin, retention, period_discount),
        "top_20_percent_revenue_share": ratio(t.top_net, t.active_net),
        "members": {"customers": t.members, "value_per_customer": v_members},
        "non_members": {"customers": t.others, "value_per_customer": v_others},
        "member_lift": None if not v_members or not v_others else ratio(v_members - v_others, v_others),
    }


def cohort_retention(
    first_month: dict[str, str], active_months: Iterable[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Monthly cohorts by first purchase; for each, the share of the cohort buying k months later."""
    cohorts: dict[str, set[str]] = {}
    for member, month in first_month.items():
        cohorts.setdefault(month, set()).add(member)
    active: dict[str, set[str]] = {}
    for member, month in active_months:
        active.setdefault(month, set()).add(member)
    months = sorted(set(first_month.values()) | set(active))
    out = []
    for cohort in sorted(cohorts):
        members = cohorts[cohort]
        later = [m for m in months if m >= cohort]
        out.append(
            {
                "cohort": cohort,
                "size": len(members),
                "retention": [ratio(len(members & active.get(m, set())), len(members)) for m in later],
            }
        )
    return out


def points_economics(moves: dict[str, int], funded: int, outstanding: int) -> dict[str, Any]:
    """``moves``: points per kind in the period (signed as they move balances)."""
    issued = moves.get("earned", 0)
    redeemed = -moves.get("redeemed", 0) - moves.get("released", 0)
    expired = -moves.get("expired", 0)
    return {
        "issued": issued,
        "partner_funded": funded,
        "reversed": -moves.get("reversed", 0),
        "redeemed": redeemed,
        "expired": expired,
        "adjusted": moves.get("adjusted", 0),
        "transferred": moves.get("transferred", 0),
        "donated": -moves.get("donated", 0),
        "game_prizes": moves.get("prize", 0),
        "badge_bonuses": moves.get("badge", 0),
        "referral_bonuses": moves.get("referral", 0),
        "birthday_bonuses": moves.get("birthday", 0),
        "settled_at_program_end": -moves.get("sunset", 0),
        "outstanding_liability": outstanding,
        "redemption_rate": ratio(redeemed, issued),
        "breakage_rate": ratio(expired, issued),
    }


def vip_at(orders: Iterable[Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Paid memberships: who holds one at ``end`` (a purchase or renewal runs ``term_months`` from the
    later of the order and the current end; a cancellation ends it then), and the fees in the period."""
    ends: dict[str, datetime] = {}
    fees = Decimal(0)
    for order in orders:
        if order.kind == "cancelled":
            ends[order.member_id] = order.occurred_at
            continue
        current = ends.get(order.member_id)
        ends[order.member_id] = add_months(
            max(current or order.occurred_at, order.occurred_at), order.term_months
        )
        if order.occurred_at >= start:
            fees += Decimal(order.fee)
    holders = sorted(m for m, until in ends.items() if until > end)
    return {"members": len(holders), "fees": fees, "holders": holders}


@dataclass(frozen=True)
class Group:
    """What the members of one group of a targeted promotion did after being chosen."""

    members: int
    buyers: int
    purchases: int
    spend: Decimal


def _group(g: Group) -> dict[str, Any]:
    return {
        "members": g.members,
        "buyers": g.buyers,
        "conversion": ratio(g.buyers, g.members),
        "purchases": g.purchases,
        "spend": g.spend,
        "spend_per_member": average(g.spend, g.members),
    }


def _relative(treated: Decimal, treated_n: int, held: Decimal, held_n: int) -> Decimal | None:
    """(treated / treated_n) / (held / held_n) - 1, exact until the one rounding."""
    if not (treated_n and held_n and held):
        return None
    return (treated * held_n / (held * treated_n) - 1).quantize(RATIO, ROUND_HALF_EVEN)


def promotion_lift(treatment: Group, holdout: Group) -> dict[str, Any]:
    t, h = treatment, holdout
    incremental = (
        (t.spend - h.spend * t.members / h.members).quantize(MONEY, ROUND_HALF_EVEN) if h.members else None
    )
    return {
        "treatment": _group(t),
        "holdout": _group(h),
        "conversion_lift": _relative(Decimal(t.buyers), t.members, Decimal(h.buyers), h.members),
        "spend_lift": _relative(t.spend, t.members, h.spend, h.members),
        "incremental_spend": incremental,
    }
