"""The one envelope every event on the bus travels in (JSON on the wire)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

P = TypeVar("P", bound=BaseModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    # The partition key: the member, so each member's events stay in order downstream.
    key: str = Field(min_length=1, max_length=200)
    causation_id: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None
    payload: P

    def to_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)  # the same bytes as orjson of model_dump

    def caused(self, **fields: Any) -> dict[str, Any]:
        """Causation/correlation fields for an event this one caused."""
        return {
            "causation_id": self.event_id,
            "correlation_id": self.correlation_id or self.event_id,
            **fields,
        }
