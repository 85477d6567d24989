"""Money on the wire: a decimal string (or an integer), never a binary float, in a known currency."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# ISO 4217 minor units of the currencies a chain may use here; an unknown code is refused.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "AFN": 2, "AMD": 2, "AUD": 2, "AZN": 2, "BHD": 3, "CAD": 2, "CHF": 2, "CNY": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "GEL": 2, "INR": 2, "IQD": 3, "IRR": 2, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "NOK": 2, "OMR": 3, "PKR": 2, "PLN": 2, "QAR": 2, "RUB": 2, "SAR": 2,
    "SEK": 2, "TJS": 2, "TMT": 2, "TRY": 2, "USD": 2, "UZS": 2,
}  # fmt: skip


def _known_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise PydanticCustomError(
            "unsupported_currency",
            "unsupported currency {code} (ISO 4217 codes: {known})",
            {"code": code, "known": ", ".join(CURRENCY_EXPONENTS)},
        )
    return code


_INT_LIMIT = 10**14
_LIMIT = Decimal(_INT_LIMIT)
_ZERO = Decimal(0)
# What almost every amount on the wire is: up to 14 digits, up to 4 decimals. Such a string is money by
# every rule below, so it skips them (and the Decimal's digit tuple the decimals check builds).
_PLAIN = re.compile(r"[0-9]{1,14}(?:\.[0-9]{0,4})?")


# Plain amounts already read, to their Decimal (immutable, so one may serve every field that says it):
# a price recurs on every purchase of the product, and a purchase has ~15 amounts. At most 4,096 kept,
# all dropped when full, so a stream of new amounts costs one dictionary's memory, no more.
_AMOUNTS: dict[str, Decimal] = {}
_AMOUNTS_KEPT = 4096


def _money(value: Any) -> Decimal:
    """A decimal string or an integer to a Decimal that is finite, at least 0, at most 4 decimals and
    below 10^14. One function in place of pydantic's Decimal with ``ge``, ``allow_inf_nan`` and a float
    check around it: money is in every purchase line, and that chain was much of a purchase's decode.
    Errors keep pydantic's rule names, which clients and the console already read."""
    if isinstance(value, str):
        known = _AMOUNTS.get(value)
        if known is not None:
            return known
        if _PLAIN.fullmatch(value):
            if len(_AMOUNTS) >= _AMOUNTS_KEPT:
                _AMOUNTS.clear()
            amount = _AMOUNTS[value] = Decimal(value)
            return amount
    if type(value) is int and 0 <= value < _INT_LIMIT:  # not bool, whose type is bool
        return Decimal(value)
    return _money_checked(value)


def _money_checked(value: Any) -> Decimal:
    """``_money`` by each of its rules, naming the one an amount breaks."""
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "Input should be a valid decimal") from None
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float):
        raise PydanticCustomError(
            "money_not_float", 'money must be a decimal string such as "12.50", not a JSON float'
        )
    else:
        raise PydanticCustomError("decimal_type", "Decimal input should be an integer, string or Decimal")
    if not amount.is_finite():
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    if amount < _ZERO:
        raise PydanticCustomError(
            "greater_than_equal", "Input should be greater than or equal to 0", {"ge": 0}
        )
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -4 or amount >= _LIMIT:
        raise PydanticCustomError(
            "money_out_of_range",
            "money has at most 4 decimals and is below 10^14, not {value}",
            {"value": str(value)},
        )
    return amount


class _MoneyMark:
    """Marks a field as money, so ``amounts`` finds every one (pydantic ignores the mark)."""


MONEY = _MoneyMark()


class _MoneySchema:
    """How pydantic validates money (``_money``), writes it in JSON (its decimal string, as for any
    Decimal) and describes it (what a client may send: a decimal string or an integer)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _money, serialization=core_schema.to_string_ser_schema(when_used="json")
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        written = {"type": "string", "pattern": r"^\d+(\.\d{1,4})?$", "examples": ["12.50"]}
        return (
            {"anyOf": [written, {"type": "integer", "minimum": 0}]}
            if handler.mode == "validation"
            else written
        )

    def __repr__(self) -> str:
        return "Money"


Money = Annotated[Decimal, MONEY, _MoneySchema()]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]


_MINOR_UNITS = {code: Decimal(1).scaleb(-exponent) for code, exponent in CURRENCY_EXPONENTS.items()}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 0.01 for EUR, 1 for JPY, 0.001 for KWD."""
    return _MINOR_UNITS[currency]


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no more decimals than the currency's minor unit allows (trailing zeros
    aside). Rounding to the minor unit changes nothing then: one quantize, a third of the time it takes
    to read the exponent from the digit tuple."""
    return _fits_unit(amount, _MINOR_UNITS[currency], currency)


def _fits_by_digits(amount: Decimal, currency: str) -> bool:
    allowed = CURRENCY_EXPONENTS[currency]
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent <= allowed:
        return True  # as written it fits: no need to drop trailing zeros (most amounts, cheaply)
    exponent = amount.normalize().as_tuple().exponent
    return not isinstance(exponent, int) or -exponent <= allowed


def amounts(model: BaseModel, at: str = "") -> list[tuple[str, Decimal]]:
    """Every money field of ``model`` and of the models in it, with its path (``lines.0.unit_price``):
    a field added to a contract is checked against its currency without anyone listing it."""
    found: list[tuple[str, Decimal]] = []
    for name, is_money in _money_fields(type(model)):
        value = getattr(model, name)
        if is_money:
            if isinstance(value, Decimal):
                found.append((at + name, value))
        elif isinstance(value, BaseModel):
            found += amounts(value, f"{at}{name}.")
        elif isinstance(value, list | tuple):
            for i, element in enumerate(value):
                if isinstance(element, BaseModel):
                    found += amounts(element, f"{at}{name}.{i}.")
    return found


def all_fit(model: BaseModel, currency: str) -> bool:
    """Whether every money field of ``model`` and of the models in it fits ``currency``: ``amounts``
    and ``fits_currency`` without the paths, which only a misfit needs (ingest asks this of every item,
    and the paths of a purchase's dozen amounts were most of what the check cost)."""
    unit = _MINOR_UNITS[currency]
    for name, is_money in _money_fields(type(model)):
        value = getattr(model, name)
        if is_money:
            if isinstance(value, Decimal) and not _fits_unit(value, unit, currency):
                return False
        elif isinstance(value, BaseModel):
            if not all_fit(value, currency):
                return False
        elif isinstance(value, list | tuple):
            for element in value:
                if isinstance(element, BaseModel) and not all_fit(element, currency):
                    return False
    return True


def _fits_unit(amount: Decimal, unit: Decimal, currency: str) -> bool:
    if amount.is_finite():
        try:
            return amount == amount.quantize(unit)
        except InvalidOperation:  # more digits than the context holds
            pass
    return _fits_by_digits(amount, currency)


@cache
def _money_fields(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """A model's money fields (True) and the fields that may hold models (False), in their order; the
    rest are neither. Looked up once per model, not for every field of every purchase line."""
    return tuple(
        (name, MONEY in info.metadata)
        for name, info in model.model_fields.items()
        if MONEY in info.metadata or _may_hold_models(info.annotation)
    )


def _may_hold_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_may_hold_models(arg) for arg in get_args(annotation))
