"""Who may call Vafa: integration keys and operator accounts, created, changed and revoked by an admin
(every change audited), and signing in for a token. Used by the HTTP API and the CLI alike."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest import privacy
from services.ingest.auth import generate_key, hash_password, password_matches
from services.ingest.settings import IngestSettings
from services.ingest.store import repository
from shared.audit import record
from shared.contracts.envelope import utcnow
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import ROLES, SCOPES, Party, Principal, member


@dataclass(frozen=True)
class KeySpec:
    kind: Party  # whose key: a chain's, a partner's, or unscoped
    chain_id: str | None = None
    store_id: str | None = None
    partner_id: str | None = None
    scopes: tuple[str, ...] = ("events:send",)
    label: str = ""
    expires_at: datetime | None = None

    def problems(self) -> str | None:
        if self.kind == "chain" and not self.chain_id:
            return "a chain key needs its chain"
        if self.kind == "partner" and not self.partner_id:
            return "a partner key needs its partner"
        if self.kind != "chain" and (self.chain_id or self.store_id):
            return f"a {self.kind} key names no chain or store"
        if self.kind != "partner" and self.partner_id:
            return f"a {self.kind} key names no partner"
        if unknown := sorted(set(self.scopes) - set(SCOPES)):
            return f"unknown scope(s) {unknown}; scopes are {list(SCOPES)}"
        if not self.scopes:
            return "a key needs at least one scope"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "a key's expiry must be in the future"
        return None


def _key_view(spec: KeySpec, prefix: str) -> dict[str, Any]:
    return {
        "prefix": prefix,
        "kind": spec.kind,
        "chain_id": spec.chain_id,
        "store_id": spec.store_id,
        "partner_id": spec.partner_id,
        "scopes": sorted(spec.scopes),
        "label": spec.label,
        "expires_at": spec.expires_at,
    }


async def create_key(conn: AsyncConnection, actor: Principal, spec: KeySpec) -> tuple[str, dict[str, Any]]:
    """The new key's token (shown once, never stored) and what it may do."""
    if (problem := spec.problems()) is not None:
        raise Invalid(problem)
    key = generate_key()
    await repository.add_key(
        conn,
        id=uuid.uuid4(),
        prefix=key.prefix,
        secret_sha256=key.secret_sha256,
        kind=spec.kind,
        chain_id=spec.chain_id,
        store_id=spec.store_id,
        partner_id=spec.partner_id,
        label=spec.label,
        scopes=sorted(spec.scopes),
        expires_at=spec.expires_at,
    )
    view = _key_view(spec, key.prefix)
    await record(conn, actor, "key.create", f"key:{key.prefix}", after=view)
    return key.token, view


async def revoke_key(conn: AsyncConnection, actor: Principal, prefix: str) -> None:
    if not await repository.revoke_key(conn, prefix):
        raise NotFound(f"no active key with prefix {prefix!r}")
    await record(
        conn, actor, "key.revoke", f"key:{prefix}", before={"state": "active"}, after={"state": "revoked"}
    )


def _checked_roles(roles: Sequence[str]) -> list[str]:
    if not roles:
        raise Invalid(f"an operator needs at least one role of {list(ROLES)}")
    if unknown := sorted(set(roles) - set(ROLES)):
        raise Invalid(f"unknown role(s) {unknown}; roles are {list(ROLES)}")
    return sorted(set(roles))


def one_time_password() -> str:
    return secrets.token_urlsafe(18)


async def add_operator(
    conn: AsyncConnection, actor: Principal, name: str, roles: Sequence[str], password: str | None = None
) -> str:
    """A new operator account; returns its password (given, or made here to be handed over once)."""
    checked = _checked_roles(roles)
    password = password or one_time_password()
    if not await repository.add_operator(conn, name, hash_password(password), checked):
        raise Conflict(f"operator {name!r} exists")
    await record(conn, actor, "operator.add", f"operator:{name}", after={"roles": checked})
    return password


async def change_operator(
    conn: AsyncConnection,
    actor: Principal,
    name: str,
    *,
    roles: Sequence[str] | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> None:
    row = await repository.find_operator(conn, name)
    if row is None:
        raise NotFound(f"no operator {name!r}")
    values: dict[str, Any] = {}
    before: dict[str, Any] = {"roles": list(row.roles), "disabled": row.disabled_at is not None}
    after = dict(before)
    if roles is not None:
        values["roles"] = after["roles"] = _checked_roles(roles)
    if password is not None:
        values["password_argon2"] = hash_password(password)
        after["password"] = "changed"  # the audit says it changed, never what to
    if disabled is not None:
        values["disabled_at"] = utcnow() if disabled else None
        after["disabled"] = disabled
    await repository.update_operator(conn, name, **values)
    await record(conn, actor, "operator.change", f"operator:{name}", before=before, after=after)


async def sign_in(conn: AsyncConnection, name: str, password: str) -> Principal | None:
    """The operator, when the password is theirs and the account is enabled; None otherwise (the
    caller is not told which)."""
    row = await repository.find_operator(conn, name)
    if not password_matches(row.password_argon2 if row is not None else None, password):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return Principal("operator", name, roles=frozenset(row.roles))


# Persian and Arabic-Indic digits typed into a code box count as the digits they are.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


@dataclass(frozen=True)
class CodeToSend:
    member_id: str
    channel: Literal["email", "sms"]
    address: str
    code: str
    minutes: int


def _code_digest(settings: IngestSettings, member_id: str, code: str) -> bytes:
    return hmac.new(
        settings.lookup_key, f"code:{member_id}:{code.translate(_DIGITS).strip()}".encode(), hashlib.sha256
    ).digest()


async def _the_member(conn: AsyncConnection, settings: IngestSettings, field: str, value: str) -> str | None:
    found = await privacy.find(conn, settings, field, value)
    return found[0] if len(found) == 1 else None  # unknown, or shared by several: no code


async def new_member_code(
    conn: AsyncConnection,
    settings: IngestSettings,
    field: Literal["email", "phone"],
    value: str,
    now: datetime,
) -> CodeToSend | None:
    """A one-time code for the member this address belongs to, to send there; None when it belongs to
    no one (the caller answers the same either way: who is a member is not told)."""
    member_id = await _the_member(conn, settings, field, value)
    if member_id is None:
        return None
    address = (await repository.contacts_of(conn, [member_id])).get(member_id, {}).get(field)
    if not address:
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = settings.ingest_member_code_s
    await repository.add_member_code(
        conn, member_id, _code_digest(settings, member_id, code), now + timedelta(seconds=ttl)
    )
    return CodeToSend(member_id, "email" if field == "email" else "sms", address, code, max(ttl // 60, 1))


async def member_sign_in(
    conn: AsyncConnection,
    settings: IngestSettings,
    field: Literal["email", "phone"],
    value: str,
    code: str,
    now: datetime,
) -> Principal | None:
    """The member, when ``code`` is their live code (each code works once, and only for a few tries)."""
    member_id = await _the_member(conn, settings, field, value)
    if member_id is None:
        return None
    live = await repository.live_code(conn, member_id, now)
    if live is None or live.attempts >= settings.ingest_member_code_attempts:
        return None
    right = hmac.compare_digest(bytes(live.code_digest), _code_digest(settings, member_id, code))
    await repository.code_tried(conn, live.id, now if right else None)
    return member(member_id) if right else None
