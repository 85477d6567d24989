"""The other services' APIs, called with the operator's own token: what each answered, or why a block
of a page is not available (the role may not, the service is down or failed)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from services.console.session import SignedOut
from services.console.settings import ConsoleSettings
from shared.identity import Permission


@dataclass(frozen=True)
class Block:
    """One service's answer for a block of a page. ``data`` when it answered; ``absent`` when it holds
    nothing for this (a 404); ``missing``: why not available, as a word key and its values."""

    data: Any = None
    absent: bool = False
    missing: tuple[str, Mapping[str, object]] | None = None
    detail: str = field(default="", compare=False)  # the service's own words, for a refused write
    errors: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)  # a problem's field errors

    @property
    def ok(self) -> bool:
        return self.missing is None and not self.absent


class Backends:
    """``async with Backends(settings, token) as call``: one HTTP client for a page's calls."""

    def __init__(self, settings: ConsoleSettings, token: str | None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(timeout=settings.console_backend_timeout_s, headers=headers)

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

    async def post(self, service: str, path: str, needs: Permission, body: Mapping[str, Any]) -> Block:
        return await self._call("POST", service, path, needs, json=body)

    async def _call(self, method: str, service: str, path: str, needs: Permission, **options: Any) -> Block:
        url = self.settings.url_of(service) + path
        try:
            answer = await self.client.request(method, url, **options)
        except httpx.HTTPError:
            return Block(missing=("service_down", {"service": service}))
        if answer.status_code == 401:
            raise SignedOut("session_expired")  # the token ended since this page was asked for
        if answer.is_success:
            return Block(data=answer.json() if answer.content else None)
        detail, errors = _problem(answer)
        if answer.status_code == 403:
            return Block(missing=("refused_role", {"permission": needs.value}), detail=detail)
        if answer.status_code == 404:
            return Block(absent=True, detail=detail)
        return Block(
            missing=("service_error", {"service": service, "status": answer.status_code}),
            detail=detail,
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


async def sign_in(
    settings: ConsoleSettings, name: str, password: str
) -> SignedIn | tuple[str, dict[str, object]]:
    """The operator's token from ingest, or why not (as a word key and its values)."""
    url = settings.url_of("ingest") + "/v1/tokens/operator"
    try:
        async with httpx.AsyncClient(timeout=settings.console_backend_timeout_s) as client:
            answer = await client.post(url, json={"name": name, "password": password})
    except httpx.HTTPError as error:
        return "ingest_down", {"why": type(error).__name__}
    if answer.status_code == 200:
        body = answer.json()
        return SignedIn(body["access_token"], int(body["expires_in"]))
    if answer.status_code == 429:
        wait = int(answer.headers.get("retry-after", "60"))
        return "locked_out", {"minutes": max(1, math.ceil(wait / 60))}
    if answer.status_code in (400, 401, 422):
        return "wrong_password", {}
    return "ingest_down", {"why": f"HTTP {answer.status_code}"}
