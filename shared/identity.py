"""One identity model for every service: who is calling (a principal) and what it may do (permissions).

Principals are *operators* (people, with roles), *integrations* (POS fleets and partner brands, with
scopes), *members* (their own data only) and *services* (one Vafa service asking another). Every
service verifies the same signed token (a JWT, HS256, under ``VAFA_AUTH_SIGNING_KEYS``); ingest, which
holds the long-lived credentials (operator passwords hashed with argon2, API keys as digests), issues
them to people and integrations, and a service signs its own service token. (HS256 means every
service holding the keys could sign any token: they are one trust boundary. Asymmetric keys, ingest
signing and the others verifying, would narrow that; not done yet.) A token names its key (``kid``): a new
signing key is added first, issued with once every service knows it, and the old one removed once the
tokens it signed have expired (rotation by overlap).

Each route declares the one permission it needs (``secured``), which also lands in its OpenAPI
operation as ``x-vafa-permission``: the authorisation matrix test is generated from those documents,
so a route added without a rule fails it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from pydantic import SecretStr

from shared.boundary import guard
from shared.problems import ProblemError

ISSUER = "vafa"
# A clock this far off between two hosts still accepts a fresh token.
LEEWAY_S = 30


class Permission(StrEnum):
    EVENTS_SEND = "events:send"  # purchases, returns, enrolments, partner events (ingest)
    MEMBER_READ = "member:read"  # a member's balance, ledger, tier, messages, referrals, challenges
    MEMBER_ACT = "member:act"  # what a member does with their points: redeem, donate, a referral code
    POINTS_ADJUST = "points:adjust"  # manual corrections and transfers between members
    PROGRAM_READ = "program:read"  # rules, rewards, causes, games, programs, challenges, the ladder
    PROGRAM_WRITE = "program:write"
    INSIGHT_READ = "insight:read"  # KPIs, delivery summaries, partner settlement, game audits
    CODES_SEND = "codes:send"  # send a member their sign-in code (ingest asking notify)
    CONTACT_READ = "contact:read"  # a member's email and phone, held by ingest alone
    MEMBER_ERASE = "member:erase"  # forget a member (their contact data, everywhere)
    MEMBERS_IMPORT = "members:import"  # enrol a chain's members from another program's file (ingest)
    ACCESS_ADMIN = "access:admin"  # operators, integration keys
    AUDIT_READ = "audit:read"
    OPS_READ = "ops:read"  # /metrics and the API documents, where they are not left open; ops status
    OPS_REPAIR = "ops:repair"  # re-drive dead letters (shared/ops.py)


Role = Literal["admin", "marketer", "support", "analyst", "read-only"]
ROLES: tuple[Role, ...] = ("admin", "marketer", "support", "analyst", "read-only")
P = Permission
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    "admin": frozenset(Permission) - {P.CODES_SEND},  # that one is a service's alone
    "marketer": frozenset({P.PROGRAM_READ, P.PROGRAM_WRITE, P.INSIGHT_READ, P.MEMBER_READ, P.OPS_READ}),
    "support": frozenset(
        {
            P.MEMBER_READ,
            P.MEMBER_ACT,
            P.POINTS_ADJUST,
            P.MEMBERS_IMPORT,  # support runs the opening-balance import: it enrols the same file's members
            P.PROGRAM_READ,
            P.OPS_READ,
            P.CONTACT_READ,
            P.MEMBER_ERASE,
        }
    ),
    "analyst": frozenset({P.INSIGHT_READ, P.PROGRAM_READ, P.OPS_READ}),
    "read-only": frozenset({P.MEMBER_READ, P.PROGRAM_READ, P.INSIGHT_READ, P.OPS_READ}),
}

# What an integration key may be granted: send events, redeem at the till (which needs the catalog),
# read the member a POS presents.
Scope = Literal["events:send", "redeem", "member:read"]
SCOPES: tuple[Scope, ...] = ("events:send", "redeem", "member:read")
SCOPE_PERMISSIONS: Mapping[Scope, frozenset[Permission]] = {
    "events:send": frozenset({P.EVENTS_SEND}),
    "redeem": frozenset({P.MEMBER_ACT, P.PROGRAM_READ}),
    "member:read": frozenset({P.MEMBER_READ}),
}
# A Vafa service calling another (notify asking ingest for the address of a message it sends).
SERVICE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "notify": frozenset({P.CONTACT_READ}),
    "ingest": frozenset({P.CODES_SEND}),
}
# A member reads the program and their own account, acts on their own points, and may be forgotten.
MEMBER_PERMISSIONS = frozenset({P.PROGRAM_READ, P.MEMBER_READ, P.MEMBER_ACT, P.MEMBER_ERASE})
# Permissions about one member: a member principal holds them for its own member id only.
ABOUT_A_MEMBER = frozenset({P.MEMBER_READ, P.MEMBER_ACT, P.MEMBER_ERASE})

Kind = Literal["operator", "integration", "member", "service"]
# Whose an integration is: a chain's POS fleet, a partner brand, or unscoped (bulk tools).
Party = Literal["chain", "partner", "admin"]


_ACTOR_PREFIX = {"operator": "operator", "integration": "key", "member": "member", "service": "service"}


@dataclass(frozen=True)
class Principal:
    kind: Kind
    subject: str  # operator name, integration key prefix, member id
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    party: Party | None = None
    chain_id: str | None = None
    store_id: str | None = None
    partner_id: str | None = None
    key_id: uuid.UUID | None = None
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        if self.kind == "operator":
            granted = [ROLE_PERMISSIONS.get(r, frozenset()) for r in self.roles]  # type: ignore[call-overload]
        elif self.kind == "integration":
            granted = [SCOPE_PERMISSIONS.get(s, frozenset()) for s in self.scopes]  # type: ignore[call-overload]
        elif self.kind == "service":
            granted = [SERVICE_PERMISSIONS.get(self.subject, frozenset())]
        else:
            granted = [MEMBER_PERMISSIONS]
        object.__setattr__(self, "permissions", frozenset().union(*granted))

    @property
    def actor(self) -> str:
        """How the audit log and the ledger name this principal."""
        return f"{_ACTOR_PREFIX[self.kind]}:{self.subject}"

    def may(self, permission: Permission, member_id: str | None = None) -> bool:
        """May this principal do ``permission`` (about ``member_id``, where the act concerns one)?"""
        if permission not in self.permissions:
            return False
        if self.kind == "member" and permission in ABOUT_A_MEMBER:
            return member_id is not None and member_id == self.subject
        return True


def operator(name: str, *roles: Role) -> Principal:
    return Principal("operator", name, roles=frozenset(roles))


def integration(party: Party, *scopes: Scope, **scope: str) -> Principal:
    """An integration of ``party`` (chain_id, store_id or partner_id in ``scope``), sending events
    unless other scopes are named."""
    granted = frozenset(scopes or ("events:send",))
    return Principal("integration", f"{party}-key", scopes=granted, party=party, **scope)  # type: ignore[arg-type]


def member(member_id: str) -> Principal:
    return Principal("member", member_id)


class SigningKeys:
    """``VAFA_AUTH_SIGNING_KEYS``: ``kid:secret[,kid:secret...]``; the first signs, every one verifies."""

    def __init__(self, spec: SecretStr | str) -> None:
        raw = spec.get_secret_value() if isinstance(spec, SecretStr) else spec
        self._keys: dict[str, bytes] = {}
        for part in (p.strip() for p in raw.split(",") if p.strip()):
            kid, sep, secret = part.partition(":")
            if not sep or not kid or len(secret) < 32:
                raise ValueError(
                    "VAFA_AUTH_SIGNING_KEYS is kid:secret[,kid:secret...], each secret >= 32 chars"
                )
            self._keys[kid] = secret.encode()
        if not self._keys:
            raise ValueError("VAFA_AUTH_SIGNING_KEYS names no key")
        self.current = next(iter(self._keys))

    def issue(self, principal: Principal, ttl_s: float, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": principal.subject,
            "kind": principal.kind,
            "iat": issued,
            "exp": issued + int(ttl_s),
            "jti": uuid.uuid4().hex,
        }
        if principal.roles:
            claims["roles"] = sorted(principal.roles)
        if principal.scopes:
            claims["scopes"] = sorted(principal.scopes)
        for name in ("party", "chain_id", "store_id", "partner_id"):
            if (value := getattr(principal, name)) is not None:
                claims[name] = value
        if principal.key_id is not None:
            claims["key_id"] = str(principal.key_id)
        return jwt.encode(claims, self._keys[self.current], algorithm="HS256", headers={"kid": self.current})

    def verify(self, token: str) -> Principal | str:
        """The principal the token names, or why it is refused (malformed, unknown key, expired, ...)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            return "malformed"
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            return "unknown signing key"
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],  # never taken from the token: no "none", no key confusion
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            return "expired"
        except jwt.InvalidTokenError:
            return "invalid"
        return _principal(claims)


def _strings(value: Any) -> frozenset[str]:
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def _principal(claims: Mapping[str, Any]) -> Principal | str:
    kind, subject = claims.get("kind"), claims.get("sub")
    if kind not in _ACTOR_PREFIX or not isinstance(subject, str) or not subject:
        return "invalid"
    key_id = claims.get("key_id")
    return Principal(
        kind,
        subject,
        roles=_strings(claims.get("roles")),
        scopes=_strings(claims.get("scopes")),
        party=claims.get("party") if claims.get("party") in ("chain", "partner", "admin") else None,
        chain_id=claims.get("chain_id"),
        store_id=claims.get("store_id"),
        partner_id=claims.get("partner_id"),
        key_id=uuid.UUID(key_id) if isinstance(key_id, str) else None,
    )


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def refuse(request: Request, status: int, reason: str, detail: str) -> ProblemError:
    """The refusal, counted (``vafa_http_refused_total``) before it is answered."""
    counter = getattr(request.app.state, "refused", None)
    if counter is not None:
        counter.labels(str(status), reason).inc()
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="vafa"'}
        return ProblemError(401, "Unauthorized", detail, headers=headers)
    return ProblemError(403, "Forbidden", detail)


async def authenticated(request: Request) -> Principal:
    """The caller a request's bearer token names; 401 with the reason (never the token) otherwise.
    A service may put its own resolver on ``app.state.resolve_token`` (ingest: its API keys too)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = bearer(request)
    if token is None:
        raise refuse(request, 401, "missing", "missing: send 'Authorization: Bearer <token>'")
    resolve = getattr(request.app.state, "resolve_token", None)
    signing: SigningKeys = request.app.state.signing_keys
    found: Principal | str = await resolve(token) if resolve else signing.verify(token)
    if isinstance(found, str):
        raise refuse(request, 401, found, f"{found}: send 'Authorization: Bearer <token>' with a valid one")
    request.state.principal = found
    return found


def secured(permission: Permission, *, member_in_body: bool = False) -> dict[str, Any]:
    """A route's keyword arguments declaring the permission it needs: checked before its body is read
    (401 without a valid token, 403 without the permission, never a 422 first). A route with a
    ``{member_id}`` path parameter is about that member; ``member_in_body``: the handler checks the
    member its body names (or the redemption it confirms belongs to) with ``require_member`` (members
    are refused elsewhere)."""

    @guard
    async def check(request: Request) -> Principal:
        principal = await authenticated(request)
        about = request.path_params.get("member_id")
        if permission in ABOUT_A_MEMBER and about is None and member_in_body and principal.kind == "member":
            return principal  # the handler checks the member the body names
        if not principal.may(permission, about):
            whose = f" for member {about!r}" if permission in principal.permissions else ""
            raise refuse(request, 403, "forbidden", f"{principal.actor} may not {permission}{whose}")
        return principal

    return {"dependencies": [Depends(check)], **declared(permission)}


def declared(permission: Permission) -> dict[str, Any]:
    """For a route whose own guard checks ``permission`` (ingest's, which also checks the chain its
    body names): the declaration in its OpenAPI operation."""
    return {"openapi_extra": {"x-vafa-permission": permission.value}}


def require_member(request: Request, principal: Principal, permission: Permission, member_id: str) -> None:
    """For a route whose body names the member: may ``principal`` act for that one?"""
    if not principal.may(permission, member_id):
        raise refuse(
            request, 403, "forbidden", f"{principal.actor} may not {permission} for member {member_id!r}"
        )


Caller = Annotated[Principal, Depends(authenticated)]


# A route anyone may call (liveness, readiness, and the documents and metrics where left open).
PUBLIC: dict[str, Any] = {"openapi_extra": {"x-vafa-permission": "public"}}
# A route that takes a credential in its body (signing in) rather than a token.
SIGN_IN: dict[str, Any] = {"openapi_extra": {"x-vafa-permission": "sign-in"}}
