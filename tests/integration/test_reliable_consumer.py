"""The backbone's promises, proven against a real Kafka broker, PostgreSQL and real processes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

from shared.contracts import POINTS_EARNED
from shared.deadletter import REASON, SOURCE_OFFSET
from shared.topics import Topic
from tests.pointsflow import (
    all_committed,
    assert_ledger_matches,
    balance_is,
    earned_events,
    expected_balances,
    ledger_count,
    len_distinct_earned,
    points,
    stream,
)
from tests.support import ServiceProcess, Stack, as_record, at_least, eventually, purchase


async def test_batch_commits_state_inbox_and_outbox_together_then_offsets(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    purchases = stream(60)
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in purchases])

    service = points(stack, services, log_dir).start()
    await service.wait_ready()
    await eventually(lambda: all_committed(stack), what="offsets committed")

    await assert_ledger_matches(stack, purchases)
    assert await stack.scalar("points", "SELECT count(*) FROM inbox WHERE outcome = 'applied'") == 60
    # Each record's wait, from its timestamp to its batch: produced before the service started, the
    # 60 waited at least as long as the service took to start.
    assert await service.metric("vafa_consumer_record_wait_seconds_count") == 60
    assert await service.metric("vafa_consumer_record_wait_seconds_sum") > 60 * 0.5
    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 0 FROM outbox"), what="outbox drained")
    events = await earned_events(stack)
    assert sorted(e["payload"]["purchase_event_id"] for e in events) == sorted(
        str(p.event_id) for p in purchases
    )
    # Each points.earned explains itself and names its cause.
    by_cause = {e["causation_id"]: e for e in events}
    first = purchases[0]
    earned = by_cause[str(first.event_id)]
    assert earned["type"] == POINTS_EARNED.name and earned["key"] == first.key
    assert earned["payload"]["points"] == int(first.payload.total_amount)
    assert earned["payload"]["rules"][0]["points"] == earned["payload"]["points"]
    # The balance in the event is the member's running balance at that purchase.
    last_per_member = {e["key"]: e["payload"]["balance"] for e in events}
    assert last_per_member == expected_balances(purchases)


async def crash_at(
    failpoint: str, stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> tuple[list[Any], ServiceProcess]:
    """25 purchases waiting; the points service started and SIGKILLed at ``failpoint``."""
    await stack.create("points")
    purchases = stream(25)
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in purchases])
    service = points(stack, services, log_dir).start(VAFA_FAILPOINTS=failpoint)
    assert await service.wait_exit() == -9
    return purchases, service


async def test_killed_before_db_commit_then_restarted_applies_each_event_once(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    purchases, service = await crash_at("before_db_commit", stack, services, log_dir)
    assert await ledger_count(stack) == 0
    assert await stack.scalar("points", "SELECT count(*) FROM inbox") == 0
    assert await stack.scalar("points", "SELECT count(*) FROM outbox") == 0
    assert await stack.committed_offsets("points", Topic.PURCHASES) == {}

    service.start()
    await eventually(lambda: all_committed(stack), what="offsets committed after restart")
    await assert_ledger_matches(stack, purchases)
    await eventually(lambda: len_distinct_earned(stack, 25), what="25 points.earned")


async def test_killed_after_db_commit_before_offset_commit_has_no_double_effect(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    purchases, service = await crash_at("after_db_commit", stack, services, log_dir)
    applied_before_crash = await ledger_count(stack)
    assert applied_before_crash > 0
    assert await stack.committed_offsets("points", Topic.PURCHASES) == {}

    service.start()
    await service.wait_ready()
    await eventually(lambda: all_committed(stack), what="offsets committed after restart")
    await assert_ledger_matches(stack, purchases)
    # The redelivered events were recognised, not applied again.
    assert await service.metric("vafa_events_total", outcome="duplicate") == applied_before_crash
    await eventually(lambda: len_distinct_earned(stack, 25), what="25 points.earned")


async def test_same_event_delivered_again_has_one_effect(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Re-published by a producer, and re-delivered when the group's offsets go back (as when a
    rebalance hands partitions to a member that never saw the commit)."""
    await stack.create("points")
    purchases = stream(12)
    again = purchases[3]
    records = [as_record(p) for p in purchases] + [as_record(again)] * 3
    await stack.produce(Topic.PURCHASES, records)

    service = points(stack, services, log_dir).start()
    await service.wait_ready()
    await eventually(lambda: all_committed(stack), what="offsets committed")
    await assert_ledger_matches(stack, purchases)
    assert await service.metric("vafa_events_total", outcome="duplicate") == 3

    # Graceful stop drains and commits; then the group's offsets are sent back to the start.
    service.stop()
    assert "Application shutdown complete" in service.tail()
    await stack.rewind("points", Topic.PURCHASES)

    service.start()
    await service.wait_ready()
    await eventually(
        lambda: service.metric("vafa_events_total", outcome="duplicate"),
        what="redelivered records seen",
    )
    await eventually(lambda: all_committed(stack), what="offsets committed again")
    assert await service.metric("vafa_events_total", outcome="duplicate") == len(records)
    assert await service.metric("vafa_events_total", outcome="applied") == 0
    await assert_ledger_matches(stack, purchases)


async def test_poison_records_go_to_the_dead_letter_topic_and_the_rest_flow(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    good_before, good_after = purchase("member-a", "10.00"), purchase("member-a", "5.50")
    negative = orjson.loads(purchase("member-b", "1.00").to_bytes())
    negative["payload"]["total_amount"] = "-3.00"
    unknown = {
        **orjson.loads(good_before.to_bytes()),
        "type": "purchase.teleported",
        "event_id": str(uuid.uuid4()),
    }
    poison: list[tuple[bytes | None, bytes]] = [
        (b"member-a", b"\xff\xfe not json"),
        (b"member-a", b"[1, 2, 3]"),
        (b"member-a", orjson.dumps(unknown)),
        (b"member-b", orjson.dumps(negative)),
    ]
    # Same key, same partition: the poison sits between two good purchases of one member.
    await stack.produce(Topic.PURCHASES, [as_record(good_before), *poison, as_record(good_after)])

    service = points(stack, services, log_dir).start()
    await service.wait_ready()
    dead_topic = "deadletter.points"
    letters = await eventually(lambda: at_least(stack.read_all(dead_topic), 4), what="four dead letters")

    reasons = {bytes(r.value): dict(r.headers)[REASON].decode() for r in letters}
    assert reasons[b"\xff\xfe not json"].startswith("not JSON")
    assert reasons[b"[1, 2, 3]"] == "not a JSON object but list"
    assert reasons[orjson.dumps(unknown)].startswith("unknown event type 'purchase.teleported'")
    assert "payload.total_amount" in reasons[orjson.dumps(negative)]
    assert all(dict(r.headers)[SOURCE_OFFSET] for r in letters)
    assert await eventually(lambda: balance_is(stack, "member-a", 15), what="good records applied")
    assert await stack.scalar("points", "SELECT count(*) FROM ledger") == 2
    assert await service.metric("vafa_events_total", outcome="dead_lettered") == 4
    await service.wait_ready(timeout=5)  # and it is still serving
