"""Accepting submissions: authorise, recognise repeats, publish with acks=all, then answer.

The receipts claimed for a request and its Kafka acknowledgements go together: the transaction that
claims them commits only after Kafka acknowledged every new event, so a failed publish leaves no
claim behind and the client's retry is processed afresh (the event_id is derived from the receipt, so
anything that did reach Kafka is deduplicated downstream).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from aiokafka.errors import KafkaError
from faststream.kafka.publisher.usecase import DefaultPublisher
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.domain import (
    Entry,
    Forbidden,
    MemberProfileChangedIn,
    content_digest,
    forbidden_reason,
    judge_returns,
    to_envelope,
)
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.ingest.store.repository import (
    Claim,
    add_refunds,
    claim_receipts,
    keep_members,
    lock_sales,
    member_chains,
    release_receipts,
)
from shared.contracts import Envelope, PurchaseRecorded, ReturnRecorded
from shared.errors import Throttled, Unavailable
from shared.identity import Principal
from shared.problems import FieldError, invalid, problem_body

Outcome = Literal["accepted", "duplicate", "rejected", "forbidden", "conflict"]


@dataclass(frozen=True)
class ItemResult:
    index: int
    kind: str
    outcome: Outcome
    event_id: uuid.UUID | None = None
    problem: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"index": self.index, "status": self.outcome}
        if self.event_id:
            answer["event_id"] = str(self.event_id)
        if self.problem:
            answer["problem"] = self.problem
        return answer


async def settle_returns(
    conn: AsyncConnection, fresh: Sequence[Envelope[Any]]
) -> dict[uuid.UUID, FieldError]:
    """Judge the new returns among ``fresh`` (claimed, in arrival order) against what their sales sold
    and refunded so far; record what the accepted ones refund and forget the refused ones' claims.
    Returns the refused, with why (HTTP answers 422 with it, the raw topic dead-letters it)."""
    originals = [e.payload.original_event_id for e in fresh if isinstance(e.payload, ReturnRecorded)]
    if not originals:
        return {}
    stored = await lock_sales(conn, originals)
    # A purchase claimed in this same batch counts only for the returns after it.
    new_sales = {e.event_id for e in fresh if isinstance(e.payload, PurchaseRecorded)}
    refused, refunds = judge_returns(fresh, {k: v for k, v in stored.items() if k not in new_sales})
    await release_receipts(conn, list(refused))
    await add_refunds(conn, refunds)
    return refused


class Intake:
    def __init__(
        self,
        settings: IngestSettings,
        publishers: Mapping[str, DefaultPublisher],
        metrics: IngestMetrics,
    ) -> None:
        self._settings = settings
        self._publishers = publishers
        self._metrics = metrics
        self._in_flight = 0

    @property
    def max_skew(self) -> timedelta:
        return timedelta(seconds=self._settings.ingest_max_clock_skew_s)

    async def submit(
        self,
        conn: AsyncConnection,
        principal: Principal,
        entries: Sequence[Entry],
        kinds: Sequence[str],
    ) -> list[ItemResult]:
        """Each entry is a valid item or the errors that make it invalid; ``kinds`` names each entry."""
        results: dict[int, ItemResult] = {}
        candidates: list[tuple[int, Envelope[Any]]] = []
        changed = [e.member_id for e in entries if isinstance(e, MemberProfileChangedIn)]
        chains = await member_chains(conn, changed) if principal.party == "chain" else {}
        for i, entry in enumerate(entries):
            if isinstance(entry, Forbidden):
                forbidden = problem_body(403, "Forbidden", entry.reason)
                results[i] = ItemResult(i, kinds[i], "forbidden", problem=forbidden)
            elif isinstance(entry, list):
                results[i] = ItemResult(i, kinds[i], "rejected", problem=invalid(entry))
            elif reason := forbidden_reason(principal, entry, chains.get(getattr(entry, "member_id", ""))):
                results[i] = ItemResult(
                    i, kinds[i], "forbidden", problem=problem_body(403, "Forbidden", reason)
                )
            else:
                candidates.append((i, to_envelope(entry, self._settings.service_name)))
        if candidates:
            with self._reserve(len(candidates)):
                results |= await self._record(conn, candidates, kinds)
        ordered = [results[i] for i in range(len(entries))]
        for r in ordered:
            self._metrics.items.labels("http", r.kind, r.outcome).inc()
        return ordered

    async def _record(
        self, conn: AsyncConnection, candidates: list[tuple[int, Envelope[Any]]], kinds: Sequence[str]
    ) -> dict[int, ItemResult]:
        claims = [Claim.of(e, content_digest(e)) for _, e in candidates]
        earlier = await claim_receipts(conn, claims)
        results: dict[int, ItemResult] = {}
        fresh: list[Envelope[Any]] = []
        first_copy: dict[uuid.UUID, bytes] = {}
        for (i, envelope), claim in zip(candidates, claims, strict=True):
            event_id = envelope.event_id
            prior = earlier.get(event_id, first_copy.get(event_id))
            if prior is None:
                first_copy[event_id] = claim.content_sha256
                fresh.append(envelope)
                results[i] = ItemResult(i, kinds[i], "accepted", event_id)
            elif prior == claim.content_sha256:
                results[i] = ItemResult(i, kinds[i], "duplicate", event_id)
            else:
                conflict = problem_body(
                    409,
                    "Conflict",
                    "this receipt was already recorded with other content; "
                    "a correction is a return or a new receipt",
                )
                results[i] = ItemResult(i, kinds[i], "conflict", event_id, conflict)
        refused = await settle_returns(conn, fresh)
        if refused:
            fresh = [e for e in fresh if e.event_id not in refused]
            for i, result in list(results.items()):
                if result.event_id in refused:
                    results[i] = ItemResult(
                        i, kinds[i], "rejected", problem=invalid([refused[result.event_id]])
                    )
        fresh = await keep_members(conn, fresh, self._settings.lookup_key)
        await self._publish(fresh)
        return results

    async def _publish(self, envelopes: Sequence[Envelope[Any]]) -> None:
        if not envelopes:
            return
        try:
            with self._metrics.publish_seconds.time():
                async with asyncio.timeout(self._settings.ingest_publish_timeout_s):
                    await asyncio.gather(
                        *(
                            self._publishers[e.type].publish(
                                e.to_bytes(),
                                key=e.key.encode(),
                                headers={"content-type": "application/json", "event-type": e.type},
                            )
                            for e in envelopes
                        )
                    )
        except (TimeoutError, KafkaError) as error:
            self._metrics.refused.labels("broker_unavailable").inc()
            raise Unavailable(
                # After a timeout Kafka may still take what was sent: say so. A retry of the same
                # submission has the same event id, so it is recognised downstream, never applied twice.
                f"Kafka did not acknowledge in time ({type(error).__name__}); the event may or may not "
                "have reached Kafka: send the same submission again, it will count once",
                title="Broker unavailable",
                retry_after_s=5,
            ) from error

    def _reserve(self, n: int) -> _Reservation:
        limit = self._settings.ingest_max_in_flight
        if self._in_flight and self._in_flight + n > limit:
            self._metrics.refused.labels("throttled").inc()
            raise Throttled(f"{self._in_flight} events are waiting for Kafka; retry shortly", retry_after_s=1)
        return _Reservation(self, n)


class _Reservation:
    """Bounds the events waiting for Kafka's acknowledgement: beyond it, 429 instead of buffering."""

    def __init__(self, intake: Intake, n: int) -> None:
        self._intake, self._n = intake, n

    def __enter__(self) -> None:
        self._intake._in_flight += self._n

    def __exit__(self, *_: object) -> None:
        self._intake._in_flight -= self._n
