"""The slice end to end: HTTP purchase -> Kafka -> points ledger -> points.earned on Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shared.topics import Topic
from sim.pos import PosSimulator
from tests.support import ServiceProcess, Stack, api_key, at_least, decode, eventually


async def test_http_purchase_earns_points_once_and_emits_points_earned(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest", "points")
    ingest = ServiceProcess("services.ingest", stack.env("ingest"), log_dir)
    points = ServiceProcess("services.points", stack.env("points", VAFA_POINTS_EARN_RATE="0.0001"), log_dir)
    services += [ingest, points]
    ingest.start()
    points.start()
    await ingest.wait_ready()
    await points.wait_ready()
    key = api_key(stack, "chain", "--chain", "hyperstar")
    sim = PosSimulator(chains={"hyperstar": 4}, run="slice")
    member = "09125550101"
    first, second = sim.purchase(member), sim.purchase(member)

    async with httpx.AsyncClient(base_url=ingest.url, timeout=15) as client:
        headers = {"Authorization": f"Bearer {key}"}
        accepted = await client.post("/v1/purchases", json=first, headers=headers)
        retried = await client.post("/v1/purchases", json=first, headers=headers)
        batch = await client.post("/v1/batch", json={"items": [second, first]}, headers=headers)
    assert accepted.status_code == 202 and retried.status_code == 200
    assert [r["status"] for r in batch.json()["results"]] == ["accepted", "duplicate"]
    expected = [int(int(p["total_amount"]) * 0.0001) for p in (first, second)]

    async def balance() -> Any:
        async with points.client() as client:
            answer = await client.get(f"/v1/members/{member}/balance")
        return answer.json()["balance"] if answer.status_code == 200 else None

    assert await eventually(lambda: _is(balance(), sum(expected)), what="balance")
    earned = await eventually(lambda: at_least(stack.read_all(Topic.POINTS), 2), what="earned")
    assert len(earned) == 2
    by_cause = {decode(r)["causation_id"]: decode(r)["payload"] for r in earned}
    assert by_cause[accepted.json()["event_id"]]["points"] == expected[0]
    assert by_cause[batch.json()["results"][0]["event_id"]]["balance"] == sum(expected)


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
