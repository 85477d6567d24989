"""Causes members give points to, and the cause ledger of what each donation gave and the brand matched."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Uuid,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.store.tables import metadata

causes = Table(
    "causes",
    metadata,
    Column("cause_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("match_ratio", Numeric(4, 2), nullable=False),  # brand points per point given
    Column("match_budget", BigInteger, nullable=False),
    Column("matched_total", BigInteger, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False),
)

donations = Table(
    "donations",
    metadata,
    Column("donation_id", Uuid, primary_key=True),
    Column("member_id", String, nullable=False),
    Column("cause_id", String(64), ForeignKey("causes.cause_id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("matched", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_donations_cause", "cause_id", "at"),
    Index("ix_donations_member", "member_id", "at"),
)


async def donation_by_id(conn: AsyncConnection, donation_id: uuid.UUID) -> Any:
    row = (await conn.execute(select(donations).where(donations.c.donation_id == donation_id))).first()
    return row._mapping if row else None


async def cause_for_update(conn: AsyncConnection, cause_id: str) -> Any:
    return (await conn.execute(select(causes).where(causes.c.cause_id == cause_id).with_for_update())).first()


async def record_donation(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """The cause ledger's line, and the match taken from the cause's budget."""
    await conn.execute(donations.insert().values(row))
    await conn.execute(
        causes.update()
        .where(causes.c.cause_id == row["cause_id"])
        .values(matched_total=causes.c.matched_total + row["matched"])
    )


async def donations_by(conn: AsyncConnection, member_id: str, limit: int) -> list[dict[str, Any]]:
    """A member's donations, newest first, each with its cause's name."""
    query = (
        select(
            donations.c.donation_id,
            donations.c.cause_id,
            causes.c.name.label("cause_name"),
            donations.c.points,
            donations.c.matched,
            donations.c.at,
        )
        .join(causes, causes.c.cause_id == donations.c.cause_id)
        .where(donations.c.member_id == member_id)
        .order_by(donations.c.at.desc(), donations.c.donation_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]


async def upsert_cause(conn: AsyncConnection, cause_id: str, values: dict[str, Any]) -> None:
    upsert = insert(causes).values(cause_id=cause_id, **values)
    await conn.execute(upsert.on_conflict_do_update(index_elements=[causes.c.cause_id], set_=values))


async def cause_report(conn: AsyncConnection, cause_id: str | None = None) -> list[dict[str, Any]]:
    """Per cause: what members gave, what the brand matched, how many gave, the budget left."""
    given = (
        select(
            donations.c.cause_id,
            func.coalesce(func.sum(donations.c.points), 0).label("given"),
            func.coalesce(func.sum(donations.c.matched), 0).label("matched"),
            func.count(donations.c.member_id.distinct()).label("donors"),
            func.count().label("donations"),
        )
        .group_by(donations.c.cause_id)
        .subquery()
    )
    query = select(causes, given.c.given, given.c.matched, given.c.donors, given.c.donations).select_from(
        causes.outerjoin(given, given.c.cause_id == causes.c.cause_id)
    )
    if cause_id is not None:
        query = query.where(causes.c.cause_id == cause_id)
    return [
        {
            "cause_id": r.cause_id,
            "name": r.name,
            "active": r.active,
            "match_ratio": f"{r.match_ratio:f}",
            "given_points": int(r.given or 0),
            "matched_points": int(r.matched or 0),
            "total_points": int(r.given or 0) + int(r.matched or 0),
            "donors": int(r.donors or 0),
            "donations": int(r.donations or 0),
            "match_budget_left": int(r.match_budget - r.matched_total),
        }
        for r in await conn.execute(query.order_by(causes.c.cause_id))
    ]
