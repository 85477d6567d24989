"""Money on the wire: a decimal string (or an integer), never a binary float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('money must be a decimal string such as "12.50", not a JSON float')
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
]
