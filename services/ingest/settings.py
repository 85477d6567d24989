from __future__ import annotations

from shared.config import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    http_port: int = 8001
    # How far in the future a POS clock may be before a purchase is refused (VAFA_INGEST_MAX_CLOCK_SKEW_S).
    ingest_max_clock_skew_s: int = 300
    # Longest wait for Kafka's acknowledgement before answering 503 (VAFA_INGEST_PUBLISH_TIMEOUT_S).
    ingest_publish_timeout_s: float = 10.0
