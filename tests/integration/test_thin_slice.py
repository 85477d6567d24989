"""The thin slice end to end: HTTP purchase -> Kafka -> points ledger -> points.earned on Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shared.topics import Topic
from tests.support import ServiceProcess, Stack, at_least, decode, eventually


def body(receipt: str, amount: str, member: str = "0912-555-0101") -> dict[str, Any]:
    return {
        "chain_id": "hyperstar",
        "store_id": "tehran-07",
        "receipt_no": receipt,
        "member_id": member,
        "currency": "IRR",
        "total_amount": amount,
        "occurred_at": "2026-11-20T18:30:00+03:30",
    }


async def test_http_purchase_earns_points_once_and_emits_points_earned(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest", "points")
    ingest = ServiceProcess("services.ingest", stack.env("ingest"), log_dir)
    points = ServiceProcess("services.points", stack.env("points"), log_dir)
    services += [ingest, points]
    ingest.start()
    points.start()
    await ingest.wait_ready()
    await points.wait_ready()

    async with httpx.AsyncClient(base_url=ingest.url, timeout=15) as client:
        first = await client.post("/v1/purchases", json=body("R-1001", "250000.90"))
        retried = await client.post("/v1/purchases", json=body("R-1001", "250000.90"))
        second = await client.post("/v1/purchases", json=body("R-1002", "99.99"))
        invalid = await client.post("/v1/purchases", json={**body("R-1003", "1.5"), "currency": "rial"})
    assert first.status_code == 202 and second.status_code == 202
    assert retried.json()["event_id"] == first.json()["event_id"]
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in invalid.json()["errors"]] == ["currency"]

    async def balance() -> Any:
        async with httpx.AsyncClient(base_url=points.url) as client:
            answer = await client.get("/v1/members/0912-555-0101/balance")
        return answer.json()["balance"] if answer.status_code == 200 else None

    # 250000 + 99 points; the retried receipt was not credited twice.
    assert await eventually(lambda: _equals(balance(), 250099), what="balance")
    earned = await eventually(lambda: at_least(stack.read_all(Topic.POINTS_EARNED), 2), what="points.earned")
    assert len(earned) == 2
    by_cause = {decode(r)["causation_id"]: decode(r) for r in earned}
    assert by_cause[first.json()["event_id"]]["payload"]["points"] == 250000
    assert by_cause[second.json()["event_id"]]["payload"]["points"] == 99
    assert by_cause[second.json()["event_id"]]["payload"]["balance"] == 250099


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
