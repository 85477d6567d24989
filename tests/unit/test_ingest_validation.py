"""Ingest refuses bad purchases with RFC 9457 problem details, before anything reaches Kafka."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.ingest.main import create
from shared.contracts.envelope import utcnow


def purchase(**change: Any) -> dict[str, Any]:
    return {
        "chain_id": "c",
        "store_id": "s",
        "receipt_no": "r",
        "member_id": "m",
        "currency": "IRR",
        "total_amount": "10.00",
        "occurred_at": "2026-11-20T10:00:00+03:30",
        **change,
    }


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (purchase(total_amount=10.5), "total_amount", "value_error"),
        (purchase(total_amount="-1"), "total_amount", "greater_than_equal"),
        (purchase(total_amount="1.00001"), "total_amount", "decimal_max_places"),
        (purchase(currency="rial"), "currency", "string_pattern_mismatch"),
        (purchase(occurred_at="2026-11-20T10:00:00"), "occurred_at", "timezone_aware"),
        (purchase(member_id=""), "member_id", "string_too_short"),
        (
            purchase(occurred_at=(utcnow() + timedelta(hours=1)).isoformat()),
            "occurred_at",
            "not_in_future",
        ),
    ],
)
async def test_invalid_purchase_gets_a_problem_naming_field_and_rule(
    body: dict[str, Any], field: str, rule: str
) -> None:
    app = create()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        answer = await c.post("/v1/purchases", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [(field, rule)]
