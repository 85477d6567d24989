from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from shared.config import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics"
    http_port: int = 8005
    # Money figures are per currency; this one unless a request asks for another.
    analytics_currency: str = "IRR"
    # For customer lifetime value: gross margin on sales, and the yearly discount rate.
    analytics_gross_margin: Decimal = Field(default=Decimal("0.25"), gt=0, le=1)
    analytics_discount_rate: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    # How often segments are recomputed (segment.changed emitted) and KPI gauges refreshed.
    analytics_segments_interval_s: float = 300.0
    # Facts are the program's history (cohorts, retention, CLV read years of it): kept for ever unless
    # this is set (VAFA_ANALYTICS_FACTS_RETENTION_DAYS); KPIs of periods older than it then read empty.
    analytics_facts_retention_days: float = 0.0
    analytics_gauges_window_days: int = 30
    # The longest period a KPI request may ask for (VAFA_ANALYTICS_MAX_PERIOD_DAYS): longer is a 422,
    # so one request cannot make the store scan years of facts.
    analytics_max_period_days: int = Field(default=400, ge=1)
