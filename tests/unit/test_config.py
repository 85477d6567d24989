"""Kafka SASL/TLS and PostgreSQL TLS are settings away: what every client is given for each."""

from __future__ import annotations

import os
import ssl

import pytest
from faststream.security import BaseSecurity, SASLScram512

from shared.config import ServiceSettings


def test_plaintext_by_default_gives_only_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults, whatever `vafactl env` exported into this shell (a broker that authenticates).
    for name in [n for n in os.environ if n.startswith(("VAFA_KAFKA_", "VAFA_PG_"))]:
        monkeypatch.delenv(name)
    settings = ServiceSettings()
    assert settings.kafka_options() == {"bootstrap_servers": "127.0.0.1:9092"}
    assert settings.kafka_security() is None
    assert settings.database_url.endswith("/vafa_vafa?ssl=prefer")


def test_sasl_over_tls_reaches_every_client_and_the_broker() -> None:
    settings = ServiceSettings(
        kafka_bootstrap_servers="kafka-1:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="points",
        kafka_sasl_password="s3cret",
        pg_sslmode="verify-full",
    )
    options = settings.kafka_options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("points", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    security = settings.kafka_security()
    assert isinstance(security, SASLScram512) and security.use_ssl
    assert settings.database_url.endswith("?ssl=verify-full")
    assert "s3cret" not in repr(settings)


def test_tls_without_sasl() -> None:
    settings = ServiceSettings(kafka_security_protocol="SSL")
    assert "sasl_mechanism" not in settings.kafka_options()
    security = settings.kafka_security()
    assert isinstance(security, BaseSecurity) and security.use_ssl
