"""Earning rules are data: a versioned rule set, validated when loaded, and a pure evaluation of a
purchase against it that explains every point.

Points add up, they do not compound: the base rate gives ``base`` points per line, and each
multiplier ``m`` that applies to a line adds ``(m - 1) x base`` of that line as its own contribution,
so the explanation sums exactly to the points earned. Each contribution is rounded on its own with the
rule set's rounding; caps then take points back as contributions of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts import LineItem, PartnerCampaignAnnounced, PurchaseRecorded, RuleContribution
from shared.contracts.common import MAX_POINTS
from shared.contracts.money import CURRENCY_EXPONENTS, Money
from shared.refusal import Refused

Multiplier = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Rate = Annotated[Decimal, Field(ge=0, le=1000, decimal_places=6)]
_ROUNDING = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


class Audience(BaseModel):
    """Who a targeted promotion is for: members in a segment (analytics' loyalty x profitability cell or
    RFM label), members who have not bought for ``inactive_days`` (win-back), or both at once. A share of
    them, chosen by a hash, is held out: they do not get it, and analytics measures the lift against them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segments: frozenset[str] = Field(default=frozenset(), max_length=20)
    inactive_days: int | None = Field(default=None, ge=1, le=3650)
    holdout_percent: int = Field(default=10, ge=0, le=50)

    @model_validator(mode="after")
    def _someone(self) -> Audience:
        if not self.segments and self.inactive_days is None:
            raise Refused(
                "segments",
                "audience_required",
                "an audience names segments, inactive_days or both",
            )
        return self


class Promotion(BaseModel):
    """A time-boxed multiplier in the store's local time: "double points weekend", "happy hour"; for
    everyone, or only for the members a targeted promotion chose (``audience``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    multiplier: Multiplier
    starts_on: date | None = None
    ends_on: date | None = None  # inclusive
    weekdays: frozenset[int] = Field(default=frozenset(range(7)), description="0 = Monday ... 6 = Sunday")
    from_time: time = time(0, 0)
    to_time: time = time(23, 59, 59)
    categories: frozenset[str] = Field(default=frozenset(), description="empty: every line")
    audience: Audience | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Promotion:
        if self.from_time.tzinfo is not None or self.to_time.tzinfo is not None:
            # Found by the fuzzer: comparing such a time with a local one was a 500.
            raise Refused(
                "from_time",
                "local_time_only",
                "from_time and to_time are the store's local time: give them without an offset",
            )
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise Refused("ends_on", "window_empty", "ends_on is before starts_on")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise Refused("weekdays", "weekday_range", "weekdays are 0 (Monday) to 6 (Sunday)")
        if self.to_time <= self.from_time:
            raise Refused("to_time", "window_empty", "to_time must be after from_time")
        return self

    def applies_at(self, local: datetime) -> bool:
        return (
            (self.starts_on is None or local.date() >= self.starts_on)
            and (self.ends_on is None or local.date() <= self.ends_on)
            and local.weekday() in self.weekdays
            and self.from_time <= local.time() <= self.to_time
        )


class RuleSet(BaseModel):
    """One version of a program's earning rules, in force from ``effective_from``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effective_from: AwareDatetime
    base_rates: dict[str, Rate] = Field(min_length=1, description="points per currency unit, per currency")
    rounding: Literal["floor", "half_up", "half_even"] = "floor"
    category_multipliers: dict[str, Multiplier] = Field(default_factory=dict)
    sku_multipliers: dict[str, Multiplier] = Field(default_factory=dict, description="win over categories")
    store_multipliers: dict[str, Multiplier] = Field(default_factory=dict)
    channel_multipliers: dict[Literal["store", "online"], Multiplier] = Field(default_factory=dict)
    promotions: list[Promotion] = Field(default_factory=list, max_length=200)
    minimum_basket: dict[str, Money] = Field(default_factory=dict, description="per currency")
    cap_per_receipt: int | None = Field(default=None, gt=0, le=MAX_POINTS)
    cap_per_day: int | None = Field(
        default=None, gt=0, le=MAX_POINTS, description="per member, per local day"
    )
    welcome_bonus: int = Field(default=0, ge=0, le=1_000_000)
    partner_rates: dict[str, Rate] = Field(
        default_factory=dict, description="points per currency unit of a partner brand's purchases"
    )

    @model_validator(mode="after")
    def _known_currencies(self) -> RuleSet:
        unknown = (set(self.base_rates) | set(self.minimum_basket)) - set(CURRENCY_EXPONENTS)
        if unknown:
            raise Refused("base_rates", "unsupported_currency", f"unknown currencies: {sorted(unknown)}")
        targeted = [p.name for p in self.targeted()]
        if len(targeted) != len(set(targeted)):
            raise Refused(
                "promotions",
                "promotion_names_unique",
                "targeted promotions need names of their own: members are chosen by name",
            )
        return self

    def targeted(self) -> list[Promotion]:
        return [p for p in self.promotions if p.audience is not None]

    def round(self, value: Decimal) -> int:
        return int(value.to_integral_value(rounding=_ROUNDING[self.rounding]))


@dataclass(frozen=True)
class MemberContext:
    """What the evaluation needs to know about the member, read from the store."""

    first_purchase: bool = False
    earned_today: int = 0  # toward the daily cap
    tier: str | None = None
    tier_multiplier: Decimal = Decimal(1)
    campaign_budgets: dict[str, int] = field(default_factory=dict)  # remaining, per campaign
    promotions: frozenset[str] = frozenset()  # targeted promotions the member was chosen for


@dataclass(frozen=True)
class Earning:
    points: int
    contributions: tuple[RuleContribution, ...]
    partner_points: dict[str, int] = field(default_factory=dict)  # funded by each partner campaign
    welcome: int = 0  # of ``points``, the welcome bonus
    base: Decimal = Decimal(0)  # the base points a tier multiplier applies to


def _line_bonus(
    rules: RuleSet, lines: Sequence[LineItem], bases: Sequence[Decimal], pick: dict[str, Decimal], key: str
) -> dict[str, Decimal]:
    """Extra points per multiplier value of ``pick``, keyed by the line attribute ``key``."""
    extra: dict[str, Decimal] = {}
    for line, base in zip(lines, bases, strict=True):
        name = getattr(line, key)
        if name in pick:
            extra[name] = extra.get(name, Decimal(0)) + (pick[name] - 1) * base
    return extra


def _plain(multiplier: Decimal) -> str:
    """1.50 -> "1.5", 2.00 -> "2": the same multiplier reads the same wherever it came from."""
    return f"{multiplier.normalize():f}"


def _base_of(
    lines: Sequence[LineItem],
    bases: Sequence[Decimal],
    skus: Collection[str] = (),
    categories: Collection[str] = (),
) -> Decimal:
    """Base points of the lines with one of ``skus`` or ``categories``; of every line if none given."""
    return sum(
        (
            b
            for ln, b in zip(lines, bases, strict=True)
            if (not skus and not categories) or ln.sku in skus or ln.category in categories
        ),
        Decimal(0),
    )


def evaluate(
    rules: RuleSet,
    purchase: PurchaseRecorded,
    occurred_at: datetime,
    member: MemberContext,
    campaigns: Sequence[PartnerCampaignAnnounced] = (),
) -> Earning:
    rate = rules.base_rates.get(purchase.currency)
    if rate is None:
        return Earning(0, (RuleContribution(rule=f"no earn rate for {purchase.currency}", points=0),))
    minimum = rules.minimum_basket.get(purchase.currency)
    if minimum is not None and purchase.total_amount < minimum:
        note = f"minimum basket {minimum} {purchase.currency} not met"
        return Earning(0, (RuleContribution(rule=note, points=0),))

    # A purchase without lines (a total-only POS) earns as if it were one line.
    total = purchase.total_amount
    lines = list(purchase.lines) or [
        LineItem(sku="receipt", category="receipt", quantity=Decimal(1), unit_price=total, amount=total)
    ]
    bases = [line.amount * rate for line in lines]
    base_total = sum(bases, Decimal(0))
    parts: list[tuple[str, Decimal]] = [(f"base: {rate} per {purchase.currency}", base_total)]

    by_sku = _line_bonus(rules, lines, bases, rules.sku_multipliers, "sku")
    category_lines = [
        (ln, b) for ln, b in zip(lines, bases, strict=True) if ln.sku not in rules.sku_multipliers
    ]
    by_category = _line_bonus(
        rules, [ln for ln, _ in category_lines], [b for _, b in category_lines], rules.category_multipliers,
        "category",
    )  # fmt: skip
    parts += [(f"sku {sku} x{_plain(rules.sku_multipliers[sku])}", v) for sku, v in sorted(by_sku.items())]
    parts += [
        (f"category {c} x{_plain(rules.category_multipliers[c])}", v) for c, v in sorted(by_category.items())
    ]
    if (m := rules.store_multipliers.get(purchase.store_id)) is not None:
        parts.append((f"store {purchase.store_id} x{_plain(m)}", (m - 1) * base_total))
    if (m := rules.channel_multipliers.get(purchase.channel)) is not None:
        parts.append((f"channel {purchase.channel} x{_plain(m)}", (m - 1) * base_total))
    local = occurred_at.astimezone(ZoneInfo(purchase.timezone))
    for promo in rules.promotions:
        chosen = promo.audience is None or promo.name in member.promotions
        if chosen and promo.applies_at(local):
            applies = _base_of(lines, bases, categories=promo.categories)
            parts.append(
                (f"promotion {promo.name} x{_plain(promo.multiplier)}", (promo.multiplier - 1) * applies)
            )
    contributions = [RuleContribution(rule=name, points=rules.round(v)) for name, v in parts]
    if (line := tier_line(rules, member.tier, member.tier_multiplier, base_total)) is not None:
        contributions.append(line)
    partner_points: dict[str, int] = {}
    for campaign in campaigns:
        if not campaign.starts_at <= occurred_at < campaign.ends_at:
            continue
        applies = _base_of(lines, bases, campaign.skus, campaign.categories)
        funded = min(
            rules.round((campaign.multiplier - 1) * applies),
            member.campaign_budgets.get(campaign.campaign_id, 0),
        )
        if funded > 0:
            contributions.append(
                RuleContribution(
                    rule=f"partner {campaign.partner_id} campaign {campaign.campaign_id}", points=funded
                )
            )
            partner_points[campaign.campaign_id] = funded

    earned = sum(c.points for c in contributions)
    if rules.cap_per_receipt is not None and earned > rules.cap_per_receipt:
        contributions.append(
            RuleContribution(
                rule=f"cap per receipt {rules.cap_per_receipt}", points=rules.cap_per_receipt - earned
            )
        )
        earned = rules.cap_per_receipt
    if rules.cap_per_day is not None:
        room = max(rules.cap_per_day - member.earned_today, 0)
        if earned > room:
            contributions.append(
                RuleContribution(rule=f"cap per day {rules.cap_per_day}", points=room - earned)
            )
            earned = room
    welcome = rules.welcome_bonus if member.first_purchase else 0
    if welcome:
        contributions.append(RuleContribution(rule="welcome bonus", points=welcome))
    return Earning(earned + welcome, tuple(contributions), partner_points, welcome, base_total)


def tier_line(
    rules: RuleSet, tier: str | None, multiplier: Decimal, base: Decimal
) -> RuleContribution | None:
    """What the member's tier adds to a purchase's ``base`` points: ``(m - 1) x base``."""
    if multiplier == 1:
        return None
    return RuleContribution(
        rule=f"tier {tier} x{_plain(multiplier)}", points=rules.round((multiplier - 1) * base)
    )


def partner_earning(rules: RuleSet, partner_id: str, currency: str, amount: Decimal) -> Earning:
    """A member's purchase at a partner brand, at the partner's rate (recorded for settlement)."""
    rate = rules.partner_rates.get(partner_id)
    if rate is None:
        return Earning(0, (RuleContribution(rule=f"partner {partner_id} has no earn rate", points=0),))
    points = rules.round(amount * rate)
    rule = RuleContribution(rule=f"partner {partner_id}: {rate} per {currency}", points=points)
    return Earning(points, (rule,), {partner_id: points})


def active_rule_set(versions: Sequence[tuple[int, RuleSet]], at: datetime) -> tuple[int, RuleSet] | None:
    """The version in force at ``at``: the newest whose effective_from is not after it."""
    in_force = [(v, r) for v, r in versions if r.effective_from <= at]
    return max(in_force, key=lambda vr: (vr[1].effective_from, vr[0])) if in_force else None
