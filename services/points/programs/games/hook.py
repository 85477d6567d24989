"""A game's part in a batch of purchases: one play per qualifying purchase, drawn from the committed seed;
a prize is a lot of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.posting import Book
from services.points.program import Batch, PurchaseHook
from services.points.programs.games.domain import play_id, playable, prize_at, roll
from services.points.programs.games.store import LiveGame, live_games, save_games
from shared.contracts import GAME_PLAYED, Envelope, GamePlayed, PurchaseRecorded


@dataclass
class GamesHook(PurchaseHook):
    games: list[LiveGame]
    plays: list[dict[str, Any]] = field(default_factory=list)

    def purchased(self, book: Book, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        for live in self.games:
            self._play(book, live, event, purchase)

    def _play(self, book: Book, live: LiveGame, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        game = live.game
        qualifies = (
            purchase.currency == game.currency
            and purchase.total_amount >= game.min_purchase
            and game.starts_at <= event.occurred_at < game.ends_at
        )
        if not qualifies or not playable(game, live.budget_left, live.stock_left):
            return
        member = purchase.member_id
        play = play_id(live.game_id, event.event_id)
        number, proof = roll(live.seed, live.game_id, play)
        prize = prize_at(game.prizes, number)
        points = prize.points if prize else 0
        if prize:
            live.budget_left -= points
            if (left := live.stock_left.get(prize.name)) is not None:
                live.stock_left[prize.name] = left - 1
            details = {"game_id": live.game_id, "prize": prize.name, "proof": proof}
            book.credit(member, "prize", points, play, event.occurred_at, details)
        self.plays.append(
            {"play_id": play, "game_id": live.game_id, "member_id": member,
             "purchase_event_id": event.event_id, "proof": proof, "prize": prize.name if prize else None,
             "points": points, "at": event.occurred_at}
        )  # fmt: skip
        book.follow(
            event,
            GAME_PLAYED,
            GamePlayed(
                member_id=member, game_id=live.game_id, play_id=play, purchase_event_id=event.event_id,
                prize=prize.name if prize else None, points=points, proof=proof, balance=book.balance(member),
            ),
        )  # fmt: skip

    async def save(self, conn: AsyncConnection) -> None:
        await save_games(conn, self.games, self.plays)


async def load(conn: AsyncConnection, batch: Batch) -> PurchaseHook:
    times = [e.occurred_at for e in batch.purchases]
    return GamesHook(await live_games(conn, min(times), max(times)) if times else [])
