"""Retention: what each store keeps is bounded, and what is inside the window still does its job. An
inbox row past the dedupe window is deleted, one inside it still recognises a redelivered event; the
answers kept for Idempotency-Key go after a day; a delivery's log goes after its keep unless it is
still to be sent."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.topics import Topic
from tests.support import ServiceProcess, Stack, api_key, as_record, eventually, purchase, running

PROMPTLY = {"VAFA_RETENTION_INTERVAL_S": "0.5"}


async def test_inbox_rows_past_the_dedupe_window_go_and_a_redelivery_inside_it_is_still_a_duplicate(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    points = await running(stack, services, log_dir, "points", **PROMPTLY)
    old = [purchase(f"m-{i}", "1000") for i in range(5)]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in old])
    await eventually(lambda: stack.scalar("points", "SELECT count(*) = 5 FROM inbox"), what="old applied")
    aged = "UPDATE inbox SET processed_at = now() - interval '31 days' WHERE event_id = ANY($1::uuid[])"
    await stack.query("points", aged, [p.event_id for p in old])

    recent = [purchase(f"m-{i}", "2000") for i in range(5)]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in recent])
    kept = "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])"
    # Applied first (pruning runs on its own clock and can finish before the second batch is consumed).
    await eventually(
        lambda: _equal(stack.scalar("points", kept, [p.event_id for p in recent]), 5), what="recent applied"
    )
    await eventually(
        lambda: _equal(stack.scalar("points", kept, [p.event_id for p in old]), 0), what="old rows pruned"
    )
    assert await stack.scalar("points", kept, [p.event_id for p in recent]) == 5

    # The same records again, as Kafka would redeliver them: no second effect.
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in recent])
    await eventually(
        lambda: _at_least(points.metric("vafa_events_total", outcome="duplicate"), 5), what="dup"
    )
    balances = await stack.query("points", "SELECT balance FROM balances ORDER BY member_id")
    assert [b["balance"] for b in balances] == [3000] * 5


async def test_idempotency_answers_go_after_a_day_and_deliveries_after_their_keep_unless_queued(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest", **PROMPTLY)
    await running(stack, services, log_dir, "notify", VAFA_NOTIFY_DELIVERIES_RETENTION_DAYS="90", **PROMPTLY)
    headers = {"Authorization": f"Bearer {api_key(stack, 'admin')}"}
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        for key in ("yesterday", "today"):
            enrolment = {"member_id": f"m-{key}", "chain_id": "c", "occurred_at": "2026-11-01T10:00:00Z"}
            answer = await client.post(
                "/v1/members", json=enrolment, headers=headers | {"Idempotency-Key": key}
            )
            assert answer.status_code == 202
    aged = "UPDATE idempotency SET created_at = now() - interval '25 hours' WHERE idempotency_key = $1"
    await stack.query("ingest", aged, "yesterday")
    keys = "SELECT array_agg(idempotency_key ORDER BY idempotency_key) FROM idempotency"
    await eventually(lambda: _equal(stack.scalar("ingest", keys), ["today"]), what="yesterday's answer gone")

    log = (
        "INSERT INTO deliveries (source_event_id, channel, member_id, source_type, status, send_after,"
        " created_at) VALUES (gen_random_uuid(), 'email', 'm-1', 'points.earned', $1,"
        " now() + interval '1 day', now() - make_interval(days => $2))"  # not due: the sender leaves it
    )
    for status, age in (("sent", 91), ("queued", 91), ("sent", 89)):
        await stack.query("notify", log, status, age)
    old = "(now() - created_at > interval '90 days')"
    left = f"SELECT array_agg(status || ' ' || {old} ORDER BY status) FROM deliveries"
    await eventually(
        lambda: _equal(stack.scalar("notify", left), ["queued true", "sent false"]),
        what="old sent one pruned",
    )


async def _equal(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return bool(await value == expected)


async def _at_least(value, n: float) -> bool:  # type: ignore[no-untyped-def]
    return bool(await value >= n)
