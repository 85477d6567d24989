"""The Operations page: each service's ops status (shared/ops.py, ``GET /v1/ops/status``: consumer lag
per partition, events consumed, outbox backlog, dead letters by reason) asked at once with the
operator's token (``ops:read``: every operator role), and the re-drive button of a reason's dead
letters (``ops:repair``: admins), which the service audits under the operator's name."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import session
from services.console.render import render
from services.console.session import BadForm, check_csrf, signed_in
from shared.identity import Permission, declared
from shared.web.backends import Backends
from shared.web.pages import read_form
from shared.web.session import settings_of

P = Permission
operations_pages = APIRouter(default_response_class=HTMLResponse)
SERVICES = ("ingest", "points", "tiers", "notify", "analytics")


async def _statuses(request: Request, token: str) -> dict[str, object]:
    async with Backends(settings_of(request), token) as call:
        found = await asyncio.gather(*(call.get(s, "/v1/ops/status", P.OPS_READ) for s in SERVICES))
    return dict(zip(SERVICES, found, strict=True))


@dataclass(frozen=True)
class TopicLag:
    """One topic's partitions summed, and those behind (partition, lag)."""

    topic: str
    partitions: int
    end: int
    lag: int
    behind: list[tuple[int, int]]


def by_topic(lag: list[dict[str, Any]]) -> list[TopicLag]:
    topics: dict[str, list[dict[str, Any]]] = {}
    for p in lag:
        topics.setdefault(p["topic"], []).append(p)
    return [
        TopicLag(
            topic,
            len(ps),
            sum(p["end"] for p in ps),
            sum(p["lag"] for p in ps),
            [(p["partition"], p["lag"]) for p in ps if p["lag"]],
        )
        for topic, ps in sorted(topics.items())
    ]


@operations_pages.get("/operations", **declared(P.OPS_READ))
async def operations(
    request: Request,
    redriven: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    service: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Every service's lag, throughput, outbox backlog and dead letters; the re-drive buttons for admins."""
    current = signed_in(request, P.OPS_READ)
    done = (service, redriven) if service in SERVICES and redriven is not None else None
    statuses = await _statuses(request, current.token)
    return render(request, "operations.html.j2", current, statuses=statuses, done=done,
                  may_redrive=current.may(P.OPS_REPAIR), by_topic=by_topic)  # fmt: skip


@operations_pages.post("/operations/redrive", **declared(P.OPS_REPAIR))
async def redrive(request: Request) -> Response:
    """One service's dead letters of one reason sent back where they came from (the service's own
    ``POST /v1/ops/redrive``, with the operator's token: audited under their name there)."""
    current = signed_in(request, P.OPS_REPAIR)
    form = await read_form(request, session.CSRF_FIELD, "service", "reason")
    check_csrf(current, form.get(session.CSRF_FIELD))
    service, reason = form.get("service", ""), form.get("reason", "")
    if service not in SERVICES or not reason:
        raise BadForm("bad_request", "service and reason are required")
    async with Backends(settings_of(request), current.token) as call:
        done = await call.post(service, "/v1/ops/redrive", P.OPS_REPAIR, {"reason": reason})
    if done.ok:
        query = urlencode({"service": service, "redriven": len(done.data["redriven"])})
        return RedirectResponse(f"/operations?{query}", status_code=303)
    statuses = await _statuses(request, current.token)
    refused = done.detail or done.missing
    return render(request, "operations.html.j2", current, status=422, statuses=statuses, done=None,
                  may_redrive=True, refused=refused, by_topic=by_topic)  # fmt: skip
