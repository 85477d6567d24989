"""Games: an operator creates one (its seed committed to), anyone with the right reads how it stands
and, once it has ended, audits every draw."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from services.points.programs.games.domain import Game, commitment
from services.points.programs.games.store import all_games, create_game, game_of, plays_by, plays_of
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.envelope import utcnow
from shared.errors import Conflict, NotFound
from shared.identity import Caller, Permission, secured
from shared.wire import OpenOut, Out

router = APIRouter(prefix="/v1", tags=["points"], route_class=GuardedRoute)
P = Permission


class GameView(OpenOut):
    """The game as created (its configuration's keys too), with its commitment and how it stands."""

    game_id: str
    win_odds: str
    commitment: str = Field(description="SHA-256 of the seed, hex")
    plays: int
    prizes_won: int
    budget_left: int
    stock_left: Any = Field(description="prize name -> units left (null: unlimited)")


class Play(Out):
    play_id: str
    member_id: str
    purchase_event_id: str
    proof: str
    prize: str | None
    points: int
    at: datetime


class MemberPlay(Out):
    game_id: str
    prize: str | None = Field(description="null: the play won nothing")
    points: int
    at: datetime


class MemberPlays(Out):
    member_id: str
    plays: list[MemberPlay] = Field(description="newest first")


class GameAudit(Out):
    game_id: str
    commitment: str
    seed: str | None = Field(description="hex, once the game has ended")
    how_to_verify: str
    plays: list[Play]
    next_offset: int | None


@router.put("/games/{game_id}", status_code=201, response_model=GameView, **secured(P.PROGRAM_WRITE))
async def create_game_(
    game_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
    game: Game,
    caller: Caller,
    request: Request,
) -> dict[str, Any]:
    """An instant-win game (odds of winning something at least 25%): its seed is drawn now and only its
    SHA-256 is published, so the draws cannot be chosen later. A game cannot be changed once created."""
    seed = secrets.token_bytes(32)
    async with request.app.state.engine.begin() as conn:
        if not await create_game(conn, game_id, game, seed, commitment(seed)):
            detail = f"game {game_id!r} exists and cannot change: its seed is committed"
            raise Conflict(detail, title="Game exists")
        await record(conn, caller, "game.create", f"game:{game_id}", after=game)
    return await get_game(game_id, request)


class Games(Out):
    games: list[GameView]


@router.get("/games", response_model=Games, **secured(P.PROGRAM_READ))
async def list_games(request: Request) -> dict[str, Any]:
    """Every game, newest first, each as ``GET /v1/games/{game_id}`` answers it."""
    async with request.app.state.engine.connect() as conn:
        found = await all_games(conn)
    return {"games": [_view(row, plays, won) for row, plays, won in found]}


@router.get("/games/{game_id}", response_model=GameView, **secured(P.PROGRAM_READ))
async def get_game(game_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        row = await game_of(conn, game_id)
        if row is None:
            raise NotFound(f"no game {game_id!r}", title="Unknown game")
        plays = await plays_of(conn, game_id)
    return _view(row, len(plays), sum(1 for p in plays if p["prize"]))


def _view(row: Any, plays: int, won: int) -> dict[str, Any]:
    return {
        "game_id": row.game_id,
        **row.config,
        "win_odds": f"{Game.model_validate(row.config).win_odds:f}",
        "commitment": row.commitment,
        "plays": plays,
        "prizes_won": won,
        "budget_left": row.budget_left,
        "stock_left": row.stock_left,
    }


@router.get("/games/{game_id}/audit", response_model=GameAudit, **secured(P.INSIGHT_READ))
async def game_audit(
    game_id: str,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    """Every play with its proof, oldest first, a page at a time (``next_offset`` while there is more);
    once the game has ended, the seed too, so anyone can check it against the commitment published at
    creation and recompute every draw."""
    async with request.app.state.engine.connect() as conn:
        row = await game_of(conn, game_id)
        if row is None:
            raise NotFound(f"no game {game_id!r}", title="Unknown game")
        plays = await plays_of(conn, game_id, offset, limit + 1)  # one more: is there a next page
    more = len(plays) > limit
    plays = plays[:limit]
    ended = utcnow() >= row.ends_at
    return {
        "game_id": game_id,
        "commitment": row.commitment,
        "seed": row.seed.hex() if ended else None,
        "how_to_verify": "sha256(seed) == commitment; each proof == HMAC-SHA256(seed, "
        "'<game_id>:<play_id>'); the roll is the proof's first 16 hex digits / 2^64, and the prize the one "
        "whose slice of the published odds, in order, holds it",
        "plays": [_play_json(p) for p in plays],
        "next_offset": offset + limit if more else None,
    }


def _play_json(play: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in play.items() if k != "game_id"}


@router.get("/members/{member_id}/plays", response_model=MemberPlays, **secured(P.MEMBER_READ))
async def member_plays(
    member_id: str, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """The games a member played, newest first, with what each won."""
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "plays": await plays_by(conn, member_id, limit)}
