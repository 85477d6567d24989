"""Instant-win games: odds below 25% refused; draws provably fair and distributed as published."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.points.programs.games.domain import (
    Game,
    Prize,
    commitment,
    play_id,
    playable,
    prize_at,
    roll,
    verify,
)
from shared.problems import FieldError, errors_of

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def game(*odds: str, budget: int = 10_000, **change: Any) -> Game:
    prizes = [Prize(name=f"p{i}", points=10 * (i + 1), odds=Decimal(o)) for i, o in enumerate(odds)]
    fields: dict[str, Any] = {"name": "Yalda wheel", "currency": "IRR", "min_purchase": Decimal(500_000),
                              "starts_at": T0, "ends_at": T0 + timedelta(days=7), "prizes": prizes,
                              "budget_points": budget}  # fmt: skip
    return Game(**(fields | change))


@pytest.mark.parametrize(
    ("odds", "message"),
    [
        (("0.1", "0.1"), "odds of winning something are 20.00%; they must be at least 25%"),
        (("0.2499",), "at least 25%"),
        (("0.7", "0.4"), "more than certain"),
    ],
)
def test_a_game_whose_odds_of_winning_are_below_25_percent_is_refused(
    odds: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        game(*odds)


def test_a_fair_game_is_accepted_and_other_mistakes_refused() -> None:
    assert game("0.25").win_odds == Decimal("0.25")
    with pytest.raises(ValidationError, match="budget does not cover"):
        game("0.3", "0.2", budget=15)
    with pytest.raises(ValidationError, match="ends_at"):
        game("0.3", ends_at=T0)


@pytest.mark.parametrize(
    ("odds", "change", "field", "rule"),
    [
        (("0.1",), {}, "prizes", "odds_too_low"),
        (("0.7", "0.4"), {}, "prizes", "odds_exceed_one"),
        (("0.3", "0.2"), {"budget": 15}, "budget_points", "budget_below_prize"),
        (("0.3",), {"ends_at": T0}, "ends_at", "window_empty"),
    ],
)
def test_a_refused_game_names_the_field_and_a_stable_rule(
    odds: tuple[str, ...], change: dict[str, Any], field: str, rule: str
) -> None:
    """What the points API's problem document lists (it maps errors with ``errors_of``)."""
    with pytest.raises(ValidationError) as refused:
        game(*odds, **change)
    assert [(e.field, e.rule) for e in errors_of(refused.value)] == [(field, rule)]
    assert all(isinstance(e, FieldError) and e.message for e in errors_of(refused.value))


def test_each_draw_is_recomputable_from_the_revealed_seed_and_only_from_it() -> None:
    seed = bytes(range(32))
    play = play_id("wheel", uuid.UUID(int=7))
    number, proof = roll(seed, "wheel", play)
    # Independently: HMAC-SHA256(seed, "<game>:<play>"), first 64 bits over 2^64.
    expected = hmac.new(seed, f"wheel:{play}".encode(), hashlib.sha256).hexdigest()
    assert proof == expected and number == Decimal(int(expected[:16], 16)) / Decimal(2**64)
    published = hashlib.sha256(seed).hexdigest()
    assert commitment(seed) == published
    assert verify(seed.hex(), published, "wheel", play, proof)
    assert not verify(bytes(32).hex(), published, "wheel", play, proof)  # another seed
    assert not verify(seed.hex(), published, "wheel", play_id("wheel", uuid.UUID(int=8)), proof)
    assert play == play_id("wheel", uuid.UUID(int=7))  # a redelivered purchase is the same play


def test_prizes_fall_in_consecutive_slices_of_the_published_odds() -> None:
    g = game("0.3", "0.2")
    assert prize_at(g.prizes, Decimal(0)).name == "p0"  # type: ignore[union-attr]
    assert prize_at(g.prizes, Decimal("0.2999")).name == "p0"  # type: ignore[union-attr]
    assert prize_at(g.prizes, Decimal("0.3")).name == "p1"  # type: ignore[union-attr]
    assert prize_at(g.prizes, Decimal("0.5")) is None


def test_twenty_thousand_draws_win_as_often_as_published() -> None:
    g, seed = game("0.3", "0.2"), b"a committed seed, fixed for the test"
    won = Counter(
        (
            p.name
            if (p := prize_at(g.prizes, roll(seed, "wheel", play_id("wheel", uuid.UUID(int=i)))[0]))
            else None
        )
        for i in range(20_000)
    )
    # Within 1.5 points of the published odds (about 4.5 standard deviations at this count).
    assert abs(won["p0"] / 20_000 - 0.3) < 0.015 and abs(won["p1"] / 20_000 - 0.2) < 0.015
    assert abs(won[None] / 20_000 - 0.5) < 0.015


def test_a_game_stops_when_a_prize_or_the_budget_runs_out() -> None:
    g = game("0.3", "0.2")
    assert playable(g, 20, {"p0": None, "p1": 3})
    assert not playable(g, 19, {"p0": None, "p1": 3})  # cannot pay the largest prize
    assert not playable(g, 100, {"p0": None, "p1": 0})  # the odds would no longer hold
