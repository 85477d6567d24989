"""The other services' APIs, called with the signed-in person's own token (or none, to sign in): what
each answered, or why a block of a page is not available (the role may not, the service is down or
failed, it asks to wait)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from shared.identity import Permission
from shared.web.session import SignedOut, WebSettings
from shared.web.timing import timed


@dataclass(frozen=True)
class Block:
    """One service's answer for a block of a page. ``data`` when it answered; ``absent`` when it holds
    nothing for this (a 404); ``missing``: why not available, as a word key and its values."""

    data: Any = None
    absent: bool = False
    missing: tuple[str, Mapping[str, object]] | None = None
    detail: str = field(default="", compare=False)  # the service's own words, for a refused write
    status: int = field(default=0, compare=False)  # the service's HTTP status, when it answered
    retry_after: int | None = field(default=None, compare=False)  # seconds, when it asked to wait
    errors: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)  # a problem's field errors

    @property
    def ok(self) -> bool:
        return self.missing is None and not self.absent


class Backends:
    """``async with Backends(settings, token) as call``: one HTTP client for a page's calls."""

    def __init__(self, settings: WebSettings, token: str | None) -> None:
        self.settings, self.signed_in = settings, token is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(timeout=settings.backend_timeout_s, headers=headers)

    async def __aenter__(self) -> Backends:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.aclose()

    async def get(
        self, service: str, path: str, needs: Permission, params: Mapping[str, Any] | None = None
    ) -> Block:
        return await self._call("GET", service, path, needs, params=params)

    async def post(
        self, service: str, path: str, needs: Permission | None, body: Mapping[str, Any], method: str = "POST"
    ) -> Block:
        """``needs``: None for a call that takes a credential in its body (signing in)."""
        return await self._call(method, service, path, needs, json=body)

    async def _call(
        self, method: str, service: str, path: str, needs: Permission | None, **options: Any
    ) -> Block:
        url = self.settings.url_of(service) + path
        try:
            with timed(service, f"{method} {path}"):
                answer = await self.client.request(method, url, **options)
        except httpx.HTTPError as error:
            return Block(missing=("service_down", {"service": service, "why": type(error).__name__}))
        status = answer.status_code
        if status == 401 and self.signed_in:
            raise SignedOut("session_expired")  # the token ended since this page was asked for
        if answer.is_success:
            return Block(data=answer.json() if answer.content else None, status=status)
        detail, errors = _problem(answer)
        if status == 403 and needs is not None:
            return Block(missing=("refused_role", {"permission": needs.value}), detail=detail, status=status)
        if status == 404:
            return Block(absent=True, detail=detail, status=status)
        wait = answer.headers.get("retry-after", "")
        return Block(
            missing=("service_error", {"service": service, "status": status}),
            detail=detail,
            status=status,
            retry_after=int(wait) if wait.isdigit() else None,
            errors=errors,
        )


def _problem(answer: httpx.Response) -> tuple[str, tuple[Mapping[str, Any], ...]]:
    """A problem's detail (with the first field error's message) and its field errors, when the answer
    is a problem."""
    try:
        problem = answer.json()
    except ValueError:
        return "", ()
    if not isinstance(problem, dict):
        return "", ()
    detail = str(problem.get("detail", ""))
    found = problem.get("errors")
    errors = tuple(e for e in found if isinstance(e, dict)) if isinstance(found, list) else ()
    if errors:
        detail = f"{detail} ({errors[0].get('field')}: {errors[0].get('message')})"
    return detail, errors


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_in: int


async def token_from_ingest(
    settings: WebSettings, path: str, credential: Mapping[str, Any], wrong: str
) -> SignedIn | tuple[str, dict[str, object]]:
    """The token ingest issues for a credential (``path``: whose; ``credential``: a password, a
    one-time code), or why not as a word key and its values (``wrong``: the credential's)."""
    async with Backends(settings, None) as call:
        found = await call.post("ingest", path, None, credential)
    if found.ok and isinstance(found.data, dict):
        return SignedIn(found.data["access_token"], int(found.data["expires_in"]))
    return refusal(found, wrong)


def refusal(found: Block, wrong: str) -> tuple[str, dict[str, object]]:
    """Why ingest did not do what a sign-in asked: asked to wait (its rate limit), refused what was
    typed (``wrong``), or is not answering."""
    if found.status == 429:
        return "locked_out", {"minutes": max(1, math.ceil((found.retry_after or 60) / 60))}
    if found.status in (400, 401, 422):
        return wrong, {}
    if found.missing is not None and found.missing[0] == "service_down":
        return "ingest_down", {"why": found.missing[1].get("why", "")}
    return "ingest_down", {"why": f"HTTP {found.status}"}
