"""Types for response models that put on the wire exactly what a route's plain dict put there before.

A route that returns a dict without a response model is encoded by FastAPI's ``jsonable_encoder``: a
datetime as ``isoformat()`` (``+00:00``), a ``Decimal`` as an int or a float. A response model would
serialize the same values its own way (pydantic writes ``Z`` and Decimals as strings). These annotated
types keep the encoding the clients already read while the OpenAPI document describes the response.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema


def _encoded(value: Any) -> Any:
    return jsonable_encoder(value)


def _instant(value: datetime) -> str:
    return value.isoformat()


# Any JSON value, encoded as a returned dict always was (nested datetimes, Decimals, UUIDs included).
Json = Annotated[Any, PlainSerializer(_encoded, when_used="json")]
# A moment as ISO 8601 with its offset (``2026-01-01T00:00:00+00:00``).
Instant = Annotated[
    datetime,
    PlainSerializer(_instant, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# A quantity that may be a Decimal (money under the spend metric) but goes out as a JSON number.
Number = Annotated[
    Decimal | int,
    PlainSerializer(_encoded, when_used="json"),
    WithJsonSchema({"type": "number"}),
]


class Out(BaseModel):
    """A response's shape: every key declared, none added (a key the route forgot to declare fails the
    response, so the document cannot drift from the body)."""

    model_config = ConfigDict(extra="forbid")


class OpenOut(BaseModel):
    """A response with declared keys plus a stored configuration's own (a game's, a program's)."""

    model_config = ConfigDict(extra="allow")
