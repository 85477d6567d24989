"""A member's contact data is held by ingest alone (never on the bus), found by support through a keyed
hash, used by notify when it sends; erased, no store and no topic yields it, a rebuild from offset 0
does not bring it back, and balances and KPIs are what they were."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.topics import CATALOG, dead_letter_spec
from sim.mail import Mailbox
from tests.support import (
    REPO,
    ServiceProcess,
    Stack,
    all_five,
    api_key,
    bearer,
    eventually,
    member,
    operator,
)

pytestmark = pytest.mark.infra

EMAIL, PHONE, CARD = "shirin.erasable@mail.example", "+989121234567", "HYP-7731-0042"
NEW_PHONE = "+989357654321"
SERVICES = ("ingest", "points", "tiers", "notify", "analytics")


async def _tables(stack: Stack, service: str) -> list[str]:
    rows = await stack.query(
        service, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return [r["tablename"] for r in rows]


async def _stores_holding(stack: Stack, *values: str) -> list[str]:
    """Every table of every service's database with a row whose text holds any of ``values``."""
    found = []
    for service in SERVICES:
        for table in await _tables(stack, service):
            for value in values:
                hits = await stack.scalar(
                    service, f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE $1', f"%{value}%"
                )
                if hits and f"{service}.{table}" not in found:
                    found.append(f"{service}.{table}")
    return found


async def _topics_holding(stack: Stack, *values: str) -> list[str]:
    found = []
    names = [spec.name for spec in CATALOG] + [dead_letter_spec(s).name for s in SERVICES]
    for name in names:
        for record in await stack.read_all(name, timeout=5):
            blob = (record.value or b"") + b"".join(v for _, v in record.headers)
            if any(value.encode() in blob for value in values):
                found.append(f"{name}@{record.partition}:{record.offset}")
    return found


async def _rebuild(stack: Stack, process: ServiceProcess, service: str, cwd: Path) -> None:
    process.stop()
    await process.wait_exit()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.repair", "rebuild", "--yes"],
        cwd=cwd,
        env=os.environ | stack.env(service, VAFA_SERVICE_NAME=service, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    await process.start().wait_ready()


async def test_an_erased_member_is_in_no_store_and_no_topic_even_after_a_rebuild_and_the_sums_hold(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    run = await all_five(
        stack, services, log_dir,
        VAFA_NOTIFY_SMTP_PORT=str(port), VAFA_NOTIFY_SEND_INTERVAL_S="0.2",
        VAFA_NOTIFY_QUIET_FROM="00:00", VAFA_NOTIFY_QUIET_UNTIL="00:00",
        VAFA_POINTS_EARN_RATE="0.0001",
    )  # fmt: skip
    await _scenario(stack, run, inbox, tmp_path)


async def _scenario(stack: Stack, run: dict[str, ServiceProcess], inbox: Mailbox, tmp_path: Path) -> None:
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', 'hyperstar')}"}
    at = "2026-11-20T10:00:00Z"
    enrolment = {
        "member_id": "m-shirin", "chain_id": "hyperstar", "email": EMAIL, "phone": PHONE, "card_no": CARD,
        "locale": "en", "consents": {"email": True}, "occurred_at": at,
    }  # fmt: skip
    sale = {
        "chain_id": "hyperstar", "store_id": "hyperstar-01", "receipt_no": "PRIV-1", "member_id": "m-shirin",
        "currency": "IRR", "total_amount": "3000000", "occurred_at": at,
        "lines": [{"sku": "tea", "category": "grocery", "quantity": "1", "unit_price": "3000000",
                   "amount": "3000000"}],
    }  # fmt: skip
    async with run["ingest"].client(principal=None, timeout=30) as client:
        assert (await client.post("/v1/members", json=enrolment, headers=key)).status_code == 202
        assert (await client.post("/v1/purchases", json=sale, headers=key)).status_code == 202

    # Notify reaches the member at the address only ingest holds.
    await eventually(lambda: [m for m in inbox.messages if m["To"] == EMAIL], timeout=60, what="an email")
    points_q = "SELECT balance FROM balances WHERE member_id = 'm-shirin'"
    balance = await eventually(lambda: stack.scalar("points", points_q), what="points earned")
    window = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    async with run["analytics"].client(timeout=30) as client:

        async def kpis() -> dict[str, Any] | None:
            answer = (await client.get("/v1/kpis/summary", params=window)).json()
            return answer if answer.get("purchases") else None

        before = await eventually(kpis, what="the member in the KPIs")
    # Nothing but ingest's own tables has the contact, and no topic carries it.
    assert await _stores_holding(stack, EMAIL, PHONE, CARD) == ["ingest.member_contacts"]
    assert await _topics_holding(stack, EMAIL, PHONE, CARD, NEW_PHONE) == []

    support = operator("sam", "support")
    async with run["ingest"].client(support, timeout=30) as client:
        found = await client.get("/v1/members/lookup", params={"phone": PHONE})
        assert found.json() == {"members": ["m-shirin"]}
        by_email = await client.get("/v1/members/lookup", params={"email": EMAIL.upper()})
        assert by_email.json() == {"members": ["m-shirin"]}
        by_card = await client.get("/v1/members/lookup", params={"card_no": CARD})
        assert by_card.json() == {"members": ["m-shirin"]}
        mine = await client.get("/v1/members/m-shirin/export", headers=bearer(member("m-shirin")))
        assert mine.json()["contact"] == {"email": EMAIL, "phone": PHONE, "card_no": CARD}
    # A new phone number: found by it, no longer by the old one, and the old one is gone from the store.
    change = {"member_id": "m-shirin", "phone": NEW_PHONE, "occurred_at": "2026-11-21T10:00:00Z"}
    async with run["ingest"].client(principal=None, timeout=30) as client:
        changed = await client.post("/v1/members/profile-changes", json=change, headers=key)
        assert changed.status_code == 202, changed.text
    async with run["ingest"].client(support, timeout=30) as client:
        assert (await client.get("/v1/members/lookup", params={"phone": PHONE})).json() == {"members": []}
        found = await client.get("/v1/members/lookup", params={"phone": NEW_PHONE})
        assert found.json() == {"members": ["m-shirin"]}
        assert await _stores_holding(stack, PHONE) == []
        erased = await client.post("/v1/members/m-shirin/erasure")
        assert erased.status_code == 202 and erased.json()["contact_held"] is True
        assert (await client.get("/v1/members/lookup", params={"phone": NEW_PHONE})).json() == {"members": []}

    profile = "SELECT held = '[]'::jsonb AND email IS NULL FROM members WHERE member_id = 'm-shirin'"
    await eventually(lambda: stack.scalar("notify", profile), what="notify forgot the addresses")
    assert await _stores_holding(stack, EMAIL, PHONE, CARD, NEW_PHONE) == []
    assert await _topics_holding(stack, EMAIL, PHONE, CARD, NEW_PHONE) == []

    # Replayed from offset 0, every consumer ends where it was: nothing comes back.
    for service in ("points", "tiers", "notify", "analytics"):
        await _rebuild(stack, run[service], service, tmp_path)
    await eventually(lambda: stack.scalar("notify", profile), what="notify rebuilt")
    assert await eventually(lambda: stack.scalar("points", points_q), what="points rebuilt") == balance
    async with run["analytics"].client(timeout=30) as client:
        after = await eventually(kpis, what="analytics rebuilt")
    assert after == before
    assert await _stores_holding(stack, EMAIL, PHONE, CARD, NEW_PHONE) == []
    # The member's export, service by service: the amounts are all there, the contact nowhere.
    own = bearer(member("m-shirin"))
    exported = {}
    for service in ("points", "tiers", "notify"):
        async with run[service].client(principal=None, timeout=30) as client:
            answer = await client.get("/v1/members/m-shirin/export", headers=own)
            assert answer.status_code == 200, (service, answer.text)
            exported[service] = answer.json()
            assert not any(value in answer.text for value in (EMAIL, PHONE, CARD, NEW_PHONE))
    assert exported["points"]["balance"] == balance and len(exported["points"]["ledger"]) == 1
    assert exported["notify"]["profile"]["held"] == []
