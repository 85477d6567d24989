"""Challenges, and each member's marks per challenge and month."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    PrimaryKeyConstraint,
    String,
    Table,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.programs.challenges.domain import Challenge
from services.points.store.tables import metadata
from shared.store.bulk import one_of

challenges = Table(
    "challenges",
    metadata,
    Column("challenge_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
)

challenge_progress = Table(
    "challenge_progress",
    metadata,
    Column("challenge_id", String(64), nullable=False),
    Column("member_id", String, nullable=False),
    Column("period", String(7), nullable=False),
    Column("seen", JSONB, nullable=False),
    Column("completed", Boolean, nullable=False),
    PrimaryKeyConstraint("challenge_id", "member_id", "period"),
)


Progress = dict[tuple[str, str, str], tuple[set[str], bool]]  # (challenge, member, period) -> marks, done


@dataclass(frozen=True)
class Badge:
    """A badge's bonus, and the purchase that reached the target."""

    lot_id: uuid.UUID
    member_id: str
    points: int
    challenge_id: str
    period: str
    purchase_event_id: uuid.UUID


async def badges_on(conn: AsyncConnection, purchase_ids: Iterable[uuid.UUID]) -> list[Badge]:
    """The bonuses of badges these purchases completed, not taken back yet (a taken-back bonus is an
    adjustment whose source is the badge's lot)."""
    ids = sorted({str(i) for i in purchase_ids})
    if not ids:
        return []
    rows = await conn.execute(
        text(
            "SELECT b.source_event_id AS lot_id, b.member_id, b.points, b.details FROM ledger b "
            "WHERE b.kind = 'badge' AND b.details->>'purchase_event_id' = ANY(:ids) AND NOT EXISTS "
            "(SELECT 1 FROM ledger l WHERE l.program_id = b.program_id "
            "AND l.source_event_id = b.source_event_id AND l.kind = 'adjust') "
            "ORDER BY b.id"
        ),
        {"ids": ids},
    )
    return [
        Badge(r.lot_id, r.member_id, int(r.points), r.details["challenge_id"], r.details["period"],
              uuid.UUID(r.details["purchase_event_id"]))
        for r in rows
    ]  # fmt: skip


async def all_challenges(conn: AsyncConnection) -> list[tuple[str, Challenge]]:
    rows = await conn.execute(select(challenges).order_by(challenges.c.challenge_id))
    return [(r.challenge_id, Challenge.model_validate(r.config)) for r in rows]


async def active_challenges(conn: AsyncConnection) -> list[tuple[str, Challenge]]:
    return [(cid, c) for cid, c in await all_challenges(conn) if c.active]


async def progress_of(
    conn: AsyncConnection, challenge_ids: Iterable[str], members: Iterable[str], periods: Iterable[str]
) -> Progress:
    """The members' progress in these challenges in these periods. By the key's first column too: the
    table holds every member's every month of every challenge ever, and without it PostgreSQL reads it
    all on every batch."""
    rows = await conn.execute(
        select(challenge_progress).where(
            one_of(challenge_progress.c.challenge_id, sorted(set(challenge_ids))),
            one_of(challenge_progress.c.member_id, sorted(set(members))),
            one_of(challenge_progress.c.period, sorted(set(periods))),
        )
    )
    return {(r.challenge_id, r.member_id, r.period): (set(r.seen), r.completed) for r in rows}


async def save_progress(
    conn: AsyncConnection, progress: Progress, changed: Iterable[tuple[str, str, str]]
) -> None:
    rows = [
        {"challenge_id": c, "member_id": m, "period": p, "seen": sorted(progress[(c, m, p)][0]),
         "completed": progress[(c, m, p)][1]}
        for c, m, p in sorted(set(changed))
    ]  # fmt: skip
    if rows:
        upsert = insert(challenge_progress)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[challenge_progress.c.challenge_id, challenge_progress.c.member_id,
                                challenge_progress.c.period],
                set_={"seen": upsert.excluded.seen, "completed": upsert.excluded.completed},
            ),
            rows,
        )  # fmt: skip


async def upsert_challenge(conn: AsyncConnection, challenge_id: str, challenge: Challenge) -> None:
    upsert = insert(challenges).values(challenge_id=challenge_id, config=challenge.model_dump(mode="json"))
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[challenges.c.challenge_id], set_={"config": upsert.excluded.config}
        )
    )


async def member_challenges(conn: AsyncConnection, member_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(challenge_progress, challenges.c.config)
        .join(challenges, challenges.c.challenge_id == challenge_progress.c.challenge_id)
        .where(challenge_progress.c.member_id == member_id)
        .order_by(challenge_progress.c.period.desc(), challenge_progress.c.challenge_id)
    )
    return [
        {"challenge_id": r.challenge_id, "name": r.config["name"], "period": r.period,
         "progress": len(r.seen), "target": r.config["target"], "badge": r.completed}
        for r in rows
    ]  # fmt: skip
