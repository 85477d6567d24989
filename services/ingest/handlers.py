"""The raw Kafka way in: POS systems that produce to ``pos.raw`` directly get the same validation as
HTTP (one item per record, as ``POST /v1/batch`` takes them). Valid items go on through the outbox,
re-keyed by member; what fails goes to ``deadletter.ingest`` with the reason. Who may produce to
``pos.raw`` is Kafka's business (ACLs); there are no API keys on this path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.domain import content_digest, parse_item, to_envelope
from services.ingest.intake import settle_returns
from services.ingest.settings import IngestSettings
from services.ingest.store.repository import Claim, claim_receipts, keep_members
from shared.consumer import BatchHandler, BatchResult, Record
from shared.contracts import Envelope, contract_named
from shared.contracts.common import control_character_in_json
from shared.contracts.envelope import utcnow
from shared.outbox import OutboxMessage
from shared.topics import Topic


class RawIntakeDecoder:
    topics = (str(Topic.POS_RAW),)
    description = "raw POS items (the JSON of one POST /v1/batch item per record)"

    def __init__(self, settings: IngestSettings) -> None:
        self._producer = settings.service_name
        self._skew = timedelta(seconds=settings.ingest_max_clock_skew_s)

    def __call__(self, record: Record) -> Envelope[Any] | str:
        try:
            raw = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError as error:
            return f"not JSON: {error}"
        if refused := control_character_in_json(record.value or b""):
            return refused
        entry = parse_item(raw, utcnow(), self._skew, text_checked=True)
        if isinstance(entry, list):
            return "; ".join(f"{e.field or '(item)'}: {e.rule}: {e.message}" for e in entry)
        return to_envelope(entry, self._producer)


def raw_intake_handler(settings: IngestSettings) -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> BatchResult:
        claims = [Claim.of(e, content_digest(e)) for e in events]
        earlier = await claim_receipts(conn, claims)
        result = BatchResult()
        fresh = [e for e in events if e.event_id not in earlier]
        # A return ahead of its sale (or refunding more than it sold) is dead-lettered with the rule,
        # never forwarded on its own; forgotten here, it is judged afresh when the POS sends it again.
        refused = await settle_returns(conn, fresh)
        bare = {e.event_id: e for e in await keep_members(conn, fresh, settings.lookup_key)}
        for event, claim in zip(events, claims, strict=True):
            prior = earlier.get(event.event_id)
            if error := refused.get(event.event_id):
                result.rejected[event.event_id] = f"{error.field}: {error.rule}: {error.message}"
            elif prior is None:
                topic = settings.topic_prefix + contract_named(event.type).topic
                result.outgoing.append(OutboxMessage.of(topic, bare[event.event_id]))
            elif prior != claim.content_sha256:
                result.rejected[event.event_id] = "conflict: already recorded with other content"
            else:  # the same receipt came in before (over HTTP or here) and is already on its way
                result.repeats.add(event.event_id)
        return result

    return handle
