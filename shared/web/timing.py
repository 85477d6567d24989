"""Where a page's time went, in its ``Server-Timing`` header: ``app`` (the request in to the response's
first byte: the page's own time on this side) and each call it made to a service (``Backends``), named by
the service, its method and path in ``desc`` (no query: a lookup's phone number stays out of it). Browsers'
developer tools show it; ``make bench-pages`` reads it to name a slow page's slow call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The calls the current request made: (service, "METHOD /path", seconds). One list per request, set by
# ServerTiming; a page's concurrent calls (asyncio.gather's tasks) share it through the copied context.
_CALLS: ContextVar[list[tuple[str, str, float]] | None] = ContextVar("vafa_web_calls", default=None)


@contextmanager
def timed(service: str, what: str) -> Iterator[None]:
    """Counts the block's time as one call of the current request to ``service`` (outside a request:
    nothing)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        calls = _CALLS.get()
        if calls is not None:
            calls.append((service, what, time.perf_counter() - started))


def header(app_s: float, calls: list[tuple[str, str, float]]) -> bytes:
    """``app;dur=12.3, points;desc="GET /v1/rules";dur=4.5, ...`` (milliseconds)."""
    parts = [f"app;dur={app_s * 1000:.1f}"]
    for service, what, seconds in calls:
        desc = what.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{service};desc="{desc}";dur={seconds * 1000:.1f}')
    return ", ".join(parts).encode("latin-1", errors="replace")


class ServerTiming:
    """ASGI middleware: the ``Server-Timing`` header on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, calls = time.perf_counter(), list[tuple[str, str, float]]()
        token = _CALLS.set(calls)

        async def with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                timing = header(time.perf_counter() - started, calls)
                message["headers"] = [*message.get("headers", []), (b"server-timing", timing)]
            await send(message)

        try:
            await self.app(scope, receive, with_timing)
        finally:
            _CALLS.reset(token)
