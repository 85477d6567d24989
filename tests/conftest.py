"""Where the real Kafka and PostgreSQL come from, in this order:

1. the environment (``VAFA_KAFKA_BOOTSTRAP_SERVERS`` and ``VAFA_PG_HOST``, with the admin's
   ``VAFA_KAFKA_SASL_*`` and ``VAFA_KAFKA_CREDENTIALS_DIR``, as ``make test`` sets from ``vafactl env``);
2. testcontainers, when a Docker engine answers;
3. ``deploy/local/vafactl up``, which starts both on loopback without Docker.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

# Services and settings built in-process by the unit tests run with the repository's dev secrets.
os.environ.setdefault("VAFA_ENV", "dev")

from sim.harness import infra_from_env, vafactl_env
from sim.mail import Mailbox
from tests.support import REPO, Infra, ServiceProcess, Stack, docker_answers, free_port


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    env = os.environ
    if env.get("VAFA_KAFKA_BOOTSTRAP_SERVERS") and env.get("VAFA_PG_HOST"):
        yield infra_from_env(env)
    elif docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
            PostgresContainer("postgres:16", username="vafa", password="vafa") as pg,
        ):
            yield Infra(
                kafka=kafka.get_bootstrap_server(),
                pg_host=pg.get_container_host_ip(),
                pg_port=int(pg.get_exposed_port(5432)),
                pg_user="vafa",
                pg_password="vafa",
            )
    else:
        subprocess.run([str(REPO / "deploy/local/vafactl"), "up"], check=True)
        # Its broker authenticates everyone: the harness connects as the admin, each service as itself.
        yield infra_from_env(vafactl_env())


@pytest.fixture
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    """A private slice of the infrastructure: fresh databases and topics for this test, removed after."""
    slice_ = Stack(infra)
    yield slice_
    slice_.infra = infra  # a test may have pointed it at a broker of its own
    await slice_.drop()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """Service processes a test starts are stopped at its end, their logs kept in tmp_path."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.kill()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def mail() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback for notify to send to: what it received, and its port."""
    inbox = Mailbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    yield inbox, smtp.port
    smtp.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.infra)
