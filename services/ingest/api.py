"""The HTTP front door: one endpoint per kind for single submissions, and a batch endpoint.

Every answer to a request with an ``Idempotency-Key`` is stored with it: the same request again gets
the same answer (marked ``Idempotent-Replayed: true``), a different request with that key a 422.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.ingest.domain import (
    KINDS,
    MAX_BATCH,
    Entry,
    Forbidden,
    Item,
    MemberEnrolledIn,
    MemberProfileChangedIn,
    PartnerCampaignIn,
    PartnerPurchaseIn,
    PurchaseIn,
    ReturnIn,
    VipIn,
    checked,
    forbidden_fields,
    foreign_member,
    parse_item,
)
from services.ingest.intake import Intake, ItemResult
from services.ingest.store.repository import lock_idempotency_key, member_chains, remember_answer
from shared.boundary import GuardedRoute, guard
from shared.contracts.envelope import utcnow
from shared.errors import Invalid
from shared.identity import Permission, Principal, authenticated, declared, refuse
from shared.problems import PROBLEM_JSON, ProblemError
from shared.wire import Out

api = APIRouter(prefix="/v1", tags=["intake"], route_class=GuardedRoute)

# The kind each single endpoint takes (memberships: any of the VIP kinds, which the policy treats alike).
_KIND_OF_PATH = {
    "/v1/purchases": "purchase",
    "/v1/returns": "return",
    "/v1/members": "member_enrolled",
    "/v1/members/profile-changes": "member_profile_changed",
    "/v1/memberships": "vip_purchased",
    "/v1/partners/purchases": "partner_purchase",
    "/v1/partners/campaigns": "partner_campaign",
}


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return raw if isinstance(raw, dict) else None


@guard
async def authorised(request: Request) -> Principal:
    """The caller, and may it send for the chain, store or partner the body names: checked before the
    body is validated, so another chain's key learns nothing of it (403, never a 422 first)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    principal = await authenticated(request)
    if not principal.may(Permission.EVENTS_SEND):
        raise refuse(request, 403, "forbidden", f"{principal.actor} may not {Permission.EVENTS_SEND}")
    route = request.scope.get("route")
    kind = _KIND_OF_PATH.get(getattr(route, "path", ""))
    raw = _json_object(await request.body()) if kind else None
    if kind and raw is not None:
        reasons = await _forbidden(request, principal, [(kind, raw)])
        if reasons[0]:
            # Counted under the kind the body names where it names one (memberships: which VIP kind).
            named = raw.get("kind") if raw.get("kind") in KINDS else kind
            request.app.state.ingest_metrics.items.labels("http", named, "forbidden").inc()
            raise ProblemError(403, "Forbidden", reasons[0])
    request.state.principal = principal
    return principal


def _owner(caller: Principal) -> uuid.UUID:
    """Whose Idempotency-Keys these are: the API key's (also behind a token exchanged for it), else
    the caller's own."""
    return caller.key_id or uuid.uuid5(uuid.NAMESPACE_URL, f"vafa:{caller.actor}")


def _member_of(raw: Any) -> str | None:
    member = raw.get("member_id") if isinstance(raw, dict) else None
    return member if isinstance(member, str) else None


async def _forbidden(
    request: Request, principal: Principal, raws: Sequence[tuple[str, Any]]
) -> list[str | None]:
    """Why ``principal`` may not send each (kind, submitted JSON), judged on the scope it names before
    it is validated; None where it may (or where what it names cannot be read)."""
    changed = [
        raw["member_id"]
        for kind, raw in raws
        if kind == "member_profile_changed"
        and isinstance(raw, dict)
        and isinstance(raw.get("member_id"), str)
    ]
    chains: dict[str, str] = {}
    if changed and principal.party == "chain":
        async with request.app.state.engine.connect() as conn:
            chains = await member_chains(conn, changed)
    reasons: list[str | None] = []
    for kind, raw in raws:
        if not isinstance(raw, dict):
            reasons.append(None)
            continue
        reason = forbidden_fields(principal, kind, raw)
        member = _member_of(raw)
        if reason is None and kind == "member_profile_changed" and isinstance(member, str):
            reason = foreign_member(principal, member, chains.get(member))
        reasons.append(reason)
    return reasons


Caller = Annotated[Principal, Depends(authorised)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=255, description="Makes a retried request get the original answer, never a second event"
    ),
]
Shape = Callable[[list[ItemResult]], tuple[int, dict[str, Any]]]

_SINGLE_STATUS = {"accepted": 202, "duplicate": 200, "rejected": 422, "forbidden": 403, "conflict": 409}


def _single(results: list[ItemResult]) -> tuple[int, dict[str, Any]]:
    result = results[0]
    status = _SINGLE_STATUS[result.outcome]
    if result.problem:
        body = dict(result.problem)
        if result.event_id:
            body["event_id"] = str(result.event_id)
        return status, body
    return status, {"event_id": str(result.event_id), "status": result.outcome}


def _batch(results: list[ItemResult]) -> tuple[int, dict[str, Any]]:
    summary = Counter(r.outcome for r in results)
    return 200, {"summary": dict(summary), "results": [r.as_json() for r in results]}


async def _answer(
    request: Request,
    caller: Principal,
    idempotency_key: str | None,
    entries: Sequence[Entry],
    kinds: Sequence[str],
    shape: Shape,
) -> JSONResponse:
    state = request.app.state
    intake: Intake = state.intake
    digest = hashlib.sha256(await request.body()).digest()
    async with state.engine.begin() as conn:
        if idempotency_key:
            prior = await lock_idempotency_key(conn, _owner(caller), idempotency_key)
            if prior is not None:
                if bytes(prior.request_sha256) != digest:
                    raise Invalid(
                        "this Idempotency-Key was used for a different request",
                        field="Idempotency-Key",
                        rule="idempotency_key_reused",
                        message="use a new key for a new request",
                    )
                return JSONResponse(
                    prior.body,
                    prior.status,
                    media_type=PROBLEM_JSON if prior.status >= 400 else None,
                    headers={"Idempotent-Replayed": "true"},
                )
        results = await intake.submit(conn, caller, entries, kinds)
        status, body = shape(results)
        if idempotency_key:
            await remember_answer(conn, _owner(caller), idempotency_key, digest, status, body)
    return JSONResponse(body, status, media_type=PROBLEM_JSON if status >= 400 else None)


async def submit_one(request: Request, caller: Principal, key: str | None, item: Item) -> JSONResponse:
    """One item, answered as the single endpoints answer (202 accepted, 200 duplicate, a problem)."""
    entry = checked(item, utcnow(), request.app.state.intake.max_skew)
    return await _answer(request, caller, key, [entry], [item.kind], _single)


# The permission the ``authorised`` guard checks, declared for the OpenAPI document (and its matrix test).
SENDS = declared(Permission.EVENTS_SEND)


class Accepted(Out):
    event_id: str = Field(description="the event's id: the same when this submission was recorded before")
    status: str = Field(description="accepted, or duplicate when recorded before")


class ItemAnswer(Out):
    index: int = Field(description="the item's position in the batch")
    status: str = Field(description="accepted, duplicate, rejected, forbidden or conflict")
    event_id: str | None = Field(default=None, description="absent when the item was not accepted")
    problem: Any = Field(default=None, description="why the item was refused: an RFC 9457 problem")


class BatchAnswer(Out):
    summary: dict[str, int] = Field(description="items per status")
    results: list[ItemAnswer] = Field(description="one per item, in order")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Already recorded: the original event_id", "model": Accepted},
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The key may not send for this chain, store or partner"},
    409: {"description": "This receipt was recorded before with other content"},
    422: {"description": "Invalid: each error names the field and the rule"},
    429: {"description": "Too many events waiting for Kafka; see Retry-After"},
    503: {"description": "Kafka did not acknowledge in time; send it again (it counts once); Retry-After"},
}

# A batch is answered 200 with one result per item (a duplicate item is one of them).
_BATCH_RESPONSES = {k: v for k, v in _RESPONSES.items() if k != 200}


@api.post("/purchases", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def submit_purchase(
    purchase: PurchaseIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A completed purchase; answered after Kafka acknowledged it."""
    return await submit_one(request, caller, idempotency_key, purchase)


@api.post("/returns", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def submit_return(
    item: ReturnIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A full or partial return, referencing the original receipt."""
    return await submit_one(request, caller, idempotency_key, item)


@api.post("/members", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def enrol_member(
    item: MemberEnrolledIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A member joins: contact points, birth date, locale, time zone, consent per channel, referral code."""
    return await submit_one(request, caller, idempotency_key, item)


@api.post("/members/profile-changes", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def change_profile(
    item: MemberProfileChangedIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Changed profile fields; a consent withdrawn here takes effect at once downstream."""
    return await submit_one(request, caller, idempotency_key, item)


@api.post("/memberships", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def vip_membership(
    item: VipIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A paid VIP membership purchased, renewed or cancelled."""
    return await submit_one(request, caller, idempotency_key, item)


@api.post("/partners/purchases", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def partner_purchase(
    item: PartnerPurchaseIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A member's purchase at a partner brand (partner keys only, for their own brand)."""
    return await submit_one(request, caller, idempotency_key, item)


@api.post("/partners/campaigns", status_code=202, response_model=Accepted, responses=_RESPONSES, **SENDS)
async def partner_campaign(
    item: PartnerCampaignIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A partner-funded bonus campaign (partner keys only, for their own brand)."""
    return await submit_one(request, caller, idempotency_key, item)


def _kind(raw: Any) -> str:
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return kind if kind in KINDS else "unknown"


class BatchIn(BaseModel):
    items: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Up to 5,000 items, each with a `kind` "
        f"({', '.join(KINDS)}) and the fields of that kind's single endpoint",
    )


@api.post("/batch", response_model=BatchAnswer, responses=_BATCH_RESPONSES, **SENDS)
async def submit_batch(
    batch: BatchIn, request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Many items of any kinds; the answer has one result per item, in order."""
    now, skew = utcnow(), request.app.state.intake.max_skew
    kinds = [_kind(raw) for raw in batch.items]
    # Authorised before validated, item by item, as the single endpoints are.
    reasons = await _forbidden(request, caller, list(zip(kinds, batch.items, strict=True)))
    entries: list[Entry] = [
        Forbidden(reason) if reason else parse_item(raw, now, skew)
        for raw, reason in zip(batch.items, reasons, strict=True)
    ]
    return await _answer(request, caller, idempotency_key, entries, kinds, _batch)
