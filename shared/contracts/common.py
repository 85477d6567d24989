"""Field types every contract shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError


def _known_zone(name: str) -> str:
    try:
        if len(name) > 64:  # IANA names are short; a long one is not one (and the OS refuses the path)
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PydanticCustomError(
            "unknown_timezone", "unknown IANA time zone {name} (e.g. Asia/Tehran)", {"name": name}
        ) from None
    return name


Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
MemberId = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
TimeZone = Annotated[str, AfterValidator(_known_zone)]
Quantity = Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=3, allow_inf_nan=False)]

# Far beyond any program's points, well inside PostgreSQL's bigint: a bound every points input carries,
# so an absurd number is a 422, not an overflow in the database.
MAX_POINTS = 10**12
