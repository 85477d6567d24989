"""Kafka SASL/SCRAM and PostgreSQL TLS are configuration away: a service on the broker's SASL listener
works as on the plain one and a wrong password is refused; with VAFA_PG_SSLMODE=require every database
connection is encrypted (vafactl's broker has both listeners, its PostgreSQL has TLS on)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shared.topics import Topic
from tests.support import Infra, ServiceProcess, Stack, as_record, eventually, purchase, running

SASL_PORT = int(os.environ.get("VAFA_KAFKA_SASL_PORT", "9094"))


def sasl_listener() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", SASL_PORT)) == 0


@pytest.fixture
def sasl(infra: Infra) -> dict[str, str]:
    if not sasl_listener():
        pytest.skip("this broker has no SASL listener (vafactl's has one on 9094; a container's does not)")
    return {
        "VAFA_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{SASL_PORT}",
        "VAFA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "VAFA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "VAFA_KAFKA_SASL_USERNAME": os.environ.get("VAFA_KAFKA_SASL_USERNAME", "vafa"),
        "VAFA_KAFKA_SASL_PASSWORD": os.environ.get("VAFA_KAFKA_SASL_SECRET", "vafa-secret"),
    }


async def test_a_service_on_the_sasl_listener_earns_points_and_a_wrong_password_is_refused(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, sasl: dict[str, str]
) -> None:
    await running(stack, services, log_dir, "points", **sasl)
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-sasl", "420"))])
    query = "SELECT balance FROM balances WHERE member_id = 'm-sasl'"
    assert await eventually(lambda: _balance(stack, query), what="points earned over SASL") == 420

    impostor = ServiceProcess(
        "services.points",
        stack.env("points", **{**sasl, "VAFA_KAFKA_SASL_PASSWORD": "guess", "VAFA_STARTUP_TIMEOUT_S": "3"}),
        log_dir,
    )
    services.append(impostor)
    impostor.start()
    assert await impostor.wait_exit(timeout=60) != 0
    assert "Authentication failed" in impostor.log_path.read_text()


async def _balance(stack: Stack, query: str) -> object:
    return await stack.scalar("points", query)


async def test_with_sslmode_require_every_database_connection_is_encrypted(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await running(stack, services, log_dir, "tiers", VAFA_PG_SSLMODE="require")
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-tls", "1000"))])
    await eventually(lambda: _standing(stack), what="the purchase applied over TLS")
    rows = await stack.query(
        "tiers",
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
        "WHERE a.application_name = 'vafa-tiers'",
    )
    assert rows and all(r["ssl"] for r in rows)


async def _standing(stack: Stack) -> object:
    return await stack.scalar("tiers", "SELECT tier FROM standings WHERE member_id = 'm-tls'")
