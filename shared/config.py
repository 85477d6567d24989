"""One config style for every service: environment variables with the ``VAFA_`` prefix.

A service subclasses :class:`ServiceSettings`, sets ``service_name`` and adds its own fields, which are
read as ``VAFA_<FIELD>`` (so a points field ``points_earn_rate`` is ``VAFA_POINTS_EARN_RATE``).
"""

from __future__ import annotations

from pydantic import SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VAFA_", extra="ignore", frozen=True)

    service_name: str = "vafa"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Prepended to every topic name: lets tests, demos and tenants share one broker without clashing.
    topic_prefix: str = ""

    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "vafa"
    pg_password: SecretStr = SecretStr("vafa")
    # Each service owns its store; the default database is ``vafa_<service_name>``.
    pg_database: str = ""
    # A statement waiting longer than this for a lock fails and its batch is retried, rather than the
    # consumer hanging behind a long lock (a migration, an operator's manual fix).
    pg_lock_timeout_ms: int = 10_000

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # How long a starting service waits for Kafka and PostgreSQL before giving up.
    startup_timeout_s: float = 180.0

    consumer_max_records: int = 500
    consumer_batch_timeout_ms: int = 50
    outbox_batch_size: int = 1000
    outbox_poll_interval_s: float = 0.5

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_name(self) -> str:
        return self.pg_database or f"vafa_{self.service_name}"

    @property
    def database_url(self) -> str:
        password = self.pg_password.get_secret_value()
        return (
            f"postgresql+asyncpg://{self.pg_user}:{password}@{self.pg_host}:{self.pg_port}"
            f"/{self.database_name}"
        )

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}vafa-{self.service_name}"
