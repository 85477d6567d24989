from __future__ import annotations

from pydantic import SecretStr

from shared.config import ServiceSettings

# Known to everyone who has read this repository: refused outside VAFA_ENV=dev.
DEV_LOOKUP_KEY = "vafa-dev-lookup-key-not-for-production"


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    http_port: int = 8001
    # How far in the future a POS clock may be before a purchase is refused (VAFA_INGEST_MAX_CLOCK_SKEW_S).
    ingest_max_clock_skew_s: int = 300
    # Longest wait for Kafka's acknowledgement before answering 503 (VAFA_INGEST_PUBLISH_TIMEOUT_S).
    ingest_publish_timeout_s: float = 10.0
    # Events waiting for Kafka's acknowledgement before new requests get 429 (VAFA_INGEST_MAX_IN_FLIGHT).
    ingest_max_in_flight: int = 20_000
    # How long a looked-up API key is trusted before it is read again (VAFA_INGEST_KEY_CACHE_S).
    ingest_key_cache_s: float = 5.0
    # How long the answer to an Idempotency-Key is kept for a retried request (VAFA_INGEST_IDEMPOTENCY_HOURS).
    ingest_idempotency_hours: float = 24.0
    # At most this many looked-up keys (known or not) are kept (VAFA_INGEST_KEY_CACHE_ENTRIES).
    ingest_key_cache_entries: int = 10_000
    # How long a token issued here lives (VAFA_INGEST_OPERATOR_TOKEN_S, VAFA_INGEST_INTEGRATION_TOKEN_S):
    # an operator signs in again after a working day, an integration exchanges its key every hour.
    ingest_operator_token_s: int = 8 * 3600
    ingest_integration_token_s: int = 3600
    # Failed sign-ins an operator name may have in VAFA_INGEST_SIGNIN_WINDOW_S before it waits (429).
    ingest_signin_failures: int = 5
    ingest_signin_window_s: float = 900.0
    # The key of the member lookup index: phone numbers and emails are found by their HMAC under it,
    # so the index alone does not give them away (VAFA_INGEST_LOOKUP_KEY).
    ingest_lookup_key: SecretStr = SecretStr(DEV_LOOKUP_KEY)

    # Members sign in with a one-time code that notify sends (VAFA_INGEST_NOTIFY_URL): it lives
    # VAFA_INGEST_MEMBER_CODE_S, takes VAFA_INGEST_MEMBER_CODE_ATTEMPTS guesses, and an address gets at
    # most VAFA_INGEST_MEMBER_CODE_REQUESTS codes per VAFA_INGEST_SIGNIN_WINDOW_S.
    ingest_notify_url: str = "http://127.0.0.1:8004"
    ingest_member_code_s: int = 600
    ingest_member_code_attempts: int = 5
    ingest_member_code_requests: int = 3
    ingest_member_token_s: int = 1800

    @property
    def lookup_key(self) -> bytes:
        return self.ingest_lookup_key.get_secret_value().encode()

    def known_defaults(self) -> list[str]:
        found = super().known_defaults()
        if self.ingest_lookup_key.get_secret_value() == DEV_LOOKUP_KEY:
            found.append("VAFA_INGEST_LOOKUP_KEY")
        return found
