"""The member import's route: a chain's members from the program it moves from (the console's Import
page sends the rows of the file it read; points' opening-balance import takes the same file's points)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.ingest.member_import import MAX_ROWS, import_members
from shared.audit import record
from shared.boundary import GuardedRoute
from shared.contracts.envelope import utcnow
from shared.identity import Caller, Permission, secured
from shared.wire import Out, RowRefused

member_import_api = APIRouter(prefix="/v1", tags=["members"], route_class=GuardedRoute)
_CELL = 1000  # longer than any valid value: such a row is judged (and refused), the file is not


class MemberRow(BaseModel):
    """A row as typed in the file; ingest judges each field as it judges a POS's enrolment."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=1, le=10 * MAX_ROWS, description="its line in the file")
    member_id: str = Field(max_length=_CELL)
    chain_id: str = Field(max_length=_CELL)
    email: str | None = Field(default=None, max_length=_CELL)
    phone: str | None = Field(default=None, max_length=_CELL, description="E.164, e.g. +989121234567")
    card_no: str | None = Field(default=None, max_length=_CELL)
    locale: str | None = Field(default=None, max_length=_CELL, description="fa (the default) or en")
    birth_date: str | None = Field(default=None, max_length=_CELL, description="YYYY-MM-DD")


class MembersImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    import_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$", description="e.g. the file's SHA-256"
    )
    dry_run: bool = True
    rows: list[MemberRow] = Field(min_length=1, max_length=MAX_ROWS)


class MembersImported(Out):
    import_id: str
    dry_run: bool
    rows: int = Field(description="rows read")
    to_enrol: int = Field(description="good rows of members not enrolled yet")
    enrolled: int = Field(description="members enrolled now (0 in a dry run)")
    already_enrolled: int = Field(description="good rows of members enrolled before: left as they are")
    errors: list[RowRefused] = Field(description="each bad row: its line, field, rule and why")


@member_import_api.post(
    "/imports/members", response_model=MembersImported, **secured(Permission.MEMBERS_IMPORT)
)
async def import_members_route(body: MembersImportIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Enrol a chain's members, each row as a POS's enrolment would be (its contact data kept by ingest,
    ``member.enrolled`` published); each bad row is answered with its field and rule, a member enrolled
    before is counted and left alone. ``dry_run`` (the default) changes nothing. The import is audited
    under the operator's name."""
    rows = [r.model_dump() for r in body.rows]
    async with request.app.state.engine.begin() as conn:
        answer = await import_members(
            conn, request.app.state.intake, caller, body.import_id, rows, body.dry_run, utcnow()
        )
        if not body.dry_run:
            summary = {k: v for k, v in answer.items() if k != "errors"} | {"bad_rows": len(answer["errors"])}
            await record(conn, caller, "members.import", f"import:{body.import_id}", after=summary)
    return answer
