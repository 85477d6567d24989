"""Contracts the notify service emits, for analytics."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from shared.contracts.common import MemberId


class NotificationOutcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: MemberId
    source_event_id: uuid.UUID
    source_type: str
    channel: str
    status: str  # sent | failed | suppressed
    reason: str = ""
