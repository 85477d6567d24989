"""HTTP reads of the points store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services.points.store.repository import balance_of, ledger_of

api = APIRouter(prefix="/v1", tags=["points"])


@api.get("/members/{member_id}/balance")
async def get_balance(member_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        balance = await balance_of(conn, member_id)
    if balance is None:
        raise HTTPException(404, f"member {member_id!r} has no points yet")
    return {"member_id": member_id, "balance": balance}


@api.get("/members/{member_id}/ledger")
async def get_ledger(member_id: str, request: Request) -> dict[str, Any]:
    async with request.app.state.engine.connect() as conn:
        return {"member_id": member_id, "entries": await ledger_of(conn, member_id)}
