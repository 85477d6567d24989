"""Loyalty programs side by side in one deployment: a chain's own program beside the coalition's
``main``, each with its own rules and balances; and a deployment from before programs keeps every point."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.points.store import MIGRATIONS
from shared.contracts import PURCHASE_RECORDED
from shared.contracts.envelope import utcnow
from shared.store.migrate import upgrade
from shared.topics import Topic
from tests.support import (
    ServiceProcess,
    Stack,
    as_record,
    bearer,
    decode,
    eventually,
    operator,
    purchase,
    refund,
    running,
)

pytestmark = pytest.mark.infra
TOKEN = bearer(operator("test-ops", "admin"))


async def _balances(points: ServiceProcess, member: str) -> list[dict[str, Any]]:
    async with points.client(timeout=30) as c:
        found: list[dict[str, Any]] = (await c.get(f"/v1/members/{member}/balances")).json()["programs"]
    return found


async def _is(found: Awaitable[Any], wanted: Any) -> bool:
    return bool(await found == wanted)


async def test_a_chains_own_program_runs_beside_the_coalition_each_with_its_rules_and_balances(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points")
    since = (utcnow() - timedelta(days=30)).isoformat()
    async with points.client(timeout=30) as c:
        club = {"name": "Hyperstar club", "chains": ["chain-1"]}
        put = await c.put("/v1/loyalty-programs/hyper-club", json=club, headers=TOKEN)
        assert put.status_code == 200, put.text
        closed = await c.put(
            "/v1/loyalty-programs/main", json={"name": "main", "chains": ["x"]}, headers=TOKEN
        )
        assert closed.status_code == 422 and closed.json()["errors"][0]["field"] == "chains"
        double = {"effective_from": since, "base_rates": {"IRR": "2"}}
        nowhere = await c.post("/v1/rules", params={"program": "nowhere"}, json=double, headers=TOKEN)
        assert nowhere.status_code == 404
        added = await c.post("/v1/rules", params={"program": "hyper-club"}, json=double, headers=TOKEN)
        assert added.status_code == 201, added.text
        listed = (await c.get("/v1/loyalty-programs", headers=TOKEN)).json()["programs"]
        assert [p["program_id"] for p in listed] == ["hyper-club", "main"]

    at_the_chain = purchase("sara", "1000")
    elsewhere = purchase("sara", "500")
    elsewhere = PURCHASE_RECORDED.envelope(
        key="sara", producer="test-pos", payload=elsewhere.payload.model_copy(update={"chain_id": "chain-2"})
    )
    await stack.produce(
        Topic.PURCHASES, [as_record(at_the_chain), as_record(elsewhere), as_record(at_the_chain)]
    )
    # main earns on both at its default rate; the club only on its chain's, at its own rate, once.
    both = [
        {"program_id": "hyper-club", "balance": 2000, "debt": 0},
        {"program_id": "main", "balance": 1500, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "sara"), both), what="a balance in each program")

    await stack.produce(Topic.PURCHASES, [as_record(refund(at_the_chain, utcnow(), Decimal(500)))])
    halved = [
        {"program_id": "hyper-club", "balance": 1000, "debt": 0},
        {"program_id": "main", "balance": 1000, "debt": 0},
    ]
    await eventually(lambda: _is(_balances(points, "sara"), halved), what="the return in both programs")

    async with points.client(timeout=30) as c:
        club_balance = (await c.get("/v1/members/sara/balance", params={"program": "hyper-club"})).json()
        main_balance = (await c.get("/v1/members/sara/balance")).json()
        ledger = (await c.get("/v1/members/sara/ledger", params={"program": "hyper-club"})).json()["entries"]
    assert (club_balance["balance"], main_balance["balance"]) == (1000, 1000)
    assert [(e["kind"], e["points"]) for e in ledger] == [("reverse", -1000), ("earn", 2000)]
    earned = [decode(r) for r in await stack.read_all(Topic.POINTS)]
    told = sorted(
        (e["payload"]["program_id"], e["payload"]["points"]) for e in earned if e["type"] == "points.earned"
    )
    assert told == [("hyper-club", 2000), ("main", 500), ("main", 1000)]
    defined = [e["payload"] for e in earned if e["type"] == "loyalty_program.defined"]
    assert [(d["program_id"], d["chains"]) for d in defined] == [("hyper-club", ["chain-1"])]


async def test_a_deployment_from_before_programs_keeps_every_balance_and_lot(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Its store as the service left it before programs existed (revision 0013), then the service of
    today on it: every balance is main's, and a return of a purchase earned back then still finds it."""
    await stack.create("points")
    infra = stack.infra
    url = (f"postgresql+asyncpg://{infra.pg_user}:{infra.pg_password}@{infra.pg_host}:{infra.pg_port}"
           f"/{stack.database('points')}")  # fmt: skip
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "0013")
    sale = purchase("omid", "800")
    lot = uuid.uuid5(uuid.UUID("8f0b2d4e-9a7c-4c3e-b1f5-0e6a2d9c7b31"), str(sale.event_id))
    conn = await stack.pg(stack.database("points"))
    try:
        await conn.execute(
            "INSERT INTO ledger (member_id, kind, points, source_event_id, occurred_at, details) "
            "VALUES ('omid', 'earn', 800, $1, $2, $3), ('lena', 'adjust', 300, $4, $2, '{}')",
            sale.event_id, sale.occurred_at,
            f'{{"amount": "800", "reversible": 800, "lot_id": "{lot}", "rules": []}}', uuid.uuid4(),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO balances (member_id, balance, debt) VALUES ('omid', 800, 0), ('lena', 300, 0)"
        )
        await conn.execute(
            "INSERT INTO lots (lot_id, member_id, earned_at, expires_at, original, remaining) "
            "VALUES ($1, 'omid', $2, NULL, 800, 800)",
            lot, sale.occurred_at,
        )  # fmt: skip
    finally:
        await conn.close()

    points = ServiceProcess("services.points", stack.env("points"), log_dir)
    services.append(points)
    await points.start().wait_ready()
    for member, balance in (("omid", 800), ("lena", 300)):
        assert await _balances(points, member) == [{"program_id": "main", "balance": balance, "debt": 0}]
    await stack.produce(Topic.PURCHASES, [as_record(refund(sale, utcnow(), Decimal(200)))])
    await eventually(
        lambda: _is(_balances(points, "omid"), [{"program_id": "main", "balance": 600, "debt": 0}]),
        what="the return of a purchase earned before programs",
    )
    remaining = await stack.scalar("points", "SELECT remaining FROM lots WHERE lot_id = $1", lot)
    assert remaining == 600
