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


def dead_letter(
    record: ConsumerRecord[bytes, bytes], reason: str, *, topic: str, service: str
) -> OutboxMessage:
    headers = {
        k: v.decode("utf-8", "replace") for k, v in (record.headers or ()) if not k.startswith("vafa-dlq-")
    }
    headers.update(
        {
            REASON: reason[:MAX_REASON_CHARS],
            SOURCE_TOPIC: record.topic,
            SOURCE_PARTITION: str(record.partition),
            SOURCE_OFFSET: str(record.offset),
            SERVICE: service,
            AT: utcnow().isoformat(),
        }
    )
    return OutboxMessage(topic=topic, key=record.key, value=record.value or b"", headers=headers)
