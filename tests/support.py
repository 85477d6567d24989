"""Test helpers on top of the harness in sim/harness.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import ServiceSettings
from shared.contracts import PURCHASE_RECORDED, RETURN_RECORDED, Envelope, PurchaseRecorded, ReturnRecorded
from shared.identity import member, operator
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async
from sim.harness import (
    ADMIN,
    REPO,
    Infra,
    ServiceProcess,
    Stack,
    bearer,
    eventually,
    free_port,
    front_end_process,
    ingest_cli,
)


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


def purchase(
    member: str,
    amount: str,
    receipt: str | None = None,
    currency: str = "IRR",
    occurred_at: datetime | None = None,
) -> Envelope[PurchaseRecorded]:
    return PURCHASE_RECORDED.envelope(
        key=member,
        producer="test-pos",
        **({"occurred_at": occurred_at} if occurred_at else {}),
        payload=PurchaseRecorded(
            chain_id="chain-1",
            store_id="store-7",
            receipt_no=receipt or uuid.uuid4().hex[:12],
            member_id=member,
            currency=currency,
            total_amount=Decimal(amount),
        ),
    )


def refund(
    sale: Envelope[PurchaseRecorded], at: datetime, amount: Decimal | None = None
) -> Envelope[ReturnRecorded]:
    """A return of ``sale`` at its store: of ``amount``, or in full when none is given."""
    p = sale.payload
    payload = ReturnRecorded(
        chain_id=p.chain_id, store_id=p.store_id, return_no=uuid.uuid4().hex[:8],
        original_store_id=p.store_id, original_receipt_no=p.receipt_no, original_event_id=sale.event_id,
        member_id=p.member_id, currency=p.currency, full=amount is None,
        refund_amount=p.total_amount if amount is None else amount,
    )  # fmt: skip
    return RETURN_RECORDED.envelope(key=p.member_id, producer="test-pos", occurred_at=at, payload=payload)


def as_record(envelope: Envelope[Any]) -> tuple[bytes, bytes]:
    return envelope.key.encode(), envelope.to_bytes()


def decode(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(record.value or b"")
    return value


async def at_least(records: Any, n: int) -> Any:
    """For `eventually`: the awaited records once there are n of them, else None."""
    got = await records
    return got if len(got) >= n else None


async def running(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, service: str, **env: str
) -> ServiceProcess:
    """A fresh database for ``service``, and the service running on it until the test ends."""
    await stack.create(service)
    process = ServiceProcess(f"services.{service}", stack.env(service, **env), log_dir)
    services.append(process)
    await process.start().wait_ready()
    return process


async def all_five(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, **env: str
) -> dict[str, ServiceProcess]:
    """Every service on fresh databases, started together and ready, stopped when the test ends."""
    names = ("ingest", "points", "tiers", "notify", "analytics")
    await stack.create(*names)
    started = {name: ServiceProcess(f"services.{name}", stack.env(name, **env), log_dir) for name in names}
    # Notify asks this ingest for the addresses of what it sends (only ingest holds them).
    started["notify"].env.setdefault("VAFA_NOTIFY_CONTACTS_URL", started["ingest"].url)
    # and ingest asks this notify to send members their sign-in codes.
    started["ingest"].env.setdefault("VAFA_INGEST_NOTIFY_URL", started["notify"].url)
    services.extend(started.values())
    for process in started.values():
        process.start()
    for process in started.values():
        await process.wait_ready()
    return started


async def front_end(
    name: str,
    services: list[ServiceProcess],
    log_dir: Path,
    backends: dict[str, ServiceProcess],
    **settings: str,
) -> ServiceProcess:
    """A web front end (``console``, ``portal``) calling ``backends``, running until the test ends."""
    process = front_end_process(name, backends, log_dir, **settings)
    services.append(process)
    await process.start().wait_ready()
    return process


async def console(
    services: list[ServiceProcess], log_dir: Path, backends: dict[str, ServiceProcess]
) -> ServiceProcess:
    """The operator console calling ``backends``."""
    return await front_end("console", services, log_dir, backends)


async def portal(
    services: list[ServiceProcess], log_dir: Path, backends: dict[str, ServiceProcess], **settings: str
) -> ServiceProcess:
    """The member portal calling ``backends``."""
    return await front_end("portal", services, log_dir, backends, **settings)


def store_settings(stack: Stack, service: str) -> ServiceSettings:
    """Settings that reach ``service``'s database in ``stack`` (for tests of a store without its service)."""
    return ServiceSettings(
        service_name=service,
        pg_host=stack.infra.pg_host,
        pg_port=stack.infra.pg_port,
        pg_user=stack.infra.pg_user,
        pg_password=stack.infra.pg_password,
        pg_database=stack.database(service),
    )


async def migrated_engine(stack: Stack, service: str, migrations: Path) -> AsyncEngine:
    """An engine on a new database for ``service`` in ``stack``, migrated (for tests of a store without
    its service; the caller disposes of it)."""
    await stack.create(service)
    settings = store_settings(stack, service)
    await upgrade_async(migrations, settings.database_url)
    return make_engine(settings)


def new_operator(stack: Stack, name: str, role: str) -> str:
    """An operator added with the CLI an admin uses; returns their one-time password."""
    return ingest_cli(stack.env("ingest"), "operator", "add", name, "--role", role)


def api_key(stack: Stack, kind: str, *scope: str) -> str:
    """A fresh ingest API key, made with the same CLI an operator uses."""
    return ingest_cli(stack.env("ingest"), "create", kind, *scope)


def revoke_key(stack: Stack, token: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.ingest.cli", "revoke", token.split("_")[1]],
        cwd=REPO,
        env={**os.environ, **stack.env("ingest")},
        check=True,
        capture_output=True,
    )


__all__ = [
    "ADMIN",
    "REPO",
    "Infra",
    "ServiceProcess",
    "Stack",
    "all_five",
    "api_key",
    "as_record",
    "at_least",
    "bearer",
    "console",
    "decode",
    "docker_answers",
    "eventually",
    "free_port",
    "front_end",
    "member",
    "new_operator",
    "operator",
    "portal",
    "purchase",
    "revoke_key",
    "running",
]


async def jobs_at(stack: Stack, moment: datetime) -> None:
    """One round of the points jobs, as the scheduler would run it at ``moment``."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.points.jobs", "--now", moment.isoformat()],
        env=os.environ | stack.env("points"), cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
