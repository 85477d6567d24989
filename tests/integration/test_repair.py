"""Repair: dead letters re-driven after a fix, with a record of what was sent; a store rebuilt from the
topics gives the same state."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

import orjson

from shared.contracts.envelope import utcnow
from shared.repair import REDRIVEN_FROM
from shared.topics import Topic
from tests.support import (
    REPO,
    ServiceProcess,
    Stack,
    as_record,
    at_least,
    decode,
    eventually,
    purchase,
    running,
)


async def repair(
    stack: Stack, service: str, cwd: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """The repair command with the service's settings. Redrive writes to topics other services own,
    so it runs as the admin principal; rebuild needs only the service's own (its group)."""
    kafka = stack.infra.principal_env() if args[0] == "redrive" else {}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.repair", *args],
        cwd=cwd,
        env=os.environ | stack.env(service, VAFA_SERVICE_NAME=service, PYTHONPATH=str(REPO), **env) | kafka,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_dead_letters_are_re_driven_after_the_fix_and_recorded(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    # A till whose clock runs an hour fast: ingest refuses its receipt (future timestamp).
    item = {
        "kind": "purchase", "chain_id": "hyperstar", "store_id": "hyperstar-01", "receipt_no": "FAST-1",
        "member_id": "0912000009", "currency": "IRR", "total_amount": "250000",
        "lines": [{"sku": "nan", "category": "bakery", "quantity": "1", "unit_price": "250000",
                   "amount": "250000"}],
        "occurred_at": (utcnow() + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    await stack.produce(Topic.POS_RAW, [(b"till-7", orjson.dumps(item))])
    (letter,) = await eventually(
        lambda: at_least(stack.read_all("deadletter.ingest"), 1), what="a dead letter"
    )
    assert "future" in dict(letter.headers)["vafa-dlq-reason"].decode()

    # The fix: the operator allows that chain's clock skew; then re-drives.
    ingest.stop()
    ingest.start(VAFA_INGEST_MAX_CLOCK_SKEW_S="7200")
    await ingest.wait_ready()
    dry = await repair(stack, "ingest", tmp_path, "redrive", "--dry-run")
    assert "would re-drive 1 dead letter(s)" in dry.stdout, dry.stderr
    done = await repair(stack, "ingest", tmp_path, "redrive", "--reason-contains", "future")
    assert "re-drove 1 dead letter(s)" in done.stdout, done.stderr
    (record_file,) = (tmp_path / "repairs").iterdir()
    recorded = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert recorded and recorded[0]["dead_letter"].endswith(":0:0") and "future" in recorded[0]["reason"]

    forwarded = await eventually(lambda: at_least(stack.read_all(Topic.PURCHASES), 1), what="the purchase")
    assert [decode(r)["payload"]["receipt_no"] for r in forwarded] == ["FAST-1"]
    raw = [r for r in await stack.read_all(Topic.POS_RAW) if dict(r.headers).get(REDRIVEN_FROM)]
    assert len(raw) == 1 and raw[0].value == letter.value
    # Next time from where this one stopped: nothing is sent twice.
    again = await repair(stack, "ingest", tmp_path, "redrive", "--from-offset", "1")
    assert "re-drove 0 dead letter(s)" in again.stdout, again.stderr


async def test_a_store_rebuilt_from_offset_zero_has_the_same_state(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    tiers = await running(stack, services, log_dir, "tiers")
    amounts = {"m-1": "30000000", "m-2": "110000000", "m-3": "600000000"}
    sales = [purchase(member, amount) for member, amount in amounts.items() for _ in range(2)]
    await stack.produce(Topic.PURCHASES, [as_record(p) for p in sales])
    query = "SELECT member_id, tier, since FROM standings ORDER BY member_id"

    async def standings() -> list[dict[str, object]]:
        return [dict(r) for r in await stack.query("tiers", query)]

    before = await eventually(lambda: _rows(standings(), 3), what="three standings")
    assert [r["tier"] for r in before] == ["Silver", "Gold", "Platinum"]

    refused = await repair(stack, "tiers", tmp_path, "rebuild", "--yes")
    assert refused.returncode != 0 and "stop the service first" in refused.stderr
    tiers.stop()  # a clean stop leaves the consumer group at once
    await tiers.wait_exit()
    rebuilt = await repair(stack, "tiers", tmp_path, "rebuild", "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    await tiers.start().wait_ready()
    after = await eventually(lambda: _rows(standings(), 3), what="the standings again")
    assert after == before


async def _rows(rows: Awaitable[list[dict[str, object]]], n: int) -> list[dict[str, object]] | None:
    found = await rows
    return found if len(found) >= n else None


async def test_an_event_dead_lettered_by_a_fault_is_applied_when_re_driven_after_the_fix(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    """The inbox remembers the event as dead-lettered: re-driven to points it is applied there, and
    tiers, which applied it the first time, ignores the copy."""
    points = await running(stack, services, log_dir, "points")
    tiers = await running(stack, services, log_dir, "tiers")
    bug = await stack.pg(stack.database("points"))
    try:  # a fault in points' store for one member: what a bug in a handler looks like from outside
        await bug.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.member_id = 'm-bug' THEN RAISE EXCEPTION 'bug' USING ERRCODE = '22023'; END IF;"
            " RETURN NEW; END $$;"
            " CREATE TRIGGER refuse BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
        sales = [purchase("m-ok", "1000"), purchase("m-bug", "2000"), purchase("m-ok", "3000")]
        await stack.produce(Topic.PURCHASES, [as_record(p) for p in sales])
        (letter,) = await eventually(lambda: at_least(stack.read_all("deadletter.points"), 1), what="letter")
        assert "SQLSTATE 22023" in dict(letter.headers)["vafa-dlq-reason"].decode()
        # The purchase after the poisoned one is applied in a transaction of its own, after the letter's.
        ok = "SELECT balance = 4000 FROM balances WHERE member_id = 'm-ok'"
        await eventually(lambda: stack.scalar("points", ok), what="m-ok's purchases applied around it")
        await bug.execute("DROP TRIGGER refuse ON ledger")  # the fix
    finally:
        await bug.close()
    spend = "SELECT sum(spend) FROM activity_events"
    tiers_before = await stack.scalar("tiers", spend)

    done = await repair(stack, "points", tmp_path, "redrive")
    assert "re-drove 1 dead letter(s)" in done.stdout, done.stderr
    balance = "SELECT balance FROM balances WHERE member_id = 'm-bug'"
    assert await eventually(lambda: stack.scalar("points", balance), what="applied after the fix") == 2000
    await eventually(lambda: _consumed(stack, "tiers"), what="tiers read the copy")
    assert await stack.scalar("tiers", spend) == tiers_before == 6000
    assert await tiers.metric("vafa_events_total", outcome="ignored") >= 1
    assert await points.metric("vafa_events_total", outcome="dead_lettered") == 1  # once, not again


async def test_redrive_passes_over_what_has_no_source_topic(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    """notify's dead letters are messages it could not deliver, not refused records: nothing to send
    back, and redrive says so instead of failing."""
    await running(stack, services, log_dir, "notify")
    undelivered = [("vafa-dlq-reason", b"550 no such mailbox"), ("vafa-dlq-channel", b"email")]
    await stack.produce("deadletter.notify", [(b"m-1", b"Your points...")], headers=undelivered)
    done = await repair(stack, "notify", tmp_path, "redrive")
    assert done.returncode == 0, done.stderr
    assert "re-drove 0 dead letter(s)" in done.stdout and "no source topic" in done.stdout


async def _consumed(stack: Stack, service: str) -> bool:
    return await stack.committed_offsets(service, Topic.PURCHASES) == await stack.end_offsets(Topic.PURCHASES)
