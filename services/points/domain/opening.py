"""Opening balances: what a chain moving from another program brings, one row per member. Pure.

Each row is judged on its own (a bad row names its field and the rule it breaks; the good ones are
still imported), so an operator can fix a file from one report. A member's opening balance is set
once per loyalty program: a row whose member already has one is done (the same points) or refused (other
points: an adjustment, with its reason, corrects a balance). That is what makes an import idempotent,
whatever file it came in: uploading it twice, or a corrected copy, credits no member twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.contracts.common import MAX_POINTS
from shared.errors import RowError

KIND = "opening_balance"  # the ledger kind of an imported balance
MAX_ROWS = 5_000
MAX_MEMBER_ID = 128
_WHOLE = re.compile(r"^[+]?\d{1,20}$")


@dataclass(frozen=True)
class Opening:
    row: int
    member_id: str
    points: int


@dataclass(frozen=True)
class Judged:
    """A file's rows: those to credit, those already done by an earlier import, and the bad ones."""

    to_credit: list[Opening]
    done: list[Opening]
    errors: list[RowError]

    @property
    def points(self) -> int:
        return sum(o.points for o in self.to_credit)


def judge(rows: Sequence[tuple[int, str, str]], imported: Mapping[str, int]) -> Judged:
    """Each (row number, member id, points as typed) against the file and what ``imported`` holds (each
    member's opening balance already credited). A member on two rows: the later row is refused."""
    to_credit: list[Opening] = []
    done: list[Opening] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row, member_id, typed in rows:
        found = row_errors(row, member_id, typed)
        if found:
            errors += found
            continue
        opening = Opening(row, member_id, int(typed))
        if member_id in first_row:
            said = f"member {member_id} is on row {first_row[member_id]} too"
            errors.append(RowError(row, "member_id", "duplicate_member", said))
            continue
        first_row[member_id] = row
        before = imported.get(member_id)
        if before is None:
            to_credit.append(opening)
        elif before == opening.points:
            done.append(opening)
        else:
            said = f"member {member_id} was given an opening balance of {before}"
            errors.append(RowError(row, "points", "already_imported", said))
    return Judged(to_credit, done, errors)


def row_errors(row: int, member_id: str, typed: str) -> list[RowError]:
    """What is wrong with a row on its own (nothing: an empty list)."""
    errors = []
    if not member_id:
        errors.append(RowError(row, "member_id", "missing", "a member id is required"))
    elif len(member_id) > MAX_MEMBER_ID:
        errors.append(RowError(row, "member_id", "string_too_long", f"at most {MAX_MEMBER_ID} characters"))
    elif not member_id.isprintable() or member_id != member_id.strip():
        errors.append(RowError(row, "member_id", "member_id_printable", "printable characters only"))
    if not typed:
        errors.append(RowError(row, "points", "missing", "points are required"))
    elif not _WHOLE.match(typed):
        errors.append(RowError(row, "points", "int_parsing", "a whole number of points, at least 1"))
    elif int(typed) < 1:
        errors.append(
            RowError(row, "points", "greater_than_equal", "at least 1 (no points, no opening balance)")
        )
    elif int(typed) > MAX_POINTS:
        errors.append(RowError(row, "points", "less_than_equal", f"at most {MAX_POINTS}"))
    return errors
