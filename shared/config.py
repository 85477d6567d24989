"""One config style for every service: environment variables with the ``VAFA_`` prefix.

A service subclasses :class:`ServiceSettings`, sets ``service_name`` and adds its own fields, which are
read as ``VAFA_<FIELD>`` (so a points field ``points_earn_rate`` is ``VAFA_POINTS_EARN_RATE``).
"""

from __future__ import annotations

from ssl import SSLContext
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known to everyone who has read this repository: refused outside VAFA_ENV=dev.
DEV_SIGNING_KEYS = "dev:vafa-dev-signing-key-not-for-production-0000"
DEV_PG_PASSWORD = "vafa"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VAFA_", extra="ignore", frozen=True)

    service_name: str = "vafa"
    # ``dev`` lets a service start with the repository's well-known secrets; anything else refuses to.
    env: str = "production"

    # The keys tokens are signed with: ``kid:secret[,kid:secret...]``, the first signs, all verify
    # (shared/identity.py). Every service must carry the same set.
    auth_signing_keys: SecretStr = SecretStr(DEV_SIGNING_KEYS)
    # Left open, Prometheus scrapes /metrics and anyone reads the API documents; closed, they need a
    # token with ops:read.
    http_open_metrics: bool = True
    http_open_docs: bool = True

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Production brokers take SASL (SCRAM or PLAIN) and/or TLS: set these, nothing else changes.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""  # the CA that signed the brokers' certificates (system CAs if empty)
    # The Kafka principal the ops API's re-drive writes as (``VAFA_REPAIR_KAFKA_SASL_*``, the admin's on
    # vafactl's broker): it sends dead letters back to topics other services write, which the service's
    # own principal may not. Unset on a broker with ACLs, a re-drive is refused, saying so.
    repair_kafka_sasl_username: str = ""
    repair_kafka_sasl_password: SecretStr = SecretStr("")
    # Prepended to every topic name: lets tests, demos and tenants share one broker without clashing.
    topic_prefix: str = ""

    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "vafa"
    pg_password: SecretStr = SecretStr(DEV_PG_PASSWORD)
    # Each service owns its store; the default database is ``vafa_<service_name>``.
    pg_database: str = ""
    # asyncpg's sslmode: disable | prefer | require | verify-ca | verify-full (PGSSLROOTCERT for the CA).
    pg_sslmode: str = "prefer"
    # A statement waiting longer than this for a lock fails and its batch is retried, rather than the
    # consumer hanging behind a long lock (a migration, an operator's manual fix).
    pg_lock_timeout_ms: int = 10_000

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The largest request body any route reads, refused with 413 before it is parsed or authenticated
    # (VAFA_HTTP_MAX_BODY_BYTES); a full /v1/batch of 5,000 purchases fits.
    http_max_body_bytes: int = 16 * 1024 * 1024

    # How long a starting service waits for Kafka and PostgreSQL before giving up.
    startup_timeout_s: float = 180.0

    consumer_max_records: int = 500
    # A batch failing with a deadlock or an unknown error is tried this many times, then its events one
    # by one, and the one that still fails is dead-lettered (a database outage is retried while it lasts).
    consumer_max_attempts: int = 8
    # /readyz answers 503 when the consumer has retried one batch, or the oldest outbox row has waited,
    # longer than this: an orchestrator or an operator sees the stall (vafa_consumer_stalled_seconds).
    stall_after_s: float = 120.0
    # The dedupe window: an event's inbox row is kept this long, so a redelivery within it has no second
    # effect. Kafka redelivers only what is past a group's committed offset (seconds to minutes) and
    # redrive what an operator sends back; never rewind a group further back than this (use rebuild).
    inbox_retention_days: float = 30.0
    # How often each service's retention jobs look for rows past their keep.
    retention_interval_s: float = 3600.0
    consumer_batch_timeout_ms: int = 50
    # A batch that follows the last one at once also takes what reached the broker while the last one
    # ran, waiting this long at most for that fetch's answer (0: off). See ReliableConsumer.caught_up.
    consumer_fresh_fetch_ms: int = 10
    outbox_batch_size: int = 1000
    outbox_poll_interval_s: float = 0.5
    # What waits when services share too few cores: a service with a higher niceness (Unix ``nice``,
    # 0-19) yields the CPU to the others. 0 for all: none is preferred. README, "CPU priority".
    cpu_niceness: int = Field(0, ge=0, le=19)

    def known_defaults(self) -> list[str]:
        """The settings still holding a secret everyone knows (a service refuses to start with any,
        unless VAFA_ENV=dev)."""
        found = []
        if self.auth_signing_keys.get_secret_value() == DEV_SIGNING_KEYS:
            found.append("VAFA_AUTH_SIGNING_KEYS")
        if self.pg_password.get_secret_value() == DEV_PG_PASSWORD:
            found.append("VAFA_PG_PASSWORD")
        return found

    def refuse_known_defaults(self) -> None:
        if self.env == "dev" or not (found := self.known_defaults()):
            return
        raise SystemExit(
            f"vafa-{self.service_name}: refusing to start with the repository's default "
            f"{', '.join(found)} (VAFA_ENV={self.env}); set your own, "
            "or VAFA_ENV=dev on a developer's machine"
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_name(self) -> str:
        return self.pg_database or f"vafa_{self.service_name}"

    @property
    def database_url(self) -> str:
        password = self.pg_password.get_secret_value()
        return (
            f"postgresql+asyncpg://{self.pg_user}:{password}@{self.pg_host}:{self.pg_port}"
            f"/{self.database_name}?ssl={self.pg_sslmode}"
        )

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}vafa-{self.service_name}"

    def _ssl_context(self) -> SSLContext | None:
        if "SSL" not in self.kafka_security_protocol:
            return None
        context: SSLContext = create_ssl_context(cafile=self.kafka_ssl_cafile or None)
        return context

    def kafka_options(self) -> dict[str, Any]:
        """What every aiokafka client (producer, consumer, admin) of a service connects with."""
        options: dict[str, Any] = {"bootstrap_servers": self.kafka_bootstrap_servers}
        if self.kafka_security_protocol == "PLAINTEXT":
            return options
        options["security_protocol"] = self.kafka_security_protocol
        if context := self._ssl_context():
            options["ssl_context"] = context
        if self.kafka_security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return options

    def repairing(self) -> ServiceSettings | None:
        """These settings with Kafka's as the repair principal, or None when none is set where the
        broker authenticates clients."""
        if not self.kafka_security_protocol.startswith("SASL"):
            return self
        if not self.repair_kafka_sasl_username:
            return None
        return self.model_copy(
            update={
                "kafka_sasl_username": self.repair_kafka_sasl_username,
                "kafka_sasl_password": self.repair_kafka_sasl_password,
            }
        )

    def kafka_security(self) -> BaseSecurity | None:
        """The same, as faststream's broker takes it."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        context, use_ssl = self._ssl_context(), "SSL" in self.kafka_security_protocol
        if not self.kafka_security_protocol.startswith("SASL"):
            return BaseSecurity(ssl_context=context, use_ssl=True)
        kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
        password = self.kafka_sasl_password.get_secret_value()
        return kinds[self.kafka_sasl_mechanism](
            self.kafka_sasl_username, password, ssl_context=context, use_ssl=use_ssl
        )
