"""Field types every contract shares."""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator
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
# How a loyalty program is named (points names them; paths, queries and events carry the name).
PROGRAM_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# The program every deployment starts with, open to every chain; what came before programs is its.
MAIN_PROGRAM = "main"


def program_takes_chain(chains: Collection[str], active: bool, chain_id: str) -> bool:
    """Whether a purchase at ``chain_id`` belongs to a program: an active one listing the chain, or
    listing none (open to every chain). Points earns by it, tiers qualifies by it (analytics' SQL says
    the same)."""
    return active and (not chains or chain_id in chains)


MemberId = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
TimeZone = Annotated[str, AfterValidator(_known_zone)]
Quantity = Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=3, allow_inf_nan=False)]

# Far beyond any program's points, well inside PostgreSQL's bigint: a bound every points input carries,
# so an absurd number is a 422, not an overflow in the database.
MAX_POINTS = 10**12
# Every count of points on the bus: the same bound, so what one service emits every other can store.
Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]


# Control characters have no place in any text a loyalty program keeps (ids, emails, SKUs, names), and
# PostgreSQL refuses a NUL outright: C0 but tab, newline and carriage return; DEL; C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same in JSON bytes: escaped (an even run of backslashes before it is not an escape), or raw
# (DEL, and C1 as UTF-8; raw C0 is not JSON at all).
_CONTROL_IN_JSON = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u00(0[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\x7f|\xc2[\x80-\x9f]"
)


def control_character_in_json(raw: bytes) -> str | None:
    """Why a JSON document is refused for a control character in a string or a key, or None. Checked
    on the bytes, before any parsing, so every string of every contract is covered at the cost of one scan."""
    # Almost every document has none of the three byte sequences any finding starts with: three
    # substring scans in C cost a fraction of the regex, which runs only when one is there.
    if b"\\u00" not in raw and b"\x7f" not in raw and b"\xc2" not in raw:
        return None
    found = _CONTROL_IN_JSON.search(raw)
    if found is None:
        return None
    escape = found.group()
    code = int(escape[-2:], 16) if escape.startswith(b"\\") else ord(escape.decode("utf-8"))
    return f"a control character (U+{code:04X}) is not allowed in text (at byte {found.start()})"


def _control_character_in(value: Any) -> str | None:
    if isinstance(value, str):
        found = _CONTROL.search(value)
        return f"U+{ord(found.group()):04X}" if found else None
    if isinstance(value, dict):
        return next(filter(None, map(_control_character_in, [*value, *value.values()])), None)
    if isinstance(value, list | tuple):
        return next(filter(None, map(_control_character_in, value)), None)
    if isinstance(value, BaseModel):  # a nested line item, tender...
        return _control_character_in(value.__dict__)
    return None


# Validation context (``{TEXT_CHECKED: True}``) of a document whose JSON bytes were already scanned
# whole (``control_character_in_json``): the per-field walk would find nothing more.
TEXT_CHECKED = "text_checked"


class PrintableText(BaseModel):
    """For models read from the outside (HTTP bodies): a control character in any string, nested or a
    key, is refused naming the field, with the rule ``control_character``."""

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get(TEXT_CHECKED):
            return value
        if found := _control_character_in(value):
            raise PydanticCustomError(
                "control_character", "a control character ({found}) is not allowed in text", {"found": found}
            )
        return value
