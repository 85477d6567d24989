"""Ingest's HTTP answers that need no broker or database: 401 without a key, and RFC 9457 problem
details naming the field and the rule for a body of the wrong shape."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.ingest.auth import authenticate
from services.ingest.domain import Principal
from services.ingest.main import create
from tests.unit.test_ingest_domain import purchase


def client(authenticated: bool) -> httpx.AsyncClient:
    app = create()
    if authenticated:
        app.dependency_overrides[authenticate] = lambda: Principal(uuid.uuid4(), "admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


async def test_no_key_is_401_with_a_problem_and_a_challenge() -> None:
    async with client(authenticated=False) as c:
        answer = await c.post("/v1/purchases", json=purchase())
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"].startswith("API key missing")


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (purchase(total_amount=10.5), "total_amount", "money_not_float"),
        (purchase(total_amount="-1"), "total_amount", "greater_than_equal"),
        (purchase(currency="rial"), "currency", "string_pattern_mismatch"),
        (purchase(occurred_at="2026-11-20T10:00:00"), "occurred_at", "timezone_aware"),
        (purchase(member_id=""), "member_id", "string_too_short"),
        (purchase(lines=[{"sku": "a"}]), "lines.0.category", "missing"),
    ],
)
async def test_a_body_of_the_wrong_shape_gets_a_problem_naming_field_and_rule(
    body: dict[str, Any], field: str, rule: str
) -> None:
    async with client(authenticated=True) as c:
        answer = await c.post("/v1/purchases", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert (field, rule) in [(e["field"], e["rule"]) for e in answer.json()["errors"]]
