"""Ingest through real HTTP and a real Kafka broker: what gets in, what is refused and why."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.deadletter import REASON
from shared.topics import CATALOG, Topic, ensure_topics
from sim.pos import PosSimulator
from tests.support import (
    REPO,
    Infra,
    ServiceProcess,
    Stack,
    api_key,
    at_least,
    decode,
    eventually,
    free_port,
    revoke_key,
)


async def start_ingest(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, **env: str
) -> ServiceProcess:
    ingest = ServiceProcess(
        "services.ingest", stack.env("ingest", VAFA_INGEST_KEY_CACHE_S="0", **env), log_dir
    )
    services.append(ingest)
    ingest.start()
    await ingest.wait_ready()
    return ingest


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def test_a_valid_batch_puts_exactly_those_events_on_the_topic_in_member_order(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    admin = api_key(stack, "admin")
    sim = PosSimulator(members=25, run="batch")
    items = list(sim.purchases(400))

    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        answer = await client.post("/v1/batch", json={"items": items}, headers=bearer(admin))
    assert answer.status_code == 200
    assert answer.json()["summary"] == {"accepted": 400}
    ids = [r["event_id"] for r in answer.json()["results"]]

    records = await stack.read_all(Topic.PURCHASES)
    assert sorted(decode(r)["event_id"] for r in records) == sorted(ids)
    # Keyed by member: each member's purchases sit in one partition, in the order they were sent.
    sent: dict[str, list[str]] = defaultdict(list)
    for item, event_id in zip(items, ids, strict=True):
        sent[item["member_id"]].append(event_id)
    on_topic: dict[str, list[str]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        on_topic[r.key.decode()].append(decode(r)["event_id"])
        partitions[r.key.decode()].add(r.partition)
    assert on_topic == sent
    assert all(len(p) == 1 for p in partitions.values())
    first = decode(records[0])
    assert first["type"] == "purchase.recorded" and first["producer"] == "ingest"


async def test_each_class_of_bad_input_gets_its_problem_and_none_reaches_kafka(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    admin = api_key(stack, "admin")
    sim = PosSimulator(run="bad")
    good = sim.purchase()
    bad = [
        {**sim.purchase(), "total_amount": "1000"},
        {**(jpy := sim.purchase()), "currency": "JPY", "total_amount": jpy["total_amount"] + ".5"},
        {**sim.purchase(), "occurred_at": "2099-01-01T00:00:00+00:00"},
        {**sim.purchase(), "total_amount": 12.5},
        {**sim.purchase(), "lines": []},
        {"kind": "teleport"},
        "not an object",
    ]
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        answer = await client.post("/v1/batch", json={"items": [good, *bad]}, headers=bearer(admin))
        single = await client.post("/v1/purchases", json=bad[0], headers=bearer(admin))
        too_many = await client.post("/v1/batch", json={"items": [good] * 5001}, headers=bearer(admin))
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * len(bad)
    first_rules = [
        (r["problem"]["errors"][0]["field"], r["problem"]["errors"][0]["rule"]) for r in results[1:]
    ]
    assert first_rules == [
        ("total_amount", "receipt_total_mismatch"),
        ("total_amount", "currency_precision"),
        ("occurred_at", "not_in_future"),
        ("total_amount", "money_not_float"),
        ("lines", "lines_required"),
        ("kind", "unknown_kind"),
        ("", "not_an_object"),
    ]
    assert single.status_code == 422
    assert single.headers["content-type"] == "application/problem+json"
    assert single.json()["errors"][0]["rule"] == "receipt_total_mismatch"
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["rule"] == "too_long"
    assert [decode(r)["payload"]["receipt_no"] for r in await stack.read_all(Topic.PURCHASES)] == [
        good["receipt_no"]
    ]


async def test_a_repeated_receipt_is_one_event_and_idempotency_keys_replay_the_answer(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    chain = api_key(stack, "chain", "--chain", "hyperstar")
    sim = PosSimulator(chains={"hyperstar": 3}, run="dup")
    purchase, other = sim.purchase(), sim.purchase()
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        first = await client.post("/v1/purchases", json=purchase, headers=bearer(chain))
        again = await client.post("/v1/purchases", json=purchase, headers=bearer(chain))
        changed = await client.post(
            "/v1/purchases", json={**purchase, "member_id": "someone-else"}, headers=bearer(chain)
        )
        in_batch = await client.post("/v1/batch", json={"items": [other, other]}, headers=bearer(chain))
        keyed = bearer(chain, **{"Idempotency-Key": "pos-7-retry-1"})
        third = sim.purchase()
        original = await client.post("/v1/purchases", json=third, headers=keyed)
        replay = await client.post("/v1/purchases", json=third, headers=keyed)
        misuse = await client.post("/v1/purchases", json=sim.purchase(), headers=keyed)

    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    assert changed.status_code == 409 and changed.json()["event_id"] == first.json()["event_id"]
    assert [r["status"] for r in in_batch.json()["results"]] == ["accepted", "duplicate"]
    assert original.status_code == 202
    assert (replay.status_code, replay.json()) == (202, original.json())
    assert replay.headers["idempotent-replayed"] == "true"
    assert misuse.status_code == 422 and misuse.json()["errors"][0]["rule"] == "idempotency_key_reused"
    receipts = [decode(r)["payload"]["receipt_no"] for r in await stack.read_all(Topic.PURCHASES)]
    assert sorted(receipts) == sorted([purchase["receipt_no"], other["receipt_no"], third["receipt_no"]])


async def test_keys_are_scoped_and_refusals_are_counted_without_the_secret(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    hyperstar = api_key(stack, "chain", "--chain", "hyperstar")
    store_key = api_key(stack, "chain", "--chain", "hyperstar", "--store", "hyperstar-01")
    snapp = api_key(stack, "partner", "--partner", "snapp")
    old = api_key(stack, "chain", "--chain", "hyperstar")
    revoke_key(stack, old)
    sim = PosSimulator(chains={"hyperstar": 2, "refah": 2}, run="keys")
    ours = next(p for p in sim.purchases(50) if p["store_id"] == "hyperstar-02")
    theirs = next(p for p in sim.purchases(50) if p["chain_id"] == "refah")
    partner_purchase = {
        "kind": "partner_purchase", "partner_id": "snapp", "receipt_no": "S-1", "member_id": "m-1",
        "currency": "IRR", "total_amount": "500000", "occurred_at": ours["occurred_at"],
    }  # fmt: skip

    async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
            return (await client.post(path, json=body, headers=headers)).status_code

    assert await post("/v1/purchases", ours, bearer(hyperstar)) == 202
    assert await post("/v1/purchases", theirs, bearer(hyperstar)) == 403
    assert await post("/v1/purchases", ours, bearer(store_key)) == 403  # another store of the chain
    assert await post("/v1/partners/purchases", partner_purchase, bearer(snapp)) == 202
    digikala = {**partner_purchase, "partner_id": "digikala", "receipt_no": "D-1"}
    assert await post("/v1/partners/purchases", digikala, bearer(snapp)) == 403
    assert await post("/v1/partners/purchases", partner_purchase, bearer(hyperstar)) == 403
    assert await post("/v1/purchases", ours, bearer(snapp)) == 403
    assert await post("/v1/purchases", ours, bearer(old)) == 401  # revoked: rotation done
    assert await post("/v1/purchases", ours, {}) == 401
    assert await post("/v1/purchases", ours, bearer(hyperstar[:-2] + "xx")) == 401

    assert await ingest.metric("vafa_http_refused_total", status="401", reason="revoked") == 1
    assert await ingest.metric("vafa_http_refused_total", status="401", reason="missing") == 1
    assert await ingest.metric("vafa_http_refused_total", status="401", reason="unknown") == 1
    assert await ingest.metric("vafa_ingest_items_total", outcome="forbidden") == 5
    log = ingest.log_path.read_text()
    assert all(token.split("_", 2)[2] not in log for token in (hyperstar, store_key, snapp, old))


async def test_pos_systems_producing_to_the_raw_topic_get_the_same_validation(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    admin = api_key(stack, "admin")
    sim = PosSimulator(run="raw")
    over_http, raw_only = sim.purchase(), sim.purchase()
    broken = {**sim.purchase(), "total_amount": "1"}
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        assert (await client.post("/v1/purchases", json=over_http, headers=bearer(admin))).status_code == 202
    await stack.produce(
        Topic.POS_RAW,
        [(b"terminal-3", orjson.dumps(item)) for item in (raw_only, over_http, broken)] + [(None, b"{oops")],
    )

    letters = await eventually(lambda: at_least(stack.read_all("deadletter.ingest"), 2), what="dead letters")
    reasons = sorted(dict(r.headers)[REASON].decode() for r in letters)
    assert reasons[0].startswith("not JSON")
    assert reasons[1].startswith("total_amount: receipt_total_mismatch")
    records = await eventually(lambda: at_least(stack.read_all(Topic.PURCHASES), 2), what="forwarded")
    by_receipt = {decode(r)["payload"]["receipt_no"]: r for r in records}
    # The raw purchase went on, re-keyed by member; the one already sent over HTTP did not go twice.
    assert sorted(by_receipt) == sorted([over_http["receipt_no"], raw_only["receipt_no"]])
    assert len(records) == 2
    assert by_receipt[raw_only["receipt_no"]].key == raw_only["member_id"].encode()


async def test_pos_raw_records_delivered_again_are_skipped_and_a_resend_is_judged_by_its_receipt(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """``pos.raw`` is claimed by Kafka offset, not by an inbox row per record: the same records
    delivered again (the group's offsets sent back, as after a crash before the commit) have no
    effect, not even a second dead letter; what a POS sends again, at new offsets, is judged by its
    receipt as over HTTP (the same content: nothing; other content: a conflict)."""
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    sim = PosSimulator(run="again")
    first, second, third = sim.purchase(), sim.purchase(), sim.purchase()

    async def settled() -> bool:
        return await stack.committed_offsets("ingest", Topic.POS_RAW) == await stack.end_offsets(
            Topic.POS_RAW
        )

    key = b"terminal-5"
    await stack.produce(Topic.POS_RAW, [(key, orjson.dumps(i)) for i in (first, second)] + [(key, b"{oops")])
    await eventually(settled, what="first records committed")
    await stack.produce(Topic.POS_RAW, [(key, orjson.dumps(third)), (key, b"[oops")])
    await eventually(settled, what="later records committed")
    assert len(await stack.read_all(Topic.PURCHASES)) == 3
    assert len(await stack.read_all("deadletter.ingest")) == 2
    # The first batch on a partition is claimed in the inbox (what was applied before the marks
    # existed is there); the later one only moves the partition's mark.
    inbox_rows = await stack.scalar("ingest", "SELECT count(*) FROM inbox")
    assert inbox_rows <= 3

    ingest.stop()
    await stack.rewind("ingest", Topic.POS_RAW)
    ingest.start()
    await ingest.wait_ready()
    await eventually(settled, what="records delivered again committed")
    assert await ingest.metric("vafa_events_total", outcome="duplicate") == 5
    moved = {**second, "total_amount": str(Decimal(second["total_amount"]) + 1)}
    moved["tenders"] = [{**second["tenders"][0], "amount": moved["total_amount"]}]
    moved["lines"] = [
        *second["lines"],
        {**second["lines"][0], "quantity": "1", "amount": "1", "unit_price": "1"},
    ]
    await stack.produce(Topic.POS_RAW, [(key, orjson.dumps(first)), (key, orjson.dumps(moved))])
    await eventually(settled, what="resends committed")

    assert len(await stack.read_all(Topic.PURCHASES)) == 3
    letters = await stack.read_all("deadletter.ingest")
    reasons = sorted(dict(r.headers)[REASON].decode().split(":")[0] for r in letters)
    assert reasons == ["conflict", "not JSON", "not JSON"]
    assert await ingest.metric("vafa_events_total", outcome="duplicate") == 6
    assert await stack.scalar("ingest", "SELECT count(*) FROM inbox") == inbox_rows


async def test_pos_raw_created_again_is_read_afresh_not_taken_for_records_ingest_has_seen(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Deleted and created again, ``pos.raw`` numbers its records from 0 again, below ingest's marks:
    before a partition's first batch, a mark at or past its end is dropped, so nothing new is skipped."""
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir)
    sim = PosSimulator(run="anew")
    key = b"terminal-6"
    before, after = [sim.purchase() for _ in range(4)], [sim.purchase() for _ in range(2)]
    await stack.produce(Topic.POS_RAW, [(key, orjson.dumps(i)) for i in before])
    await eventually(lambda: at_least(stack.read_all(Topic.PURCHASES), 4), what="first purchases")
    ingest.stop()

    topic = stack.topic(Topic.POS_RAW)
    admin = AIOKafkaAdminClient(**stack.infra.kafka_client())
    await admin.start()
    try:
        await admin.delete_topics([topic])

        async def gone() -> bool:
            return topic not in await admin.list_topics()

        await eventually(gone, what="pos.raw deleted")
    finally:
        await admin.close()
    await ensure_topics(
        stack.infra.kafka_client(), [s for s in CATALOG if s.name == Topic.POS_RAW], stack.prefix
    )
    ingest.start()
    await ingest.wait_ready()
    await stack.produce(Topic.POS_RAW, [(key, orjson.dumps(i)) for i in after])

    records = await eventually(lambda: at_least(stack.read_all(Topic.PURCHASES), 6), what="new purchases")
    receipts = sorted(decode(r)["payload"]["receipt_no"] for r in records)
    assert receipts == sorted(i["receipt_no"] for i in before + after)
    assert "mark dropped" in ingest.log_path.read_text()


async def vafactl(command: str, env: dict[str, str]) -> None:
    await asyncio.to_thread(
        subprocess.run, [str(REPO / "deploy/local/vafactl"), command], env=env, check=True
    )


@pytest.fixture
def private_kafka(infra: Infra, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Kafka broker of this test's own, so it can be stopped without disturbing the others (its
    principals get the passwords of the shared broker's, so the same Infra connects)."""
    env = {
        **os.environ,
        **({"VAFA_KAFKA_CREDENTIALS_DIR": infra.kafka_credentials} if infra.kafka_credentials else {}),
        "VAFA_STATE_DIR": str(tmp_path / "kafka-state"),
        "VAFA_KAFKA_PORT": str(free_port()),
        "VAFA_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    subprocess.run([str(REPO / "deploy/local/vafactl"), "kafka-up"], env=env, check=True)
    yield env
    subprocess.run([str(REPO / "deploy/local/vafactl"), "kafka-down"], env=env, check=False)


async def test_broker_down_is_503_with_retry_after_and_nothing_half_written(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, private_kafka: dict[str, str]
) -> None:
    stack.infra = replace(stack.infra, kafka=f"127.0.0.1:{private_kafka['VAFA_KAFKA_PORT']}")
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir, VAFA_INGEST_PUBLISH_TIMEOUT_S="3")
    admin = api_key(stack, "admin")
    sim = PosSimulator(run="down")
    before, during = sim.purchase(), sim.purchase()
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        assert (await client.post("/v1/purchases", json=before, headers=bearer(admin))).status_code == 202
        await vafactl("kafka-down", private_kafka)
        refused = await client.post("/v1/purchases", json=during, headers=bearer(admin))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers["content-type"] == "application/problem+json"
        assert await stack.scalar("ingest", "SELECT count(*) FROM receipts") == 1  # only `before`

        await vafactl("kafka-up", private_kafka)
        retried = await eventually(
            lambda: _accepted(client, during, admin), timeout=60, what="accepted once Kafka is back"
        )
    assert retried == 202  # recorded afresh, not "duplicate": the refused attempt left nothing
    receipts = [decode(r)["payload"]["receipt_no"] for r in await stack.read_all(Topic.PURCHASES)]
    assert sorted(set(receipts)) == sorted([before["receipt_no"], during["receipt_no"]])
    assert await ingest.metric("vafa_ingest_requests_refused_total", reason="broker_unavailable") >= 1


async def _accepted(client: httpx.AsyncClient, item: dict[str, Any], key: str) -> int | None:
    status = (await client.post("/v1/purchases", json=item, headers=bearer(key))).status_code
    return status if status in (200, 202) else None


async def test_more_than_the_in_flight_bound_is_429_with_retry_after(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest")
    ingest = await start_ingest(stack, services, log_dir, VAFA_INGEST_MAX_IN_FLIGHT="100")
    admin = api_key(stack, "admin")
    sim = PosSimulator(run="busy")
    batches = [list(sim.purchases(80)) for _ in range(12)]
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/batch", json={"items": b}, headers=bearer(admin)) for b in batches)
        )
    statuses = sorted(a.status_code for a in answers)
    assert 200 in statuses and 429 in statuses, statuses
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.headers["retry-after"] == "1"
    # What was accepted is on the topic; what was throttled is not, and may simply be sent again.
    accepted = {r["event_id"] for a in answers if a.status_code == 200 for r in a.json()["results"]}
    assert {decode(r)["event_id"] for r in await stack.read_all(Topic.PURCHASES)} == accepted
