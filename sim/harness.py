"""A harness for running Vafa for real: each run's private slice of Kafka and PostgreSQL (its own
databases and topic prefix), and services as OS processes that can be killed like a power cut.
Used by the integration tests and the benchmark."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from shared import kafka_acls
from shared.config import DEV_SIGNING_KEYS, ServiceSettings
from shared.identity import Principal, SigningKeys, operator
from shared.topics import CATALOG, dead_letter_spec, ensure_topics

REPO = Path(__file__).resolve().parent.parent
# The repository's development signing keys, which every service the harness starts runs with
# (VAFA_ENV=dev): a test or a tool signs the token of whichever principal it acts as.
DEV_KEYS = SigningKeys(DEV_SIGNING_KEYS)
ADMIN = operator("harness", "admin")


def bearer(principal: Principal = ADMIN, ttl_s: float = 3600) -> dict[str, str]:
    """The Authorization header of ``principal`` (an admin operator unless told)."""
    return {"Authorization": f"Bearer {DEV_KEYS.issue(principal, ttl_s)}"}


@dataclass(frozen=True)
class Infra:
    kafka: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    # How the harness itself connects (vafactl's broker: SASL/SCRAM as the admin, a super user) and
    # where each principal's password is (VAFA_KAFKA_CREDENTIALS_DIR): services get their own.
    kafka_protocol: str = "PLAINTEXT"
    kafka_mechanism: str = "SCRAM-SHA-512"
    kafka_user: str = ""
    kafka_password: str = ""
    kafka_credentials: str = ""

    @property
    def authorized(self) -> bool:
        """The broker authenticates every client and applies ACLs (vafactl's does; a container not)."""
        return self.kafka_protocol.startswith("SASL")

    def password(self, principal: str) -> str:
        if principal == self.kafka_user:
            return self.kafka_password
        if not self.kafka_credentials:
            raise RuntimeError(f"no VAFA_KAFKA_CREDENTIALS_DIR: the password of {principal} is unknown")
        return (Path(self.kafka_credentials) / principal).read_text().strip()

    def principal_env(self, principal: str | None = None) -> dict[str, str]:
        """The ``VAFA_KAFKA_*`` settings of a client connecting as ``principal`` (the admin by default)."""
        env = {
            "VAFA_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "VAFA_KAFKA_SECURITY_PROTOCOL": self.kafka_protocol,
        }
        if self.authorized:
            principal = principal or self.kafka_user
            env |= {
                "VAFA_KAFKA_SASL_MECHANISM": self.kafka_mechanism,
                "VAFA_KAFKA_SASL_USERNAME": principal,
                "VAFA_KAFKA_SASL_PASSWORD": self.password(principal),
            }
        return env

    def repair_env(self) -> dict[str, str]:
        """The ``VAFA_REPAIR_KAFKA_*`` settings a service's ops API re-drives dead letters with: the
        admin's (re-drive writes to topics other services own)."""
        if not self.authorized:
            return {}
        admin = self.principal_env()
        return {
            "VAFA_REPAIR_KAFKA_SASL_USERNAME": admin["VAFA_KAFKA_SASL_USERNAME"],
            "VAFA_REPAIR_KAFKA_SASL_PASSWORD": admin["VAFA_KAFKA_SASL_PASSWORD"],
        }

    def kafka_settings(self, principal: str | None = None) -> ServiceSettings:
        """A client's settings as ``principal`` (the admin by default); nothing else is read."""
        env = self.principal_env(principal)
        kafka: dict[str, Any] = {
            "kafka_bootstrap_servers": self.kafka,
            "kafka_security_protocol": self.kafka_protocol,
            "kafka_sasl_mechanism": self.kafka_mechanism,
            "kafka_sasl_username": env.get("VAFA_KAFKA_SASL_USERNAME", ""),
            "kafka_sasl_password": SecretStr(env.get("VAFA_KAFKA_SASL_PASSWORD", "")),
        }
        return ServiceSettings.model_construct(**kafka)

    def kafka_client(self, principal: str | None = None) -> dict[str, Any]:
        """aiokafka client options, as ``principal`` (the admin by default)."""
        return self.kafka_settings(principal).kafka_options()


def _ephemeral_ports() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, outside the kernel's ephemeral range, never handed out twice by this process.

    A port the kernel picked for ``bind(0)`` is ephemeral: between the pick and the service binding it,
    any outgoing connection (a Kafka or PostgreSQL client) may take it as its local port, and the
    service then fails with "address already in use". Outgoing connections never use ports below the
    ephemeral range, so one chosen there stays free unless something binds it on purpose.
    """
    ephemeral = _ephemeral_ports()
    below = range(max(1024, min(20000, ephemeral.start - 10000)), ephemeral.start)
    candidates = below if len(below) >= 1000 else range(ephemeral.stop, 65536)
    for _ in range(200):
        port = random.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {candidates}")


@dataclass
class Stack:
    """One test's private slice of the infrastructure: its own databases and topic prefix."""

    infra: Infra
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    # The brokers this slice's ACLs were created on (a test may point the slice at a broker of its own).
    acls_on: set[str] = field(default_factory=set)

    def database(self, service: str) -> str:
        return f"{self.prefix.rstrip('.')}_{service}"

    def env(self, service: str, **extra: str) -> dict[str, str]:
        """A service's settings: this slice's databases and topics, and its own Kafka principal."""
        return {
            **self.infra.principal_env(kafka_acls.principal_of(service) if self.infra.authorized else None),
            "VAFA_PG_HOST": self.infra.pg_host,
            "VAFA_PG_PORT": str(self.infra.pg_port),
            "VAFA_PG_USER": self.infra.pg_user,
            "VAFA_PG_PASSWORD": self.infra.pg_password,
            "VAFA_PG_DATABASE": self.database(service),
            "VAFA_TOPIC_PREFIX": self.prefix,
            "VAFA_ENV": "dev",
            # Tests run at any hour: members' quiet hours (22:00-08:00 in their zone) would hold every
            # message until morning. A test of quiet hours sets its own.
            **(
                {"VAFA_NOTIFY_QUIET_FROM": "00:00", "VAFA_NOTIFY_QUIET_UNTIL": "00:00"}
                if service == "notify"
                else {}
            ),
            **extra,
        }

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def create(self, *services: str) -> None:
        conn = await self.pg("postgres")
        try:
            for service in services:
                await conn.execute(f'CREATE DATABASE "{self.database(service)}"')
        finally:
            await conn.close()
        kafka = self.infra.kafka_client()
        await ensure_topics(kafka, [*CATALOG, *(dead_letter_spec(s) for s in services)], self.prefix)
        if self.infra.authorized and self.infra.kafka not in self.acls_on:
            # The services' principals get the rights of shared/kafka_acls.py on this slice's names.
            await kafka_acls.create_acls(kafka, kafka_acls.bindings(kafka_acls.principals(), self.prefix))
            self.acls_on.add(self.infra.kafka)

    async def drop(self) -> None:
        """Remove this slice's topics and databases, so a long-lived broker does not pile them up."""
        admin = AIOKafkaAdminClient(**self.infra.kafka_client())
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()
        if self.infra.kafka in self.acls_on:
            await kafka_acls.remove(self.infra.kafka_client(), self.prefix)
            self.acls_on.discard(self.infra.kafka)
        conn = await self.pg("postgres")
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", self.database("%")
            )
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    async def pg(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.infra.pg_host,
            port=self.infra.pg_port,
            user=self.infra.pg_user,
            password=self.infra.pg_password,
            database=database,
        )

    async def query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.pg(self.database(service))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def scalar(self, service: str, sql: str, *args: Any) -> Any:
        rows = await self.query(service, sql, *args)
        return rows[0][0] if rows else None

    async def produce(
        self,
        topic: str,
        values: Sequence[tuple[bytes | None, bytes]],
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        producer = AIOKafkaProducer(**self.infra.kafka_client(), acks="all")
        await producer.start()
        try:
            for key, value in values:
                await producer.send(self.topic(topic), value, key=key, headers=list(headers) or None)
            await producer.flush()
        finally:
            await producer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        await consumer._client.force_metadata_update()
        return [
            TopicPartition(self.topic(topic), p)
            for p in consumer.partitions_for_topic(self.topic(topic)) or ()
        ]

    async def read_all(self, topic: str, timeout: float = 5.0) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record now in the topic, from offset 0 to the end."""
        consumer = AIOKafkaConsumer(**self.infra.kafka_client(), enable_auto_commit=False)
        await consumer.start()
        try:
            tps = await self._partitions(consumer, topic)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            records: list[ConsumerRecord[bytes, bytes]] = []
            deadline = time.monotonic() + timeout
            while any([await consumer.position(tp) < end[tp] for tp in tps]):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {topic} to its end")
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
            return records
        finally:
            await consumer.stop()

    async def committed_offsets(self, service: str, topic: str) -> dict[int, int]:
        """The offsets the service's consumer group committed on ``topic``, per partition."""
        admin = AIOKafkaAdminClient(**self.infra.kafka_client())
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(f"{self.prefix}vafa-{service}")
        finally:
            await admin.close()
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if meta.offset > 0 and tp.topic == self.topic(topic)
        }

    async def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = AIOKafkaConsumer(**self.infra.kafka_client())
        await consumer.start()
        try:
            tps = await self._partitions(consumer, topic)
            return {tp.partition: off for tp, off in (await consumer.end_offsets(tps)).items() if off}
        finally:
            await consumer.stop()

    async def rewind(self, service: str, topic: str) -> None:
        """Send a service's consumer group back to offset 0, as if it never committed."""
        consumer = AIOKafkaConsumer(
            **self.infra.kafka_client(),
            group_id=f"{self.prefix}vafa-{service}",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            tps = await self._partitions(consumer, topic)
            consumer.assign(tps)
            await consumer.commit({tp: 0 for tp in tps})
        finally:
            await consumer.stop()


class ServiceProcess:
    """A service as a real OS process, so a test can SIGKILL it like a power cut."""

    def __init__(self, module: str, env: dict[str, str], log_dir: Path, tree: Path = REPO) -> None:
        self.module = module
        self.tree = tree  # the source tree it runs from (the bench runs an older commit beside this one)
        self.port = free_port()
        self.env = {**os.environ, **env, "VAFA_HTTP_PORT": str(self.port)}
        self.log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, principal: Principal | None = ADMIN, **options: Any) -> httpx.AsyncClient:
        """An HTTP client of this service acting as ``principal`` (None: anonymous)."""
        headers = bearer(principal) if principal is not None else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, **options)

    def start(self, **extra_env: str) -> ServiceProcess:
        env = {**self.env, **extra_env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=self.tree, env=env, stdout=log, stderr=log
            )
        return self

    async def wait_ready(self, timeout: float = 60.0, supervised: bool = False) -> None:
        """Until /readyz answers; an exit is an error, unless a supervisor restarts the process."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not supervised and self.proc and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.module} exited {self.proc.returncode}:\n{self.tail()}")
                try:
                    if (await client.get(f"{self.url}/readyz", timeout=2)).status_code == 204:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.module} not ready in {timeout}s:\n{self.tail()}")

    async def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.module} still running:\n{self.tail()}")
            await asyncio.sleep(0.1)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()

    async def metric(self, name: str, **labels: str) -> float:
        """A counter's value from /metrics (0 when not yet exported)."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.url}/metrics", timeout=5)).text
        total = 0.0
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            series, value = line.rsplit(" ", 1)
            if series.split("{", 1)[0] == name and all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def front_end_process(
    name: str, backends: Mapping[str, ServiceProcess], log_dir: Path, **settings: str
) -> ServiceProcess:
    """A web front end (``console``, ``portal``), not started, calling ``backends`` (the others at a port
    nobody answers: their blocks say so), with ``settings`` (``VAFA_...`` variables) of its own. It uses
    no Kafka, so it gets no Kafka credentials (the environment's admin ones are blanked)."""
    prefix = f"VAFA_{name.upper()}"
    env = {f"{prefix}_{service.upper()}_URL": process.url for service, process in backends.items()}
    absent = {f"{prefix}_{service.upper()}_URL": f"http://127.0.0.1:{free_port()}"
              for service in kafka_acls.SERVICES if service not in backends}  # fmt: skip
    blank = {"VAFA_KAFKA_SASL_USERNAME": "", "VAFA_KAFKA_SASL_PASSWORD": ""}
    return ServiceProcess(
        f"services.{name}", {"VAFA_ENV": "dev", **blank, **absent, **env, **settings}, log_dir
    )


def ingest_cli(env: Mapping[str, str], *args: str) -> str:
    """``python -m services.ingest.cli ARGS`` as an operator runs it, against the store ``env`` names
    (``VAFA_PG_*``): the last line it printed (a new API key, an operator's one-time password)."""
    out = subprocess.run(
        [sys.executable, "-m", "services.ingest.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def eventually(
    check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.25, what: str = ""
) -> Any:
    """Poll an async or sync check until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what or check}: last={last!r}")


def infra_from_env(env: Mapping[str, str] = os.environ) -> Infra:
    """The infrastructure ``vafactl env`` describes (the harness connects as its principal, the admin)."""
    return Infra(
        kafka=env.get("VAFA_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        pg_host=env.get("VAFA_PG_HOST", "127.0.0.1"),
        pg_port=int(env.get("VAFA_PG_PORT", "5432")),
        pg_user=env.get("VAFA_PG_USER", "vafa"),
        pg_password=env.get("VAFA_PG_PASSWORD", "vafa"),
        kafka_protocol=env.get("VAFA_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        kafka_mechanism=env.get("VAFA_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        kafka_user=env.get("VAFA_KAFKA_SASL_USERNAME", ""),
        kafka_password=env.get("VAFA_KAFKA_SASL_PASSWORD", ""),
        kafka_credentials=env.get("VAFA_KAFKA_CREDENTIALS_DIR", ""),
    )


def vafactl_env(env: Mapping[str, str] = os.environ, *args: str) -> dict[str, str]:
    """What ``deploy/local/vafactl env`` exports, as a mapping."""
    out = subprocess.run(
        [str(REPO / "deploy/local/vafactl"), "env", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(word.split("=", 1) for line in out.splitlines() for word in line.split()[1:] if "=" in word)


async def produce(
    kafka: str | Mapping[str, Any],
    topic: str,
    values: Sequence[bytes],
    per_second: float | None = None,
    keys: Sequence[bytes] | None = None,
) -> list[float]:
    """Send every value (keyed by ``keys``, or spread); with ``per_second``, paced. Returns the wall
    time each was sent."""
    options = {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)
    # A POS keeps trying through a broker restart (chaos restarts Kafka under this load): a batch
    # waits up to two minutes for its partition's leader instead of aiokafka's 40 s, in order.
    producer = AIOKafkaProducer(
        **options,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=262144,
        request_timeout_ms=120_000,
    )
    await producer.start()
    sent: list[float] = []
    try:
        start = time.perf_counter()
        pending = []
        for n, value in enumerate(values):
            if per_second:
                delay = start + n / per_second - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent.append(time.time())
            key = keys[n] if keys else str(n % 997).encode()
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


class Probe:
    """Kafka's view of a run, over one admin and one consumer connection: end offsets and each
    service's lag (committed offsets read first, so lag is never negative)."""

    def __init__(self, stack: Stack, reads: Mapping[str, Sequence[str]]) -> None:
        self.stack, self.reads = stack, reads
        self.admin = AIOKafkaAdminClient(**stack.infra.kafka_client())
        self.consumer = AIOKafkaConsumer(**stack.infra.kafka_client())
        self.partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> Probe:
        await self.admin.start()
        await self.consumer.start()
        topics = {t for ts in self.reads.values() for t in ts} | {s.name for s in CATALOG}
        for topic in topics:
            name = self.stack.topic(topic)
            found = self.consumer.partitions_for_topic(name)
            if found is None:
                await self.consumer._client.force_metadata_update()
                found = self.consumer.partitions_for_topic(name) or set()
            self.partitions[topic] = [TopicPartition(name, p) for p in sorted(found)]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def written(self, topic: str) -> int:
        return sum((await self.consumer.end_offsets(self.partitions[topic])).values())

    async def lags(self) -> dict[str, int]:
        groups = {s: f"{self.stack.prefix}vafa-{s}" for s in self.reads}
        committed = {s: await self.admin.list_consumer_group_offsets(g) for s, g in groups.items()}
        found = {}
        for service, topics in self.reads.items():
            tps = [tp for t in topics for tp in self.partitions[t]]
            ends = await self.consumer.end_offsets(tps)
            done = committed[service]
            found[service] = sum(
                max(end - (done[tp].offset if tp in done else 0), 0) for tp, end in ends.items()
            )
        return found
