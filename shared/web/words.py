"""Persian (right to left, Persian digits, Jalali dates) and English (Gregorian): which language a
request gets, and words, numbers and dates written as its reader expects. Each front end has its own
table of words (``Words.TABLE``); digits and the calendar are shared/persian.py's, as notify's
messages write them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar, Literal, get_args

from shared.persian import THOUSANDS, fa_digits, jalali

Locale = Literal["fa", "en"]
LOCALES: tuple[Locale, ...] = get_args(Locale)
COOKIE = "vafa_lang"


class Verbatim(str):
    """Text shown as it was typed, in any language: an email address keeps its dot and digits."""

    __slots__ = ()


class Words:
    """One locale's words, numbers and dates, as the templates use them (``t("key", value=...)``)."""

    # key -> (English, Persian). A key missing from a front end's table fails its page tests.
    TABLE: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def __init__(self, locale: Locale) -> None:
        self.locale: Locale = locale

    @property
    def dir(self) -> str:
        return "rtl" if self.locale == "fa" else "ltr"

    @property
    def other(self) -> Locale:
        return "en" if self.locale == "fa" else "fa"

    def __call__(self, key: str, **values: object) -> str:
        english, persian = self.TABLE[key]
        text = persian if self.locale == "fa" else english
        return text.format(**{k: self._value(v) for k, v in values.items()}) if values else text

    def _value(self, value: object) -> str:
        if isinstance(value, bool | Verbatim):
            return str(value)
        if isinstance(value, int | Decimal):
            return self.number(value)
        if isinstance(value, datetime | date):
            return self.when(value)
        return self.digits(value) if self.locale == "fa" else str(value)

    def digits(self, value: object) -> str:
        return fa_digits(value) if self.locale == "fa" else str(value)

    def number(self, value: int | Decimal | str, signed: bool = False) -> str:
        """Grouped by thousands (and signed when asked), in the locale's digits."""
        amount = Decimal(value) if isinstance(value, str) else value
        if isinstance(amount, Decimal) and amount == amount.to_integral_value():
            amount = int(amount)  # 47000000.0000 IRR reads as 47,000,000
        text = f"{amount:+,}" if signed else f"{amount:,}"
        if self.locale == "en":
            return text
        # A left-to-right mark keeps the sign before the digits inside right-to-left text.
        return ("\u200e" if signed else "") + fa_digits(text.replace(",", THOUSANDS))

    def percent(self, ratio: Decimal | str) -> str:
        """A ratio (0.732) as a percentage to one decimal: 73.2% (in Persian digits, with the Persian
        decimal separator and percent sign)."""
        value = (Decimal(ratio) * 100).quantize(Decimal("0.1"))
        if self.locale == "en":
            return f"{value}%"
        return fa_digits(str(value).replace(".", "٫")) + "٪"

    def when(self, value: datetime | date | str, with_time: bool = True) -> str:
        """Jalali in Persian, Gregorian in English; a time of day in UTC (the store's zone is not known
        here)."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
            if self.locale == "fa":
                return jalali(value, with_time=with_time)
            return value.strftime("%d %b %Y %H:%M" if with_time else "%d %b %Y")
        return jalali(value) if self.locale == "fa" else value.strftime("%d %b %Y")


def chosen(asked: str | None, cookie: str | None, default: Locale) -> Locale:
    """``?lang=`` first, then the cookie, then the default (the deployment's, or the member's own)."""
    for candidate in (asked, cookie):
        if candidate in LOCALES:
            return candidate
    return default
