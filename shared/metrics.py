"""The Prometheus metrics of the consumer core and outbox relay (faststream's middleware adds its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CoreMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "vafa_events_total",
            "Events consumed, by outcome (applied, duplicate, dead_lettered)",
            ["topic", "outcome"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "vafa_consumer_batch_size",
            "Records per consumed batch",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000),
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "vafa_consumer_batch_seconds",
            "Time to apply one batch: decode, transaction, offset commit",
            registry=registry,
        )
        self.record_wait = Histogram(
            "vafa_consumer_record_wait_seconds",
            "From a record's timestamp (its producer's clock) to the start of the batch it came in: "
            "the time it waited in Kafka and behind the batches before it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.event_latency = Histogram(
            "vafa_event_latency_seconds",
            "From the event's occurred_at to its effect committed here",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.retries = Counter(
            "vafa_consumer_retries_total",
            "Batches retried, by why: busy (the database away or locked: retried while it lasts) or "
            "retry (deadlock, serialization, unknown: retried a few times, then the event is isolated)",
            ["kind"],
            registry=registry,
        )
        self.consumer_stalled = Gauge(
            "vafa_consumer_stalled_seconds",
            "How long the consumer has been retrying one batch without committing (0 when it is not)",
            registry=registry,
        )
        self.commit_failures = Counter(
            "vafa_consumer_commit_failures_total",
            "Offset commits refused (e.g. partitions moved in a rebalance); redelivery is deduped",
            registry=registry,
        )
        self.lag = Gauge(
            "vafa_consumer_lag",
            "Records behind the partition's high watermark after the last batch",
            ["topic", "partition"],
            registry=registry,
        )
        self.http_refused = Counter(
            "vafa_http_refused_total",
            "HTTP requests refused by authentication (401: missing, malformed, expired, ...) or "
            "authorisation (403: forbidden)",
            ["status", "reason"],
            registry=registry,
        )
        self.outbox_backlog = Gauge("vafa_outbox_backlog", "Outbox rows not yet published", registry=registry)
        self.outbox_oldest = Gauge(
            "vafa_outbox_oldest_seconds",
            "Age of the oldest outbox row not yet published, as of the relay's last round",
            registry=registry,
        )
        self.outbox_parked = Counter(
            "vafa_outbox_parked_total",
            "Outbox rows Kafka refused for good (e.g. too large), set aside in outbox_parked with the reason",
            ["topic"],
            registry=registry,
        )
        self.outbox_published = Counter(
            "vafa_outbox_published_total", "Outbox rows published", ["topic"], registry=registry
        )
        self.outbox_errors = Counter(
            "vafa_outbox_publish_errors_total", "Outbox publish attempts that failed", registry=registry
        )
