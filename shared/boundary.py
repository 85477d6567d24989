"""What every service's HTTP edge does before a route's body is parsed: bound it, then authenticate.

- ``BodyLimit`` refuses a body past ``VAFA_HTTP_MAX_BODY_BYTES`` with 413, by its Content-Length or,
  when it is streamed, as soon as it grows past the limit: a hostile client cannot make a service
  buffer or parse more than that.
- ``GuardedRoute`` runs a route's guards (dependencies marked with ``guard``) before FastAPI reads and
  validates the body: a caller without a valid key learns nothing about what the body should be (401,
  never 422), and one sending for another chain is refused (403) before its body is judged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import FieldError, problem_body, problem_response

Check = TypeVar("Check", bound=Callable[[Request], Awaitable[Any]])
_GUARD = "__vafa_guard__"


def guard(check: Check) -> Check:
    """Marks a dependency that takes only the request as a guard: it runs before the body is read."""
    setattr(check, _GUARD, True)
    return check


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = [d.call for d in self.dependant.dependencies if getattr(d.call, _GUARD, False)]
        if not guards:
            return handler

        async def guarded(request: Request) -> Response:
            overrides = getattr(request.app, "dependency_overrides", {})
            for check in guards:
                # An overridden guard (a test's) is left to FastAPI, which calls the override in its place.
                if check is not None and check not in overrides:
                    await check(request)
            return await handler(request)

        return guarded


def _too_large(limit: int) -> dict[str, Any]:
    errors = [FieldError("body", "body_too_large", f"a request body is at most {limit} bytes")]
    return problem_body(413, "Content too large", f"the body is larger than {limit} bytes", errors)


class BodyLimit:
    """ASGI middleware: bodies past ``limit`` bytes are refused with a 413 problem before any route."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                body = problem_body(400, "Bad request", "Content-Length is not a number")
                await problem_response(400, body)(scope, receive, send)
                return
            if int(declared) > self.limit:
                await problem_response(413, _too_large(self.limit))(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI lets its own HTTPException through its body parsing: answered as a problem.
                    raise HTTPException(413, f"the body is larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)
