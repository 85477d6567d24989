"""The audit log: every operator write recorded with who, what, on what, when, before and after.

A write records its entry in the transaction that makes it (``record``), so the log holds exactly the
writes that happened. ``GET /v1/audit`` reads it with filters; nobody may change it (a trigger).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.boundary import GuardedRoute
from shared.identity import Permission, Principal, secured
from shared.store.core_tables import AUDIT_LOG


def _jsonable(value: Any) -> Any:
    """Decimals, dates and pydantic models as JSON would carry them."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    # A row's keys are str subclasses (SQLAlchemy's quoted names), which orjson takes only when told.
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


async def record(
    conn: AsyncConnection,
    principal: Principal,
    action: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    await conn.execute(
        insert(AUDIT_LOG).values(
            actor=principal.actor,
            action=action,
            target=target,
            before=_jsonable(before),
            after=_jsonable(after),
        )
    )


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any = None
    after: Any = None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last")


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["audit"], route_class=GuardedRoute)

    @router.get("/audit", response_model=AuditPage, **secured(Permission.AUDIT_READ))
    async def audit(
        request: Request,
        actor: Annotated[str | None, Query(max_length=200, description="e.g. operator:sara")] = None,
        action: Annotated[str | None, Query(max_length=100, description="e.g. rules.publish")] = None,
        target: Annotated[str | None, Query(max_length=200)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> AuditPage:
        """The operator writes made on this service, newest first."""
        query = select(AUDIT_LOG).order_by(AUDIT_LOG.c.id.desc()).offset(offset).limit(limit + 1)
        for column, value in (("actor", actor), ("action", action), ("target", target)):
            if value is not None:
                query = query.where(AUDIT_LOG.c[column] == value)
        if since is not None:
            query = query.where(AUDIT_LOG.c.at >= since)
        if until is not None:
            query = query.where(AUDIT_LOG.c.at < until)
        async with request.app.state.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return AuditPage(
            entries=[AuditEntry(**row) for row in rows[:limit]],
            next_offset=offset + limit if len(rows) > limit else None,
        )

    return router
