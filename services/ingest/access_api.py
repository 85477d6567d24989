"""Tokens for operators (name and password) and integrations (an API key), and the admin's routes for
keys and operators. Every other service verifies the tokens issued here (shared/identity.py)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import httpx
from fastapi import APIRouter, BackgroundTasks, Path, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.ingest import access
from services.ingest.auth import KeyRing, SignInLimit
from services.ingest.settings import IngestSettings
from services.ingest.store import repository
from shared.boundary import GuardedRoute
from shared.contracts.common import PrintableText
from shared.contracts.envelope import utcnow
from shared.contracts.members import Email, Phone
from shared.identity import (
    ROLES,
    SCOPES,
    SIGN_IN,
    Caller,
    Party,
    Permission,
    Principal,
    Role,
    Scope,
    SigningKeys,
    bearer,
    refuse,
    secured,
)
from shared.refusal import Refused

log = logging.getLogger(__name__)
T = TypeVar("T")
access_api = APIRouter(prefix="/v1", tags=["access"], route_class=GuardedRoute)
ADMIN = secured(Permission.ACCESS_ADMIN)
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9@._+-]*$")]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")
    actor: str = Field(description="who the token names, as the audit log records it")
    permissions: list[str]


def _token(request: Request, principal: Principal, ttl_s: int) -> TokenOut:
    signing: SigningKeys = request.app.state.signing_keys
    return TokenOut(
        access_token=signing.issue(principal, ttl_s),
        expires_in=ttl_s,
        actor=principal.actor,
        permissions=sorted(principal.permissions),
    )


async def _admin_write(request: Request, change: Callable[..., Awaitable[T]], *args: Any) -> T:
    """An admin's change in one transaction (what it refuses is a ``shared.errors`` error, answered
    as a problem by the one mapping every service installs)."""
    async with request.app.state.engine.begin() as conn:
        return await change(conn, *args)


class SignIn(PrintableText):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


@access_api.post("/tokens/operator", response_model=TokenOut, **SIGN_IN)
async def operator_token(body: SignIn, request: Request) -> TokenOut:
    """An operator signs in: a token naming their roles, for every service's API."""
    limit: SignInLimit = request.app.state.signin_limit
    limit.check(body.name, f"too many failed sign-ins for {body.name!r}")
    async with request.app.state.engine.connect() as conn:
        principal = await access.sign_in(conn, body.name, body.password)
    if principal is None:
        limit.failed(body.name)
        raise refuse(request, 401, "bad credentials", "wrong name or password, or the account is disabled")
    limit.succeeded(body.name)
    settings: IngestSettings = request.app.state.settings
    return _token(request, principal, settings.ingest_operator_token_s)


@access_api.post("/tokens/integration", response_model=TokenOut, **SIGN_IN)
async def integration_token(request: Request) -> TokenOut:
    """An integration presents its API key (``Authorization: Bearer vafa_...``) for a short-lived
    token that every service accepts, with the key's scopes."""
    keyring: KeyRing = request.app.state.keyring
    found = await keyring.principal(bearer(request))
    if isinstance(found, str):
        raise refuse(request, 401, found, f"API key {found}: send 'Authorization: Bearer vafa_...'")
    settings: IngestSettings = request.app.state.settings
    return _token(request, found, settings.ingest_integration_token_s)


class MemberAddress(PrintableText):
    email: Email | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +989121234567")

    @model_validator(mode="after")
    def _one(self) -> MemberAddress:
        if (self.email is None) == (self.phone is None):
            raise Refused("email", "one_of", "give exactly one of email and phone")
        return self

    @property
    def given(self) -> tuple[Literal["email", "phone"], str]:
        return ("email", self.email) if self.email is not None else ("phone", str(self.phone))


class MemberCode(MemberAddress):
    code: str = Field(min_length=4, max_length=10, description="the one-time code the member received")


class CodeSent(BaseModel):
    detail: str


@access_api.post("/tokens/member/code", status_code=202, response_model=CodeSent, **SIGN_IN)
async def member_code(body: MemberAddress, request: Request, background: BackgroundTasks) -> CodeSent:
    """A member asks for a one-time sign-in code at their email or phone. The answer is the same
    whether or not the address is a member's, and comes before the code is sent."""
    field, value = body.given
    limit: SignInLimit = request.app.state.code_limit
    limit.check(f"{field}:{value.lower()}", "too many codes asked for this address")
    limit.failed(f"{field}:{value.lower()}")  # every request counts against the address
    settings: IngestSettings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        found = await access.new_member_code(conn, settings, field, value, utcnow())
    if found is not None:
        background.add_task(_send_code, settings, request.app.state.signing_keys, found)
    return CodeSent(detail="if this address belongs to a member, a code is on its way")


async def _send_code(settings: IngestSettings, signing: SigningKeys, code: access.CodeToSend) -> None:
    token = signing.issue(Principal("service", "ingest"), 60)
    url = settings.ingest_notify_url.rstrip("/") + "/v1/sign-in-codes"
    body = {"member_id": code.member_id, "channel": code.channel, "address": code.address,
            "code": code.code, "minutes": code.minutes}  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        if answer.status_code != 204:
            log.warning("notify did not send a sign-in code: %s %s", answer.status_code, answer.text[:200])
    except httpx.HTTPError as error:
        log.warning("notify unreachable for a sign-in code: %s", error)


@access_api.post("/tokens/member", response_model=TokenOut, **SIGN_IN)
async def member_token(body: MemberCode, request: Request) -> TokenOut:
    """The code a member received, for a short-lived token to their own data only."""
    field, value = body.given
    settings: IngestSettings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        principal = await access.member_sign_in(conn, settings, field, value, body.code, utcnow())
    if principal is None:
        raise refuse(request, 401, "bad code", "wrong or expired code: ask for a new one")
    return _token(request, principal, settings.ingest_member_token_s)


class KeyIn(PrintableText):
    kind: Party
    chain_id: str | None = Field(default=None, min_length=1, max_length=64)
    store_id: str | None = Field(default=None, min_length=1, max_length=64)
    partner_id: str | None = Field(default=None, min_length=1, max_length=64)
    scopes: list[Scope] = Field(default=["events:send"], min_length=1, description=f"of {list(SCOPES)}")
    label: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = None


class KeyOut(BaseModel):
    prefix: str
    kind: str
    chain_id: str | None
    store_id: str | None
    partner_id: str | None
    scopes: list[str]
    label: str
    expires_at: AwareDatetime | None
    created_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None


class NewKeyOut(KeyOut):
    token: str = Field(description="shown once: only its digest is kept")


@access_api.post("/access/keys", status_code=201, response_model=NewKeyOut, **ADMIN)
async def create_key(body: KeyIn, caller: Caller, request: Request) -> NewKeyOut:
    spec = access.KeySpec(**body.model_dump(exclude={"scopes"}), scopes=tuple(body.scopes))
    token, view = await _admin_write(request, access.create_key, caller, spec)
    return NewKeyOut(token=token, **view)


@access_api.get("/access/keys", response_model=list[KeyOut], **ADMIN)
async def list_keys(request: Request) -> list[dict[str, Any]]:
    async with request.app.state.engine.connect() as conn:
        return [dict(row._mapping) for row in await repository.all_keys(conn)]


@access_api.delete("/access/keys/{prefix}", status_code=204, **ADMIN)
async def revoke_key(prefix: Annotated[str, Path(max_length=16)], caller: Caller, request: Request) -> None:
    """Revoked at once here; tokens already exchanged for it live out their hour."""
    await _admin_write(request, access.revoke_key, caller, prefix)


class OperatorIn(PrintableText):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9@._+-]*$")
    roles: list[Role] = Field(min_length=1, description=f"of {list(ROLES)}")


class OperatorChange(PrintableText):
    roles: list[Role] | None = Field(default=None, min_length=1)
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    disabled: bool | None = None


class OperatorOut(BaseModel):
    name: str
    roles: list[str]
    created_at: AwareDatetime | None = None
    disabled_at: AwareDatetime | None = None


class NewOperatorOut(OperatorOut):
    password: str = Field(description="a one-time password to hand over; change it after signing in")


@access_api.post("/access/operators", status_code=201, response_model=NewOperatorOut, **ADMIN)
async def add_operator(body: OperatorIn, caller: Caller, request: Request) -> NewOperatorOut:
    password = await _admin_write(request, access.add_operator, caller, body.name, body.roles)
    return NewOperatorOut(name=body.name, roles=sorted(set(body.roles)), password=password)


@access_api.get("/access/operators", response_model=list[OperatorOut], **ADMIN)
async def list_operators(request: Request) -> list[dict[str, Any]]:
    async with request.app.state.engine.connect() as conn:
        return [dict(row._mapping) for row in await repository.all_operators(conn)]


@access_api.patch("/access/operators/{name}", status_code=204, **ADMIN)
async def change_operator(name: Name, body: OperatorChange, caller: Caller, request: Request) -> None:
    """Roles, a new password, or disabling the account (its tokens live out their hours)."""
    change = functools.partial(
        access.change_operator, roles=body.roles, password=body.password, disabled=body.disabled
    )
    await _admin_write(request, change, caller, name)
