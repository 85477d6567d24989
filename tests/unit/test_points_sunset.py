"""Time-limited programs: reminders when due, and what remaining points become at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.points.programs.sunset.domain import ProgramEnd

END = datetime(2026, 12, 21, tzinfo=UTC)


def program(**change: Any) -> ProgramEnd:
    fields: dict[str, Any] = {
        "name": "Yalda club",
        "ends_at": END,
        "remind_days": [30, 7],
        "parting": "convert",
        "convert_rate": Decimal("100"),
        "currency": "IRR",
    }
    return ProgramEnd(**(fields | change))


def test_reminders_come_due_in_turn_and_stop_at_the_end() -> None:
    p = program()
    assert p.reminders_due(END - timedelta(days=31)) == []
    assert p.reminders_due(END - timedelta(days=30)) == [30]
    assert p.reminders_due(END - timedelta(days=2)) == [7, 30]
    assert p.reminders_due(END) == []


def test_points_become_a_voucher_rounded_down_to_the_currency_or_a_gift() -> None:
    assert program().parting_offer(1234) == ("123400.00 IRR voucher", "voucher", "123400.00")  # ISO 4217: 2
    usd = program(convert_rate=Decimal("0.013"), currency="USD")
    assert usd.parting_offer(1234) == ("16.04 USD voucher", "voucher", "16.04")
    gift = program(parting="gift", convert_rate=None, currency=None, gift_name="A box of gaz")
    assert gift.parting_offer(5) == ("A box of gaz", "free_item", "")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"convert_rate": None}, "convert_rate and currency"),
        ({"parting": "gift"}, "gift_name"),
        ({"remind_days": [0]}, "1 to 365"),
    ],
)
def test_an_incomplete_program_end_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        program(**change)


def test_what_points_become_in_money_is_said_only_by_a_program_converting_them() -> None:
    ends = datetime(2027, 1, 31, tzinfo=UTC)
    convert = ProgramEnd(
        name="c", ends_at=ends, parting="convert", convert_rate=Decimal("0.015"), currency="USD"
    )
    assert convert.value_of(645) == Decimal("9.67")  # rounded down to the cent
    assert ProgramEnd(name="g", ends_at=ends, parting="gift", gift_name="mug").value_of(645) is None
