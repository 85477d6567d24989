"""Returns at ingest's boundary, through the real broker and every store that counts them: a return must
follow its recorded sale and never refund more than it sold. Refused over HTTP (422 naming the rule) or
dead-lettered from ``pos.raw`` (with the rule), it reaches no tier, no ledger and no analytics fact."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from shared.contracts.envelope import utcnow
from shared.deadletter import REASON
from shared.topics import Topic
from tests.support import ServiceProcess, Stack, api_key, at_least, decode, eventually, running

MEMBER = "0912777001"
LETTERS = "deadletter.ingest"


def value(stores: dict[str, Any]) -> Decimal:
    return Decimal(str(stores["tiers qualifying value"]))


def sale(receipt: str, total: str) -> dict[str, Any]:
    line = {"sku": "rice-5kg", "category": "grocery", "quantity": "1", "unit_price": total, "amount": total}
    return {"kind": "purchase", "chain_id": "hyperstar", "store_id": "hyperstar-01", "receipt_no": receipt,
            "member_id": MEMBER, "currency": "IRR", "lines": [line], "total_amount": total,
            "occurred_at": utcnow().isoformat()}  # fmt: skip


def give_back(return_no: str, receipt: str, amount: str) -> dict[str, Any]:
    line = {"sku": "rice-5kg", "quantity": "1", "amount": amount}
    return {"kind": "return", "chain_id": "hyperstar", "store_id": "hyperstar-02", "return_no": return_no,
            "original_store_id": "hyperstar-01", "original_receipt_no": receipt, "member_id": MEMBER,
            "currency": "IRR", "lines": [line], "refund_amount": amount,
            "occurred_at": utcnow().isoformat()}  # fmt: skip


def single(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "kind"}


async def pipeline(stack: Stack, services: list[ServiceProcess], log_dir: Path) -> dict[str, ServiceProcess]:
    started = {}
    for name in ("ingest", "points", "tiers", "analytics"):
        started[name] = await running(stack, services, log_dir, name, VAFA_INGEST_KEY_CACHE_S="0")
    return started


async def stores(stack: Stack, tiers: ServiceProcess) -> dict[str, Any]:
    """What each store says of the member: what would move if a refused return got through."""
    async with tiers.client(timeout=10) as client:
        tier = await client.get(f"/v1/members/{MEMBER}/tier")
    points, analytics = "points", "analytics"
    return {
        "tiers qualifying value": tier.json()["qualifying_value"] if tier.status_code == 200 else None,
        "points balance": await stack.scalar(
            points, "SELECT balance FROM balances WHERE member_id = $1", MEMBER
        ),
        "points reversals": await stack.scalar(points, "SELECT count(*) FROM ledger WHERE kind = 'reverse'"),
        "analytics purchases": await stack.scalar(
            analytics, "SELECT coalesce(sum(amount), 0) FROM purchases"
        ),
        "analytics refunds": await stack.scalar(analytics, "SELECT coalesce(sum(refund), 0) FROM returns"),
    }


async def settled(
    stack: Stack, tiers: ServiceProcess, purchased: int, refunded: int
) -> dict[str, Any] | None:
    """The stores once the purchases (and refunds) sent so far have reached all of them."""
    now = await stores(stack, tiers)
    done = (
        now["analytics purchases"] == purchased
        and now["analytics refunds"] == refunded
        and now["points balance"] == purchased - refunded
        and now["tiers qualifying value"] is not None
        # tiers too: each store hears of an event in its own time
        and Decimal(str(now["tiers qualifying value"])) == purchased - refunded
    )
    return now if done else None


async def test_a_return_of_an_unknown_receipt_or_past_its_sale_is_refused_and_changes_no_store(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    run = await pipeline(stack, services, log_dir)
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', 'hyperstar')}"}
    async with httpx.AsyncClient(base_url=run["ingest"].url, timeout=30) as client:
        sold = await client.post("/v1/purchases", json=single(sale("R-1", "300000")), headers=key)
        assert sold.status_code == 202
        before = await eventually(lambda: settled(stack, run["tiers"], 300_000, 0), timeout=60, what="sale")

        unknown = await client.post(
            "/v1/returns", json=single(give_back("T-1", "R-404", "1000")), headers=key
        )
        too_much = await client.post(
            "/v1/returns", json=single(give_back("T-2", "R-1", "300001")), headers=key
        )
        batch = await client.post(
            "/v1/batch",
            json={
                "items": [
                    give_back("T-3", "R-405", "1000"),
                    give_back("T-4", "R-1", "200000"),
                    give_back("T-5", "R-1", "100001"),
                ]
                # 200,000 of the 300,000 are refunded by T-4 just before: T-5 is one rial too many
            },
            headers=key,
        )
        # A purchase after them, on the member's partition: once it is counted, they would have been.
        marker = await client.post("/v1/purchases", json=single(sale("R-2", "50000")), headers=key)
    for answer, rule in ((unknown, "original_receipt_unknown"), (too_much, "refund_exceeds_sale")):
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
        assert [e["rule"] for e in answer.json()["errors"]] == [rule]
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted", "rejected"]
    assert [results[i]["problem"]["errors"][0]["rule"] for i in (0, 2)] == [
        "original_receipt_unknown",
        "refund_exceeds_sale",
    ]
    assert marker.status_code == 202
    after = await eventually(
        lambda: settled(stack, run["tiers"], 350_000, 200_000), timeout=60, what="marker"
    )
    # Only the valid partial return moved anything, by exactly its refund.
    assert after["points reversals"] == 1 and before["points reversals"] == 0
    assert after["analytics refunds"] == 200_000
    assert (
        Decimal(str(after["tiers qualifying value"]))
        == Decimal(str(before["tiers qualifying value"])) + 50_000 - 200_000
    )
    returns = [
        decode(r) for r in await stack.read_all(Topic.PURCHASES) if decode(r)["type"] == "return.recorded"
    ]
    assert [r["payload"]["return_no"] for r in returns] == ["T-4"]


async def test_a_return_on_pos_raw_before_its_sale_is_dead_lettered_and_counts_once_sent_after_it(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    run = await pipeline(stack, services, log_dir)
    early = give_back("T-1", "R-1", "100000")
    keyed = MEMBER.encode()
    await stack.produce(
        Topic.POS_RAW, [(keyed, orjson.dumps(early)), (keyed, orjson.dumps(sale("R-1", "300000")))]
    )
    letters = await eventually(
        lambda: at_least(stack.read_all("deadletter.ingest"), 1), timeout=60, what="letter"
    )
    assert len(letters) == 1 and "original_receipt_unknown" in dict(letters[0].headers)[REASON].decode()
    tiers = run["tiers"]
    before = await eventually(lambda: settled(stack, tiers, 300_000, 0), timeout=60, what="sale")
    assert before["points reversals"] == 0 and before["analytics refunds"] == 0

    # The POS sends it again once the sale is recorded: judged afresh, it is applied, once.
    await stack.produce(Topic.POS_RAW, [(keyed, orjson.dumps(early)), (keyed, orjson.dumps(early))])
    after = await eventually(
        lambda: settled(stack, run["tiers"], 300_000, 100_000), timeout=60, what="return"
    )
    assert after["points reversals"] == 1
    assert (
        Decimal(str(after["tiers qualifying value"]))
        == Decimal(str(before["tiers qualifying value"])) - 100_000
    )
    assert len(await stack.read_all("deadletter.ingest")) == 1
