"""Time-limited programs: reminders as the end approaches, and at the end every member's remaining
points converted to a voucher or exchanged for a parting gift, never silently lost (pure: no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.points.domain.loyalty import MAIN
from shared.contracts.common import PROGRAM_ID_PATTERN
from shared.contracts.money import CURRENCY_EXPONENTS, Currency, Money
from shared.refusal import Refused


class ProgramEnd(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    ends_at: AwareDatetime
    remind_days: list[int] = Field(default=[30, 7], max_length=5, description="days before the end")
    parting: Literal["convert", "gift"]
    convert_rate: Money | None = Field(default=None, gt=0, description="money per point, when converting")
    currency: Currency | None = None
    gift_name: str | None = Field(default=None, min_length=1, max_length=200)
    # The loyalty program that ends: its balances are settled, its purchases earn nothing after.
    loyalty_program: str = Field(default=MAIN, pattern=PROGRAM_ID_PATTERN)

    @model_validator(mode="after")
    def _complete(self) -> ProgramEnd:
        if any(not 1 <= d <= 365 for d in self.remind_days):
            raise Refused("remind_days", "remind_days_range", "reminders are 1 to 365 days before the end")
        if self.parting == "convert" and (self.convert_rate is None or self.currency is None):
            raise Refused(
                "convert_rate",
                "convert_rate_required",
                "converting needs convert_rate and currency",
            )
        if self.parting == "gift" and not self.gift_name:
            raise Refused("gift_name", "gift_name_required", "a parting gift needs gift_name")
        return self

    def reminders_due(self, now: datetime) -> list[int]:
        """The reminders whose moment has come, while the program still runs."""
        if now >= self.ends_at:
            return []
        return sorted(d for d in set(self.remind_days) if now >= self.ends_at - timedelta(days=d))

    def parting_offer(self, points: int) -> tuple[str, str, str]:
        """(what the member gets, its kind, its value) for the points they hold at the end."""
        if self.parting == "gift":
            assert self.gift_name
            return self.gift_name, "free_item", ""
        value = self.value_of(points)
        assert value is not None
        return f"{value:f} {self.currency} voucher", "voucher", f"{value:f}"

    def value_of(self, points: int) -> Decimal | None:
        """What ``points`` become in money at the end (rounded down to the currency's minor unit), or
        None for a parting gift."""
        if self.parting != "convert":
            return None
        assert self.convert_rate is not None and self.currency is not None
        step = Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(self.currency, 2))
        return (points * self.convert_rate).quantize(step, ROUND_FLOOR)
