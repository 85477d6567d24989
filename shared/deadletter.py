"""Dead letters: the original record, unchanged, with why it was refused in its headers."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from shared.contracts.envelope import utcnow
from shared.outbox import OutboxMessage

REASON = "vafa-dlq-reason"
SOURCE_TOPIC = "vafa-dlq-topic"
SOURCE_PARTITION = "vafa-dlq-partition"
SOURCE_OFFSET = "vafa-dlq-offset"
SERVICE = "vafa-dlq-service"
AT = "vafa-dlq-at"

MAX_REASON_CHARS = 2000

# Set by ``shared.repair redrive`` on a record it sends back: which dead letter it was, and the one
# service it is for. That service applies it even though its inbox marked the event dead-lettered;
# every other consumer of the topic ignores it (they applied the event the first time).
REDRIVEN_FROM = "vafa-redriven-from"
REDRIVEN_FOR = "vafa-redriven-for"


def storable(text: str) -> str:
    """Text PostgreSQL's JSONB and Kafka's headers take: a NUL or a lone surrogate (from a hostile JSON
    key that reached a validation message, or a header that was not UTF-8) is written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def dead_letter(
    record: ConsumerRecord[bytes, bytes], reason: str, *, topic: str, service: str
) -> OutboxMessage:
    headers = {
        storable(k): storable(v.decode("utf-8", "replace"))
        for k, v in (record.headers or ())
        if not k.startswith("vafa-dlq-")
    }
    headers.update(
        {
            REASON: storable(reason)[:MAX_REASON_CHARS],
            SOURCE_TOPIC: record.topic,
            SOURCE_PARTITION: str(record.partition),
            SOURCE_OFFSET: str(record.offset),
            SERVICE: service,
            AT: utcnow().isoformat(),
        }
    )
    return OutboxMessage(topic=topic, key=record.key, value=record.value or b"", headers=headers)
