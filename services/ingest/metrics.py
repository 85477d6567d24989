from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.items = Counter(
            "vafa_ingest_items_total",
            "Submitted items by kind and outcome (accepted, duplicate, rejected, forbidden, conflict)",
            ["way", "kind", "outcome"],
            registry=registry,
        )
        self.refused = Counter(
            "vafa_ingest_requests_refused_total",
            "Whole requests refused: throttled (429) or broker unavailable (503)",
            ["reason"],
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "vafa_ingest_publish_seconds",
            "From publishing a request's events to Kafka's acknowledgement of all of them",
            registry=registry,
        )
