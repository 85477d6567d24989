"""Analytics periods are bounded: a KPI request past the stated longest period is a 422 problem naming the
rule, answered before the store is read (no database here)."""

from __future__ import annotations

import httpx

from services.analytics.main import create
from services.analytics.settings import AnalyticsSettings
from sim.harness import bearer


async def test_a_period_longer_than_the_maximum_is_a_422_problem() -> None:
    app = create(AnalyticsSettings(analytics_max_period_days=400))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics", headers=bearer()) as c:
        answer = await c.get(
            "/v1/kpis/summary", params={"from": "2024-01-01T00:00:00Z", "to": "2025-02-05T00:00:00Z"}
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("from", "period_too_long")]
