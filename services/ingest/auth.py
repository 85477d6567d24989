"""The credentials ingest holds, and the tokens it issues for them (shared/identity.py).

API keys: ``vafa_<prefix>_<secret>``. The prefix finds the key; only the secret's SHA-256 is stored.
The secret is 256 random bits, so a fast digest is enough (nothing to brute-force) and the lookup
costs one indexed read, cached for ``VAFA_INGEST_KEY_CACHE_S`` seconds: a revoked key stops working
within that time. Rotation is: create the new key, move the POS over, revoke the old one; both work
in between. A key sends events here directly, or is exchanged for a short-lived token that every
service accepts (a POS redeeming at points).

Operators sign in with a password (argon2id, argon2-cffi's defaults) for a token naming their roles.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.store.repository import find_key
from shared.contracts.envelope import utcnow
from shared.errors import Throttled
from shared.identity import Principal, SigningKeys

HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs what a wrong password does.
_NOBODY = HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class NewKey:
    token: str  # shown once, never stored
    prefix: str
    secret_sha256: bytes


def generate_key() -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(f"vafa_{prefix}_{secret}", prefix, hashlib.sha256(secret.encode()).digest())


def split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "vafa" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyRing:
    """Resolves a presented token (an API key, or a token issued by any service's signing keys) to
    the principal it belongs to, or says why it cannot."""

    def __init__(
        self, engine: AsyncEngine, signing: SigningKeys, cache_seconds: float, cache_entries: int = 10_000
    ) -> None:
        self._engine = engine
        self._signing = signing
        self._cache_seconds = cache_seconds
        # Least recently used first, and at most ``cache_entries``: a client inventing prefixes (each
        # one unknown) evicts its own lookups, never grows the process.
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._cache_entries = cache_entries

    async def resolve(self, token: str) -> Principal | str:
        if not token.startswith("vafa_"):
            return self._signing.verify(token)
        return await self.principal(token)

    async def principal(self, token: str | None) -> Principal | str:
        """The API key's principal, or why it is refused: missing, malformed, unknown, revoked, expired."""
        if not token:
            return "missing"
        parts = split_token(token)
        if parts is None:
            return "malformed"
        prefix, secret = parts
        row = await self._row(prefix)
        if row is None or not hmac.compare_digest(
            hashlib.sha256(secret.encode()).digest(), bytes(row.secret_sha256)
        ):
            return "unknown"
        if row.revoked_at is not None:
            return "revoked"
        if row.expires_at is not None and row.expires_at <= utcnow():
            return "expired"
        return Principal(
            "integration",
            prefix,
            scopes=frozenset(row.scopes),
            party=row.kind,
            chain_id=row.chain_id,
            store_id=row.store_id,
            partner_id=row.partner_id,
            key_id=uuid.UUID(str(row.id)),
        )

    async def _row(self, prefix: str) -> Any:
        cached = self._cache.get(prefix)
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            self._cache.move_to_end(prefix)
            return cached[1]
        async with self._engine.connect() as conn:
            row = await find_key(conn, prefix)
        self._cache[prefix] = (time.monotonic(), row)
        self._cache.move_to_end(prefix)
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
        return row

    @property
    def cached(self) -> int:
        return len(self._cache)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` hashes (an unknown name is checked against a hash of
    nothing anyone knows, in the same time)."""
    try:
        return HASHER.verify(stored or _NOBODY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


class SignInLimit:
    """At most ``failures`` failed sign-ins per name in ``window_s``: guessing a password is slow."""

    def __init__(self, failures: int, window_s: float) -> None:
        self.failures, self.window_s = failures, window_s
        self._failed: OrderedDict[str, list[float]] = OrderedDict()

    def waiting(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: now)."""
        recent = [t for t in self._failed.get(name, []) if time.monotonic() - t < self.window_s]
        if len(recent) < self.failures:
            return 0.0
        return self.window_s - (time.monotonic() - recent[0])

    def check(self, name: str, what: str) -> None:
        """Raises ``Throttled`` (a 429 with Retry-After) while ``name`` must wait."""
        if (wait := self.waiting(name)) > 0:
            raise Throttled(
                f"{what}; try again later", title="Too many attempts", retry_after_s=int(wait) + 1
            )

    def failed(self, name: str) -> None:
        now = time.monotonic()
        self._failed[name] = [t for t in self._failed.get(name, []) if now - t < self.window_s] + [now]
        self._failed.move_to_end(name)
        while len(self._failed) > 100_000:  # a bound, however many names are tried
            self._failed.popitem(last=False)

    def succeeded(self, name: str) -> None:
        self._failed.pop(name, None)
