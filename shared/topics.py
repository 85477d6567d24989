"""The topic catalog: every topic's name, partitions, key and retention, created idempotently."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


class Topic(StrEnum):
    # Purchases and returns share a topic so a member's return always follows the purchase.
    PURCHASES = "pos.purchases"
    # What POS systems produce directly; ingest validates it into the topics above.
    POS_RAW = "pos.raw"
    MEMBERS = "members.profile"
    MEMBERSHIPS = "members.vip"
    PARTNERS = "partners.cobrand"
    # Every change to a member's points, in order: earned, reversed, redeemed, expired, adjusted...
    POINTS = "points.events"
    # Tier changes, progress nudges and paid membership milestones, keyed by member.
    TIERS = "tiers.events"
    # What the notify service did with each message: sent, failed, suppressed.
    NOTIFICATIONS = "notify.events"
    # Segment changes from analytics, for promotions that target a segment.
    ANALYTICS = "analytics.events"


# Written by systems outside Vafa (POS systems may write pos.raw): a record's outbox headers there are not
# believed, so a forged one cannot make a consumer skip other records (``shared.consumer``).
WRITTEN_OUTSIDE: frozenset[str] = frozenset({Topic.POS_RAW})


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    retention_ms: int = -1  # events are the system of record: keep them for replay
    compacted: bool = False

    def config(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": "compact" if self.compacted else "delete",
        }


CATALOG: tuple[TopicSpec, ...] = (
    TopicSpec(Topic.PURCHASES, partitions=6, key="member id"),
    TopicSpec(Topic.POS_RAW, partitions=6, key="any (re-keyed by member on validation)"),
    TopicSpec(Topic.MEMBERS, partitions=6, key="member id"),
    TopicSpec(Topic.MEMBERSHIPS, partitions=6, key="member id"),
    TopicSpec(Topic.PARTNERS, partitions=6, key="member id, or partner id for campaigns"),
    TopicSpec(Topic.POINTS, partitions=6, key="member id"),
    TopicSpec(Topic.TIERS, partitions=6, key="member id"),
    TopicSpec(Topic.NOTIFICATIONS, partitions=6, key="member id"),
    TopicSpec(Topic.ANALYTICS, partitions=6, key="member id"),
)


def dead_letter_topic(service_name: str) -> str:
    """One dead-letter topic per consuming service, so a fix can re-drive exactly its records."""
    return f"deadletter.{service_name}"


def dead_letter_spec(service_name: str) -> TopicSpec:
    return TopicSpec(dead_letter_topic(service_name), partitions=1, key="original key")


async def ensure_topics(
    kafka: str | Mapping[str, Any], specs: tuple[TopicSpec, ...] | list[TopicSpec], prefix: str = ""
) -> None:
    """Create every missing topic; existing ones are left as they are. ``kafka``: the bootstrap
    servers, or a service's whole client options (``ServiceSettings.kafka_options()``)."""
    admin = AIOKafkaAdminClient(**({"bootstrap_servers": kafka} if isinstance(kafka, str) else kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(prefix + s.name, s.partitions, 1, topic_configs=s.config())
            for s in specs
            if prefix + s.name not in existing
        ]
        if missing:
            # Another service may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()
