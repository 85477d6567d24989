"""Enrolling a chain's members from the program it moves from: one row per member, each judged as an
enrolment arriving from a POS would be (``parse_item``: the same contract, birth-date and text checks)
and enrolled the same way (``Intake``: contact data kept here, ``member.enrolled`` published with
acks=all). A member already enrolled is reported as such and never enrolled twice, so the same file
uploaded again enrols nobody. A dry run judges every row and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.domain import MemberEnrolledIn, parse_item
from services.ingest.intake import Intake
from services.ingest.store.repository import member_chains
from shared.errors import RowError
from shared.identity import Principal

KIND = "member_enrolled"
MAX_ROWS = 5_000  # as points' opening-balance import: one file feeds both
# The columns a row may give besides member_id and chain_id (an empty one is not given).
FIELDS = ("email", "phone", "card_no", "locale", "birth_date")


@dataclass(frozen=True)
class Judged:
    to_enrol: list[tuple[int, MemberEnrolledIn]]
    enrolled_before: list[str]
    errors: list[RowError]


def enrolment(
    row: Mapping[str, Any], now: datetime, max_skew: timedelta
) -> MemberEnrolledIn | list[RowError]:
    """One row as the enrolment a POS would send, or every reason it is not one. Pure."""
    raw = {"kind": KIND, "occurred_at": now, "member_id": row["member_id"], "chain_id": row["chain_id"]}
    raw |= {f: row[f] for f in FIELDS if row.get(f) not in (None, "")}
    item = parse_item(raw, now, max_skew)
    if isinstance(item, list):
        return [RowError(row["row"], e.field, e.rule, e.message) for e in item]
    assert isinstance(item, MemberEnrolledIn)  # the kind was given
    return item


Enrolment = tuple[int, MemberEnrolledIn | list[RowError]]  # a row's line, and what ``enrolment`` made of it


def judge(rows: Sequence[Enrolment], enrolled: Collection[str]) -> Judged:
    """Each row's enrolment against the file and the members ``enrolled`` before. A member on two rows:
    the later row is refused. Pure."""
    to_enrol: list[tuple[int, MemberEnrolledIn]] = []
    before: list[str] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row, item in rows:
        if isinstance(item, list):
            errors += item
            continue
        if item.member_id in first_row:
            said = f"member {item.member_id} is on row {first_row[item.member_id]} too"
            errors.append(RowError(row, "member_id", "duplicate_member", said))
            continue
        first_row[item.member_id] = row
        if item.member_id in enrolled:
            before.append(item.member_id)
        else:
            to_enrol.append((row, item))
    return Judged(to_enrol, before, errors)


async def import_members(
    conn: AsyncConnection,
    intake: Intake,
    caller: Principal,
    import_id: str,
    rows: Sequence[Mapping[str, Any]],
    dry_run: bool,
    now: datetime,
) -> dict[str, Any]:
    """Judges the rows, and enrols the good ones unless ``dry_run``; the answer the console shows."""
    made = [(r["row"], enrolment(r, now, intake.max_skew)) for r in rows]
    # Only valid members are looked up (a NUL byte or a lone surrogate is no text PostgreSQL takes).
    ids = [item.member_id for _, item in made if not isinstance(item, list)]
    judged = judge(made, await member_chains(conn, ids))
    errors, enrolled = list(judged.errors), 0
    if not dry_run and judged.to_enrol:
        results = await intake.submit(
            conn, caller, [i for _, i in judged.to_enrol], [KIND] * len(judged.to_enrol)
        )
        for (row, item), result in zip(judged.to_enrol, results, strict=True):
            if result.outcome == "accepted":
                enrolled += 1
            elif result.outcome != "duplicate":  # another upload of this file enrolled them just now
                why = (result.problem or {}).get("detail", result.outcome)
                errors.append(RowError(row, "member_id", result.outcome, f"member {item.member_id}: {why}"))
    return {
        "import_id": import_id,
        "dry_run": dry_run,
        "rows": len(rows),
        "to_enrol": len(judged.to_enrol),
        "enrolled": enrolled,
        "already_enrolled": len(judged.enrolled_before),
        "errors": [
            {"row": e.row, "field": e.field, "rule": e.rule, "message": e.message}
            for e in sorted(errors, key=lambda e: e.row)
        ],
    }
