"""Routes to a member's personal data: lookup by phone, email or card number, contact for support and
for notify, export, erasure."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.ingest import privacy
from services.ingest.api import Accepted, submit_one
from services.ingest.domain import MemberProfileChangedIn
from services.ingest.settings import IngestSettings
from services.ingest.store import repository
from shared.boundary import GuardedRoute
from shared.contracts.common import PrintableText
from shared.contracts.envelope import utcnow
from shared.contracts.members import CardNo, Channel, Email, Phone
from shared.errors import Invalid, NotFound
from shared.identity import Caller, Permission, secured

privacy_api = APIRouter(prefix="/v1", tags=["members"], route_class=GuardedRoute)
MemberPath = Annotated[str, Path(min_length=1, max_length=128)]


class Found(BaseModel):
    members: list[str] = Field(description="member ids with this phone or email (usually one)")


@privacy_api.get("/members/lookup", response_model=Found, **secured(Permission.MEMBER_READ))
async def lookup(
    request: Request,
    email: Annotated[Email | None, Query()] = None,
    phone: Annotated[Phone | None, Query(description="E.164, e.g. +989121234567")] = None,
    card_no: Annotated[CardNo | None, Query(description="the loyalty card's number")] = None,
) -> Found:
    """Find a member by phone, email or card number (by its keyed hash: the index holds no values)."""
    given = {f: v for f, v in (("email", email), ("phone", phone), ("card_no", card_no)) if v is not None}
    if len(given) != 1:
        raise Invalid(
            "look up by email, phone or card number",
            field="email",
            rule="one_of",
            message="give exactly one of email, phone and card_no",
        )
    ((field, value),) = given.items()
    async with request.app.state.engine.connect() as conn:
        return Found(members=await privacy.find(conn, request.app.state.settings, field, str(value)))


class Contacts(BaseModel):
    contacts: dict[str, dict[str, str | None]] = Field(description="member id -> email, phone, card_no")


@privacy_api.get("/members/contacts", response_model=Contacts, **secured(Permission.CONTACT_READ))
async def contacts(
    request: Request, member_id: Annotated[list[str], Query(min_length=1, max_length=500)]
) -> Contacts:
    """The contact data of up to 500 members (those with none are left out)."""
    async with request.app.state.engine.connect() as conn:
        return Contacts(contacts=await repository.contacts_of(conn, member_id))


class Export(BaseModel):
    member_id: str
    enrolled_by_chain: str | None = Field(description="the chain the member enrolled at")
    contact: dict[str, str | None] = Field(description="email, phone, card_no: empty once erased")
    birth_date: date | None = Field(description="as the member gave it: none once erased")


@privacy_api.get("/members/{member_id}/export", response_model=Export, **secured(Permission.MEMBER_READ))
async def export(member_id: MemberPath, request: Request) -> dict[str, Any]:
    """What ingest holds of the member, as JSON (points, tiers and notify export their own parts)."""
    async with request.app.state.engine.connect() as conn:
        found = await privacy.export(conn, member_id)
    if found is None:
        raise NotFound(f"ingest holds nothing of member {member_id!r}", title="Unknown member")
    return found


class Erased(BaseModel):
    member_id: str
    contact_held: bool = Field(description="whether ingest held contact data for the member")


@privacy_api.post(
    "/members/{member_id}/erasure", status_code=202, response_model=Erased, **secured(Permission.MEMBER_ERASE)
)
async def erase(member_id: MemberPath, caller: Caller, request: Request) -> Erased:
    """Forget the member: their contact data here at once, and every service's copy as it hears of it
    (``member.erased``). Ledgers keep their amounts under the member id, which identifies no one."""
    settings: IngestSettings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        held = await privacy.erase(conn, settings, caller, member_id)
    request.app.state.wake_relay()
    return Erased(member_id=member_id, contact_held=held)


class ConsentsIn(PrintableText):
    consents: dict[Channel, bool] = Field(min_length=1, description="channel -> may Vafa send on it")


@privacy_api.put(
    "/members/{member_id}/consents",
    status_code=202,
    response_model=Accepted,
    **secured(Permission.MEMBER_ACT),
)
async def change_consents(
    member_id: MemberPath, body: ConsentsIn, caller: Caller, request: Request
) -> JSONResponse:
    """The member (or support on their behalf) gives or withdraws consent per channel: a profile change
    on the bus, as a chain's would be, which notify applies to the very next message."""
    change = MemberProfileChangedIn(member_id=member_id, consents=body.consents, occurred_at=utcnow())
    return await submit_one(request, caller, None, change)
