"""What the core's routes and the programs' routes share: a write in one transaction with its audit
entry, and who is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN, PROGRAM_ID
from services.points.store.loyalty import loyalty_programs
from shared.audit import record
from shared.errors import NotFound
from shared.identity import Principal


async def write_through(
    request: Request, action: Any, *args: Any, audit: tuple[Principal, str, str] | None = None
) -> dict[str, Any]:
    """Run an action in one transaction (with its audit entry: who, what, on what), then let the relay
    publish what it emitted."""
    async with request.app.state.engine.begin() as conn:
        answer: dict[str, Any] = await action(conn, request.app.state.settings, *args)
        if audit is not None:
            await record(conn, *audit, after=answer)
    request.app.state.wake_relay()
    return answer


# Which loyalty program a read or a write is about; ``main`` unless named.
InProgram = Annotated[
    str, Query(alias="program", pattern=PROGRAM_ID, description="the loyalty program (default: main)")
]


async def known_program(conn: AsyncConnection, program: str) -> None:
    """``NotFound`` unless the deployment runs the loyalty program ``program``."""
    if program != MAIN and program not in await loyalty_programs(conn):
        raise NotFound(f"there is no loyalty program {program!r}", title="Unknown program")


def on_behalf(caller: Principal, action: str, target: str) -> tuple[Principal, str, str] | None:
    """A member's own act is in their ledger; an operator's on a member's behalf is audited too."""
    return (caller, action, target) if caller.kind == "operator" else None
