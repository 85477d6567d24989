from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal

from services.points.domain.expiry import ExpiryPolicy, lot_expiry
from services.points.domain.rules import RuleSet
from shared.config import ServiceSettings
from shared.contracts.money import CURRENCY_EXPONENTS


class PointsSettings(ServiceSettings):
    service_name: str = "points"
    http_port: int = 8002
    # Points per currency unit until an operator stores a rule set (VAFA_POINTS_EARN_RATE).
    points_earn_rate: Decimal = Decimal("1")
    points_expiry_policy: ExpiryPolicy = "earned"
    points_expiry_months: int = 12
    points_expiring_soon_days: int = 30
    # How often the expiry and reservation-release jobs run (VAFA_POINTS_JOBS_INTERVAL_S).
    points_jobs_interval_s: float = 30.0
    # How long a redemption holds points before it is released if the POS never confirms.
    points_redemption_hold_s: int = 300
    # How far back a tier correction reaches: purchases made longer ago than this (by event time,
    # when the correction is learned) keep the tier line they earned (VAFA_POINTS_TIER_CORRECTION_DAYS).
    points_tier_correction_days: int = 400
    # How long purchases are kept as they came, for previewing a rule set against them.
    points_purchase_history_days: float = 120.0

    def lot_expires(self, earned_at: datetime) -> datetime | None:
        """When a lot earned at ``earned_at`` expires under this deployment's policy."""
        return lot_expiry(self.points_expiry_policy, self.points_expiry_months, earned_at)

    def default_rule_set(self) -> RuleSet:
        return _default_rule_set(self.points_earn_rate)


@functools.cache
def _default_rule_set(rate: Decimal) -> RuleSet:
    return RuleSet(
        effective_from=datetime(1970, 1, 1, tzinfo=UTC), base_rates=dict.fromkeys(CURRENCY_EXPONENTS, rate)
    )
