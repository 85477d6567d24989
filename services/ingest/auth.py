"""API keys: ``vafa_<prefix>_<secret>``. The prefix finds the key; only the secret's SHA-256 is stored.

The secret is 256 random bits, so a fast digest is enough (nothing to brute-force) and the lookup
costs one indexed read, cached for ``VAFA_INGEST_KEY_CACHE_S`` seconds: a revoked key stops working
within that time. Rotation is: create the new key, move the POS over, revoke the old one; both work
in between.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.domain import Principal
from services.ingest.store.repository import find_key
from shared.problems import ProblemError

KeyKind = Literal["chain", "partner", "admin"]


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
    """Resolves a presented token to the principal it belongs to, or says why it cannot."""

    def __init__(self, engine: AsyncEngine, cache_seconds: float, cache_entries: int = 10_000) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        # Least recently used first, and at most ``cache_entries``: a client inventing prefixes (each
        # one unknown) evicts its own lookups, never grows the process.
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._cache_entries = cache_entries

    async def principal(self, token: str | None) -> Principal | str:
        """The principal, or the reason it is refused: missing, malformed, unknown, revoked."""
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
        return Principal(
            key_id=uuid.UUID(str(row.id)),
            kind=row.kind,
            chain_id=row.chain_id,
            store_id=row.store_id,
            partner_id=row.partner_id,
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


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the calling principal, or 401 with the reason (never the secret)."""
    keyring: KeyRing = request.app.state.keyring
    found = await keyring.principal(bearer(request))
    if isinstance(found, str):
        request.app.state.ingest_metrics.auth_failures.labels(found).inc()
        raise ProblemError(
            401,
            "Unauthorized",
            f"API key {found}: send 'Authorization: Bearer vafa_...'",
            headers={"WWW-Authenticate": 'Bearer realm="vafa-ingest"'},
        )
    return found
