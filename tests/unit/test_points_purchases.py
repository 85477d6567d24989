"""A batch of purchases and returns through the posting book and the programs' hooks, in memory: the
ledger a member would read and the events notify and analytics would get, in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from services.points.domain.wallet import Wallet
from services.points.posting import Book
from services.points.program import PurchaseHook
from services.points.programs.challenges.domain import Challenge
from services.points.programs.challenges.hook import ChallengesHook
from services.points.programs.games.domain import Game, Prize
from services.points.programs.games.hook import GamesHook
from services.points.programs.games.store import LiveGame
from services.points.programs.sunset.hook import ProgramEndHook
from services.points.purchases import PurchaseRun
from services.points.settings import PointsSettings
from shared.contracts import Envelope
from tests.support import purchase, refund

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
SETTINGS = PointsSettings()


def run(events: list[Envelope[Any]], *hooks: PurchaseHook) -> Book:
    """One batch over empty wallets, as the handler runs it after loading."""
    members = {e.payload.member_id for e in events}
    book = Book(SETTINGS, {m: Wallet(m) for m in members})
    batch = PurchaseRun(
        book=book, rule_sets=[], campaigns=[], budgets={}, earned_today={}, originals={}, hooks=hooks
    )
    for event in events:
        batch.apply(event)
    return book


def told(book: Book) -> list[tuple[str, dict[str, Any]]]:
    """The events emitted, as (type, payload)."""
    return [(e["type"], e["payload"]) for e in (orjson.loads(m.value) for m in book.outgoing)]


def wheel(**change: Any) -> LiveGame:
    fields: dict[str, Any] = {
        "name": "Yalda wheel",
        "currency": "IRR",
        "min_purchase": Decimal(500),
        "starts_at": T0 - timedelta(days=1),
        "ends_at": T0 + timedelta(days=7),
        "prizes": [Prize(name="tea", points=40, odds=Decimal(1))],
        "budget_points": 1000,
    }
    return LiveGame("yalda", Game(**(fields | change)), b"s" * 32, 1000, {"tea": None})


def test_a_purchase_earns_and_its_return_takes_back_in_proportion() -> None:
    sale = purchase("sara", "1000", occurred_at=T0)
    book = run([sale, refund(sale, T0 + timedelta(hours=1), Decimal(250))])
    assert [(e.kind, e.points) for e in book.entries] == [("earn", 1000), ("reverse", -250)]
    assert book.balance("sara") == 750
    assert [(t, p["balance"]) for t, p in told(book)] == [("points.earned", 1000), ("points.reversed", 750)]


def test_a_qualifying_purchase_plays_and_its_prize_is_a_lot_of_its_own() -> None:
    games = GamesHook([wheel()])
    book = run([purchase("sara", "600", occurred_at=T0), purchase("sara", "100", occurred_at=T0)], games)
    assert [(e.kind, e.points) for e in book.entries] == [("earn", 600), ("prize", 40), ("earn", 100)]
    assert book.balance("sara") == 740
    assert [t for t, _ in told(book)] == ["points.earned", "game.played", "points.earned"]
    assert games.games[0].budget_left == 960


def test_a_prize_is_taken_back_once_returns_leave_the_purchase_below_the_games_minimum() -> None:
    sale = purchase("sara", "600", occurred_at=T0)
    later = T0 + timedelta(hours=1)
    book = run(
        [sale, refund(sale, later, Decimal(50)), refund(sale, later, Decimal(100))], GamesHook([wheel()])
    )
    # 550 left still plays; 450 left would not have: the prize goes, once.
    assert [(e.kind, e.points) for e in book.entries] == [
        ("earn", 600),
        ("prize", 40),
        ("reverse", -50),
        ("reverse", -100),
        ("adjust", -40),
    ]
    assert book.balance("sara") == 600 + 40 - 150 - 40
    adjusted = [p for t, p in told(book) if t == "points.adjusted"]
    assert len(adjusted) == 1 and adjusted[0]["points"] == -40 and "taken back" in adjusted[0]["reason"]


def test_a_badge_bonus_is_paid_once_and_taken_back_with_the_purchase_that_earned_it() -> None:
    challenges = ChallengesHook(
        [("visits", Challenge(name="3 visits", kind="visits", target=3, bonus_points=300))]
    )
    days = [purchase("sara", "100", occurred_at=T0 + timedelta(days=d)) for d in range(4)]
    book = run([*days, refund(days[1], T0 + timedelta(days=5))], challenges)
    assert [t for t, _ in told(book)].count("badge.earned") == 1
    assert book.balance("sara") == 400 + 300 - 100  # the returned purchase did not reach the target
    completing = days[2]
    book = run([*days, refund(completing, T0 + timedelta(days=5))], ChallengesHook(challenges.challenges))
    assert [(e.kind, e.points) for e in book.entries][-2:] == [("reverse", -100), ("adjust", -300)]
    assert book.balance("sara") == 400 + 300 - 100 - 300


def test_a_partly_returned_purchase_keeps_its_badge() -> None:
    challenges = ChallengesHook(
        [("visits", Challenge(name="2 visits", kind="visits", target=2, bonus_points=50))]
    )
    days = [purchase("sara", "100", occurred_at=T0 + timedelta(days=d)) for d in range(2)]
    book = run([*days, refund(days[1], T0 + timedelta(days=3), Decimal(60))], challenges)
    assert book.balance("sara") == 200 + 50 - 60


def test_what_is_bought_after_the_program_ends_earns_nothing() -> None:
    book = run(
        [
            purchase("sara", "100", occurred_at=T0),
            purchase("sara", "100", occurred_at=T0 + timedelta(days=2)),
        ],
        ProgramEndHook(T0 + timedelta(days=1)),
    )
    assert [(e.kind, e.points) for e in book.entries] == [("earn", 100)]


@pytest.mark.parametrize(("currency", "minimum"), [("IRR", "500.001"), ("JPY", "12.5"), ("KWD", "1.0005")])
def test_a_game_whose_minimum_purchase_no_till_can_total_is_refused(currency: str, minimum: str) -> None:
    with pytest.raises(ValidationError, match=f"{minimum} has more decimals than {currency} has"):
        wheel(currency=currency, min_purchase=Decimal(minimum))
    assert wheel(currency=currency, min_purchase=Decimal(minimum[:-1])).game.min_purchase < Decimal(minimum)
