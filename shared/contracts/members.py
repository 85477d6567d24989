"""Member enrolment, profile changes and paid VIP membership."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.contracts.common import Id, MemberId, TimeZone
from shared.contracts.money import Currency, Money

Channel = Literal["email", "sms", "push", "webhook"]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]  # E.164
CardNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{4,32}$")]  # the loyalty card's number


ContactField = Literal["email", "phone", "card_no"]


def _day_of_the_year(value: str) -> str:
    try:
        date(2000, int(value[2:4]), int(value[5:7]))  # a leap year: 29 February is someone's birthday
    except ValueError:
        raise PydanticCustomError(
            "impossible_date", "{value} is not a day of the year", {"value": value}
        ) from None
    return value


# A birthday without its year (ISO 8601's --MM-DD): all of a birth date the bus carries. Ingest keeps
# the full date with the member's contact data.
MonthDay = Annotated[
    str, StringConstraints(pattern=r"^--[0-9]{2}-[0-9]{2}$"), AfterValidator(_day_of_the_year)
]


def month_day(born: date) -> str:
    return f"--{born.month:02d}-{born.day:02d}"


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberEnrolled(_Contract):
    """Contact data does not ride the bus: ingest keeps it (and answers notify's asking for it), and
    ``contact`` names the fields it holds. ``email`` and ``phone`` are read from events published
    before that, and from a producer writing the topic directly."""

    member_id: MemberId
    chain_id: Id
    email: Email | None = None
    phone: Phone | None = None
    card_no: CardNo | None = None
    contact: list[ContactField] = Field(default_factory=list, max_length=3)
    locale: Literal["fa", "en"] = "fa"
    timezone: TimeZone = "Asia/Tehran"
    # Marketing consent per channel; a channel not named has no consent.
    consents: dict[Channel, bool] = Field(default_factory=dict)
    referral_code: Id | None = None
    birthday: MonthDay | None = None


class MemberProfileChanged(_Contract):
    """Only the fields that changed are given; consent changes take effect at once downstream.
    ``contact``: the contact fields that changed, held by ingest (as in MemberEnrolled)."""

    member_id: MemberId
    email: Email | None = None
    phone: Phone | None = None
    card_no: CardNo | None = None
    contact: list[ContactField] = Field(default_factory=list, max_length=3)
    locale: Literal["fa", "en"] | None = None
    timezone: TimeZone | None = None
    consents: dict[Channel, bool] = Field(default_factory=dict)
    birthday: MonthDay | None = None


class MemberErased(_Contract):
    """The member asked to be forgotten: every service deletes what identifies them (contact data,
    addresses) and keeps anonymous amounts, so balances and KPIs still add up."""

    member_id: MemberId


class VipMembership(_Contract):
    """A paid membership order: purchased, renewed or cancelled (the event type says which)."""

    member_id: MemberId
    chain_id: Id
    order_no: Id
    plan: Id
    fee: Money
    currency: Currency
    term_months: int = Field(ge=1, le=60)
