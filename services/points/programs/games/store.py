"""Games, their committed seeds, budgets and stock, and every play with its proof."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.programs.games.domain import Game
from services.points.store.tables import metadata

games = Table(
    "games",
    metadata,
    Column("game_id", String(64), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("seed", LargeBinary, nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("budget_left", BigInteger, nullable=False),
    Column("stock_left", JSONB, nullable=False),  # prize name -> left (null: unlimited)
)

game_plays = Table(
    "game_plays",
    metadata,
    Column("play_id", Uuid, primary_key=True),
    Column("game_id", String(64), ForeignKey("games.game_id"), nullable=False),
    Column("member_id", String, nullable=False),
    Column("purchase_event_id", Uuid, nullable=False),
    Column("proof", String(64), nullable=False),
    Column("prize", String(100), nullable=True),
    Column("points", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_game_plays_game", "game_id", "at"),
    Index("ix_game_plays_member", "member_id", "at"),
    # The prizes won on a returned purchase (migration 0021 of points' store).
    Index("ix_game_plays_prized", "purchase_event_id", postgresql_where=text("points > 0")),
)


@dataclass
class LiveGame:
    """A game in play this batch, locked: its budget and stock move as prizes are won."""

    game_id: str
    game: Game
    seed: bytes
    budget_left: int
    stock_left: dict[str, int | None]


# Read on every batch of purchases: built once, the batch's time span as parameters.
_LIVE_GAMES = (
    select(games)
    .where(games.c.starts_at <= bindparam("latest"), games.c.ends_at > bindparam("earliest"))
    .order_by(games.c.game_id)
    .with_for_update()
)


async def live_games(conn: AsyncConnection, earliest: datetime, latest: datetime) -> list[LiveGame]:
    rows = await conn.execute(_LIVE_GAMES, {"earliest": earliest, "latest": latest})
    return [
        LiveGame(r.game_id, Game.model_validate(r.config), r.seed, int(r.budget_left), dict(r.stock_left))
        for r in rows
    ]


@dataclass(frozen=True)
class Won:
    """A prize won on a purchase, and the least the purchase had to be to play."""

    play_id: uuid.UUID
    game_id: str
    member_id: str
    purchase_event_id: uuid.UUID
    prize: str
    points: int
    min_purchase: Decimal


async def won_on(conn: AsyncConnection, purchase_ids: Iterable[uuid.UUID]) -> list[Won]:
    """The prizes won on these purchases and not taken back yet (a taken-back prize is an adjustment
    whose source is the play)."""
    ids = sorted(set(purchase_ids))
    if not ids:
        return []
    rows = await conn.execute(
        text(
            "SELECT p.play_id, p.game_id, p.member_id, p.purchase_event_id, p.prize, p.points, "
            "g.config->>'min_purchase' AS min_purchase FROM game_plays p JOIN games g USING (game_id) "
            "WHERE p.purchase_event_id = ANY(:ids) AND p.points > 0 AND NOT EXISTS "
            "(SELECT 1 FROM ledger l WHERE l.program_id = 'main' AND l.source_event_id = p.play_id "
            "AND l.kind = 'adjust') "
            "ORDER BY p.play_id"
        ),
        {"ids": ids},
    )
    return [
        Won(
            r.play_id,
            r.game_id,
            r.member_id,
            r.purchase_event_id,
            r.prize,
            int(r.points),
            Decimal(r.min_purchase),
        )
        for r in rows
    ]


async def save_games(
    conn: AsyncConnection, played: Sequence[LiveGame], plays: Sequence[dict[str, Any]]
) -> None:
    if not plays:
        return
    await conn.execute(insert(game_plays).on_conflict_do_nothing(), list(plays))
    for live in played:
        await conn.execute(
            games.update()
            .where(games.c.game_id == live.game_id)
            .values(budget_left=live.budget_left, stock_left=live.stock_left)
        )


async def create_game(conn: AsyncConnection, game_id: str, game: Game, seed: bytes, commitment: str) -> bool:
    """A game is fixed once created: its seed is committed to. False when the id is taken."""
    created = await conn.execute(
        insert(games)
        .values(
            game_id=game_id,
            config=game.model_dump(mode="json"),
            seed=seed,
            commitment=commitment,
            starts_at=game.starts_at,
            ends_at=game.ends_at,
            budget_left=game.budget_points,
            stock_left={p.name: p.stock for p in game.prizes},
        )
        .on_conflict_do_nothing()
    )
    return bool(created.rowcount)


async def game_of(conn: AsyncConnection, game_id: str) -> Any:
    return (await conn.execute(select(games).where(games.c.game_id == game_id))).first()


async def plays_of(
    conn: AsyncConnection, game_id: str, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    query = (
        select(game_plays)
        .where(game_plays.c.game_id == game_id)
        .order_by(game_plays.c.at, game_plays.c.play_id)
        .offset(offset)
        .limit(limit)
    )
    rows = await conn.execute(query)
    return [dict(r._mapping) for r in rows]


async def all_games(conn: AsyncConnection) -> list[tuple[Any, int, int]]:
    """Every game, newest start first, with its plays and the prizes won in them."""
    plays = (
        select(
            game_plays.c.game_id,
            func.count().label("plays"),
            func.count(game_plays.c.prize).label("won"),
        )
        .group_by(game_plays.c.game_id)
        .subquery()
    )
    rows = await conn.execute(
        select(games, func.coalesce(plays.c.plays, 0), func.coalesce(plays.c.won, 0))
        .outerjoin(plays, plays.c.game_id == games.c.game_id)
        .order_by(games.c.starts_at.desc(), games.c.game_id)
    )
    return [(row, int(row[-2]), int(row[-1])) for row in rows]


async def plays_by(conn: AsyncConnection, member_id: str, limit: int) -> list[dict[str, Any]]:
    """A member's plays, newest first (without the proofs: the audit has them)."""
    query = (
        select(game_plays.c.game_id, game_plays.c.prize, game_plays.c.points, game_plays.c.at)
        .where(game_plays.c.member_id == member_id)
        .order_by(game_plays.c.at.desc(), game_plays.c.play_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]
