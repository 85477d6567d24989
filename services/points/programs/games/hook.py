"""A game's part in a batch of purchases: one play per qualifying purchase, drawn from the committed seed;
a prize is a lot of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.posting import Book
from services.points.program import Batch, PurchaseHook
from services.points.programs.games.domain import play_id, playable, prize_at, roll
from services.points.programs.games.store import LiveGame, Won, live_games, save_games, won_on
from services.points.store.ledger import Original
from shared.contracts import (
    GAME_PLAYED,
    Envelope,
    GamePlayed,
    PurchaseRecorded,
    ReturnRecorded,
)


@dataclass
class GamesHook(PurchaseHook):
    games: list[LiveGame]
    won: list[Won] = field(default_factory=list)  # prizes on the purchases this batch's returns refer to
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
            # A return later in this batch must find it.
            self.won.append(
                Won(play, live.game_id, member, event.event_id, prize.name, points, game.min_purchase)
            )
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

    def returned(
        self, book: Book, event: Envelope[Any], ret: ReturnRecorded, original: Original | None
    ) -> None:
        """A prize is taken back once returns leave its purchase below the game's minimum: the purchase
        would not have played. Told as an adjustment, the prize's own lot taken first."""
        if original is None:
            return
        kept = original.amount - original.refunded
        for won in [w for w in self.won if w.purchase_event_id == ret.original_event_id]:
            if kept >= won.min_purchase:
                continue
            self.won.remove(won)
            purchase = won.purchase_event_id
            reason = f"prize {won.prize!r} of game {won.game_id} taken back: purchase {purchase} returned"
            details = {"game_id": won.game_id}
            book.take_back(event, won.member_id, won.points, won.play_id, purchase, reason, "games", details)

    async def save(self, conn: AsyncConnection) -> None:
        await save_games(conn, self.games, self.plays)


async def load(conn: AsyncConnection, batch: Batch) -> PurchaseHook:
    if batch.program_id != MAIN:  # games are main's
        return PurchaseHook()
    times = [e.occurred_at for e in batch.purchases]
    games = await live_games(conn, min(times), max(times)) if times else []
    return GamesHook(games, await won_on(conn, (r.payload.original_event_id for r in batch.returns)))
