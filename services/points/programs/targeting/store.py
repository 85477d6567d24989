"""Members' segments (from analytics), and who each targeted promotion chose."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.domain.rules import Audience
from services.points.store.tables import ledger, metadata
from shared.store.bulk import one_of

member_segments = Table(
    "member_segments",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("segment", String, nullable=False),
    Column("rfm_label", String, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

promotion_members = Table(
    "promotion_members",
    metadata,
    Column("promotion", String(100), nullable=False),
    Column("member_id", String, nullable=False),
    Column("group", String(16), nullable=False),  # treatment | holdout
    Column("reason", String, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("promotion", "member_id"),
    Index("ix_promotion_members_member", "member_id"),
)


async def save_segments(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """The latest segment of each member; an older event (replayed, or late) does not win."""
    if not rows:
        return
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["member_id"] not in latest or latest[row["member_id"]]["as_of"] <= row["as_of"]:
            latest[row["member_id"]] = row
    upsert = insert(member_segments)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[member_segments.c.member_id],
            set_={
                "segment": upsert.excluded.segment,
                "rfm_label": upsert.excluded.rfm_label,
                "as_of": upsert.excluded.as_of,
            },
            where=member_segments.c.as_of <= upsert.excluded.as_of,
        ),
        sorted(latest.values(), key=lambda r: r["member_id"]),
    )


def _audience(audience: Audience, now: datetime) -> Select[tuple[str]]:
    """Members the audience takes in at ``now``."""
    query: Select[tuple[str]] | None = None
    if audience.segments:
        labels = sorted(audience.segments)
        query = select(member_segments.c.member_id).where(
            one_of(member_segments.c.segment, labels) | one_of(member_segments.c.rfm_label, labels)
        )
    if audience.inactive_days is not None:
        # Members who bought at the chain before, but not in the last N days.
        last = (
            select(ledger.c.member_id)
            .where(
                ledger.c.kind == "earn", ledger.c.program_id == MAIN, ~ledger.c.details.has_key("partner_id")
            )
            .group_by(ledger.c.member_id)
            .having(func.max(ledger.c.occurred_at) < now - timedelta(days=audience.inactive_days))
        )
        query = last if query is None else query.where(member_segments.c.member_id.in_(last))
    assert query is not None  # the Audience validator requires one of the two
    return query


async def unchosen(
    conn: AsyncConnection, promotion: str, audience: Audience, now: datetime, limit: int
) -> list[str]:
    """Members the audience takes in who the promotion has not chosen yet (in either group)."""
    candidates = _audience(audience, now).subquery()
    taken = select(promotion_members.c.member_id).where(promotion_members.c.promotion == promotion)
    rows = await conn.execute(
        select(candidates.c.member_id)
        .where(candidates.c.member_id.not_in(taken))
        .order_by(candidates.c.member_id)
        .limit(limit)
    )
    return [r.member_id for r in rows]


async def choose(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(promotion_members).on_conflict_do_nothing(), rows)


async def chosen_for(
    conn: AsyncConnection, members: Iterable[str], promotions: Iterable[str]
) -> dict[str, dict[str, datetime]]:
    """Per member, the targeted promotions that chose them for the treatment group, and when."""
    wanted, names = sorted(set(members)), sorted(set(promotions))
    if not wanted or not names:
        return {}
    rows = await conn.execute(
        select(
            promotion_members.c.member_id, promotion_members.c.promotion, promotion_members.c.assigned_at
        ).where(
            one_of(promotion_members.c.member_id, wanted),
            one_of(promotion_members.c.promotion, names),
            promotion_members.c.group == "treatment",
        )
    )
    found: dict[str, dict[str, datetime]] = defaultdict(dict)
    for member, promotion, at in rows:
        found[member][promotion] = at
    return dict(found)


async def audience_of(conn: AsyncConnection, promotion: str) -> dict[str, int]:
    """How many members the promotion chose, per group."""
    rows = await conn.execute(
        select(promotion_members.c.group, func.count())
        .where(promotion_members.c.promotion == promotion)
        .group_by(promotion_members.c.group)
    )
    return {group: n for group, n in rows}
