"""Kafka SASL/SCRAM and PostgreSQL TLS: vafactl's broker takes only authenticated clients (SCRAM-SHA-512)
and applies ACLs per principal (tests/integration/test_kafka_acls.py); a service runs under its own
principal and a wrong password is refused. With VAFA_PG_SSLMODE=require every database connection is
encrypted (vafactl's PostgreSQL has TLS on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.topics import Topic
from tests.support import Infra, ServiceProcess, Stack, as_record, eventually, purchase, running


@pytest.fixture
def sasl(infra: Infra) -> Infra:
    if not infra.authorized:
        pytest.skip("this broker does not authenticate clients (vafactl's does; a container's does not)")
    return infra


async def test_a_service_under_its_own_principal_earns_points_and_a_wrong_password_is_refused(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, sasl: Infra
) -> None:
    points = await running(stack, services, log_dir, "points")
    assert points.env["VAFA_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert points.env["VAFA_KAFKA_SASL_USERNAME"] == "vafa-points"
    await stack.produce(Topic.PURCHASES, [as_record(purchase("m-sasl", "420"))])
    query = "SELECT balance FROM balances WHERE member_id = 'm-sasl'"
    assert await eventually(lambda: _balance(stack, query), what="points earned over SASL") == 420

    impostor = ServiceProcess(
        "services.points",
        stack.env("points", VAFA_KAFKA_SASL_PASSWORD="guess", VAFA_STARTUP_TIMEOUT_S="3"),
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
        "WHERE a.application_name = 'vafa-tiers' AND a.datname = current_database()",
    )
    assert rows and all(r["ssl"] for r in rows)


async def _standing(stack: Stack) -> object:
    return await stack.scalar("tiers", "SELECT tier FROM standings WHERE member_id = 'm-tls'")
