"""Hostile input: every endpoint against every kind of key; the HTTP APIs fuzzed from their OpenAPI
documents (schemathesis); the Kafka intakes fed malformed, oversized and type-confused records
(hypothesis). No 500s, no dead consumers, every rejection a clear answer or a dead letter with a reason."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from services.console.session import SESSION as CONSOLE_SESSION
from services.console.settings import ConsoleSettings
from services.portal.pages import SESSION as PORTAL_SESSION
from shared.contracts import POINTS_EARNED, PointsEarned
from shared.contracts.envelope import utcnow
from shared.deadletter import REASON, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC
from shared.identity import Principal, member, operator
from shared.problems import PROBLEM_JSON
from shared.topics import Topic
from shared.web.session import SessionCookie
from sim.harness import DEV_KEYS
from sim.poison import poisons
from tests.support import (
    ServiceProcess,
    Stack,
    all_five,
    api_key,
    as_record,
    at_least,
    bearer,
    eventually,
    front_end,
    purchase,
    revoke_key,
    running,
)

_serial = itertools.count()
SOLD = "R-SOLD"


def _items(now: str) -> dict[str, Callable[..., tuple[str, dict[str, Any]]]]:
    """One fresh, valid submission per endpoint (new natural keys each call, so none is a duplicate)."""

    def n() -> str:
        return f"{next(_serial):06d}"

    line = {"sku": "nan-1", "category": "bakery", "quantity": "2", "unit_price": "150000", "amount": "300000"}

    def sale(store: str = "hyperstar-01") -> tuple[str, dict[str, Any]]:
        return "/v1/purchases", {
            "chain_id": "hyperstar",
            "store_id": store,
            "receipt_no": f"R{n()}",
            "member_id": "0912000001",
            "currency": "IRR",
            "lines": [line],
            "total_amount": "300000",
            "occurred_at": now,
        }

    return {
        "purchase": sale,
        "purchase at another store": lambda: sale("hyperstar-02"),
        "return": lambda: (
            "/v1/returns",
            {
                "chain_id": "hyperstar",
                "store_id": "hyperstar-01",
                "return_no": f"T{n()}",
                "original_store_id": "hyperstar-01",
                "original_receipt_no": SOLD,  # recorded before the matrix: a return follows its sale
                "member_id": "0912000001",
                "currency": "IRR",
                "lines": [{"sku": "nan-1", "quantity": "1", "amount": "1000"}],
                "refund_amount": "1000",
                "occurred_at": now,
            },
        ),
        "enrolment": lambda: (
            "/v1/members",
            {
                "member_id": f"09{n()}",
                "chain_id": "hyperstar",
                "birth_date": "1992-02-29",
                "occurred_at": now,
            },
        ),
        "profile change": lambda: (
            "/v1/members/profile-changes",
            {
                "member_id": "0912000001",
                "email": f"m{n()}@example.com",
                "birth_date": "1990-03-21",
                "occurred_at": now,
            },
        ),
        "vip membership": lambda: (
            "/v1/memberships",
            {
                "kind": "vip_purchased",
                "member_id": "0912000001",
                "chain_id": "hyperstar",
                "order_no": f"V{n()}",
                "plan": "gold",
                "fee": "990000",
                "currency": "IRR",
                "term_months": 12,
                "occurred_at": now,
            },
        ),
        "partner purchase": lambda: (
            "/v1/partners/purchases",
            {
                "partner_id": "snapp",
                "receipt_no": f"S{n()}",
                "member_id": "0912000001",
                "currency": "IRR",
                "total_amount": "500000",
                "occurred_at": now,
            },
        ),
        "partner campaign": lambda: (
            "/v1/partners/campaigns",
            {
                "partner_id": "snapp",
                "campaign_id": f"C{n()}",
                "name": "Snapp week",
                "starts_at": now,
                "ends_at": "2099-01-01T00:00:00Z",
                "categories": ["bakery"],
                "multiplier": "2",
                "budget_points": 1000,
                "occurred_at": now,
            },
        ),
    }


CHAIN_ITEMS = (
    "purchase",
    "purchase at another store",
    "return",
    "enrolment",
    "profile change",
    "vip membership",
)
PARTNER_ITEMS = ("partner purchase", "partner campaign")


def expected(key: str, item: str) -> int:
    """The policy, written down: who may send what (202 accepted, 401 not authenticated, 403 not theirs)."""
    if key in ("missing", "malformed", "wrong secret", "revoked"):
        return 401
    if key == "admin":
        return 202
    if key == "hyperstar":
        return 202 if item in CHAIN_ITEMS else 403
    if key == "hyperstar store 01":
        return 202 if item in CHAIN_ITEMS and item != "purchase at another store" else 403
    if key == "refah":
        return 403
    if key == "snapp":
        return 202 if item in PARTNER_ITEMS else 403
    if key == "digikala":
        return 403
    raise AssertionError(key)


async def test_every_ingest_endpoint_against_every_kind_of_key(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest", VAFA_INGEST_KEY_CACHE_S="0")
    hyperstar = api_key(stack, "chain", "--chain", "hyperstar")
    revoked = api_key(stack, "chain", "--chain", "hyperstar")
    revoke_key(stack, revoked)
    tokens = {
        "admin": api_key(stack, "admin"),
        "hyperstar": hyperstar,
        "hyperstar store 01": api_key(stack, "chain", "--chain", "hyperstar", "--store", "hyperstar-01"),
        "refah": api_key(stack, "chain", "--chain", "refah"),
        "snapp": api_key(stack, "partner", "--partner", "snapp"),
        "digikala": api_key(stack, "partner", "--partner", "digikala"),
        "revoked": revoked,
        "wrong secret": hyperstar[:-4] + "abcd",
        "malformed": "not-a-key",
        "missing": "",
    }
    items = _items(utcnow().isoformat())
    # The member whose profile the matrix changes was enrolled by hyperstar.
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        enrolment = {"member_id": "0912000001", "chain_id": "hyperstar", "occurred_at": utcnow().isoformat()}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        assert (await client.post("/v1/members", json=enrolment, headers=admin)).status_code == 202
        # The sale the matrix's returns refund (1,000 each, far from its total).
        sold = items["purchase"]()[1] | {"receipt_no": SOLD}
        assert (await client.post("/v1/purchases", json=sold, headers=admin)).status_code == 202
    got, want = {}, {}
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        for (key, token), (name, make) in itertools.product(tokens.items(), items.items()):
            path, body = make()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            allowed = expected(key, name)
            # Authorised before validated: a malformed body gets the same 401/403 a valid one does
            # (422 only for a key that may send it); one that is not even JSON, 401 or 422.
            variants = {
                "valid": (orjson.dumps(body), allowed),
                "malformed": (
                    orjson.dumps(body | {"occurred_at": "yesterday"}),
                    422 if allowed == 202 else allowed,
                ),
                "not JSON": (b'{"chain_id": "hyperstar", ', 401 if allowed == 401 else 422),
            }
            for variant, (content, status) in variants.items():
                sent = headers | {"Content-Type": "application/json"}
                answer = await client.post(path, content=content, headers=sent)
                got[(key, name, variant)], want[(key, name, variant)] = answer.status_code, status
                if answer.status_code >= 400:  # every refusal is a problem document that says why
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert answer.json()["detail"]
        # In a batch, item by item: another chain's malformed item is forbidden, not judged.
        _, theirs = items["return"]()
        batch = {"items": [{"kind": "return", **theirs, "occurred_at": "yesterday"}]}
        answer = await client.post(
            "/v1/batch", json=batch, headers={"Authorization": f"Bearer {tokens['refah']}"}
        )
        assert [r["status"] for r in answer.json()["results"]] == ["forbidden"]
    assert got == want
    log = ingest.log_path.read_text()
    assert not [k for k, t in tokens.items() if t.count("_") == 2 and t.split("_", 2)[2] in log]


async def test_fuzzed_http_apis_never_answer_with_a_server_error(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    running = await all_five(stack, services, log_dir)
    auth = {"ingest": {"Authorization": f"Bearer {api_key(stack, 'admin')}"}}
    tried: dict[str, int] = {}
    for name, process in running.items():
        schema = schemathesis.openapi.from_url(f"{process.url}/openapi.json")
        tried[name] = 0
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            tried[name] += await asyncio.to_thread(fuzz, schema, mode, process.url, auth.get(name, {}))
        assert process.proc and process.proc.poll() is None, f"{name} died:\n{process.tail()}"
    print(f"fuzzed requests per service: {tried}")
    assert all(n >= 20 for n in tried.values()), tried  # notify has one operation


# CI runs the same examples every time (derandomized), so what lands is what was proven; set
# VAFA_FUZZ_EXAMPLES (e.g. 500) for a longer, random hunt.
EXAMPLES = int(os.environ.get("VAFA_FUZZ_EXAMPLES", "0"))


def fuzz(schema: Any, mode: GenerationMode, url: str, headers: dict[str, str]) -> int:
    """Requests generated from the OpenAPI document, operation by operation (valid ones, or with
    ``NEGATIVE`` ones that break it), each checked for a server error; returns how many were sent."""
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES or 20,
            derandomize=not EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            nonlocal sent
            sent += 1
            case.call_and_validate(base_url=url, headers=headers, checks=[not_a_server_error], timeout=30)

        try:
            one()
        except Unsatisfiable:  # nothing to break: an operation without parameters or body
            continue
    return sent


def hostile_records(valid: dict[str, Any], count: int) -> list[bytes]:
    """Garbage, JSON that is not an object, and the valid record with one field type-confused, dropped
    or blown up to hundreds of kilobytes."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=10,
    )

    def confused(field: str, value: Any) -> bytes:
        # json, not orjson: a hostile producer may send integers past 64 bits, which orjson cannot write.
        return json.dumps({**valid, field: value}).encode()

    fields = st.sampled_from(sorted(valid))
    record = st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.builds(confused, fields, json_values),
        fields.map(lambda f: orjson.dumps({k: v for k, v in valid.items() if k != f})),
        st.builds(confused, fields, st.just("x" * 400_000)),
    )
    found: list[bytes] = []

    @settings(max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(record)
    def collect(value: bytes) -> None:
        found.append(value)

    collect()
    return found[:count]


async def test_hostile_kafka_records_are_dead_lettered_with_a_reason_and_the_consumers_live_on(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("ingest", "points")
    ingest = ServiceProcess("services.ingest", stack.env("ingest"), log_dir)
    points = ServiceProcess("services.points", stack.env("points"), log_dir)
    services += [ingest, points]
    for process in (ingest, points):
        await process.start().wait_ready()
    now = utcnow().isoformat()
    item = {"kind": "purchase", **_items(now)["purchase"]()[1]}
    envelope = orjson.loads(purchase("0912000001", "300000").to_bytes())
    raw = hostile_records(item, 150)
    enveloped = hostile_records(envelope, 150)
    await stack.produce(Topic.POS_RAW, [(b"k", r) for r in raw])
    await stack.produce(Topic.PURCHASES, [(b"0912000001", r) for r in enveloped])
    # After the garbage, good records still flow.
    await stack.produce(Topic.PURCHASES, [as_record(purchase("0912000002", "7000"))])

    async def outcomes(process: ServiceProcess, topic: str) -> float:
        return await process.metric("vafa_events_total", topic=stack.topic(topic))

    await eventually(lambda: _equals(outcomes(ingest, Topic.POS_RAW), len(raw)), timeout=120, what="ingest")
    await eventually(
        lambda: _equals(outcomes(points, Topic.PURCHASES), len(enveloped) + 1), timeout=120, what="points"
    )
    balance = await stack.scalar("points", "SELECT balance FROM balances WHERE member_id = '0912000002'")
    assert balance == 7000
    for service, process in (("ingest", ingest), ("points", points)):
        assert process.proc and process.proc.poll() is None, f"{service} died:\n{process.tail()}"
        dead = int(await process.metric("vafa_events_total", outcome="dead_lettered"))
        topic = f"deadletter.{service}"
        letters = await eventually(lambda: at_least(stack.read_all(topic, timeout=30), dead), what=topic)  # noqa: B023
        # The relay publishes at least once: count each refused record once, by where it came from.
        sources = {(dict(r.headers)[SOURCE_PARTITION], dict(r.headers)[SOURCE_OFFSET]) for r in letters}
        assert dead > 0 and len(sources) == dead, (service, dead, len(letters), len(sources))
        assert all(dict(letter.headers)[REASON].decode() for letter in letters)


async def _equals(value: Any, n: int) -> bool:
    return bool(await value >= n)


async def test_every_kind_of_poison_is_dead_lettered_by_every_consumer_and_what_follows_flows(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """Poison on the topics each consuming service reads, a valid record after each: per service and
    topic, exactly the poison is dead-lettered with a readable reason, the rest applied, and the
    service stays ready. A NUL or an overflow reaching PostgreSQL once stalled a consumer for good."""
    processes = await all_five(stack, services, log_dir)

    now = utcnow().isoformat()
    raw = {"kind": "purchase", **_items(now)["purchase"]()[1]}
    sale = orjson.loads(purchase("0912000001", "300000").to_bytes())
    earned = orjson.loads(  # a points.earned as points would emit it
        POINTS_EARNED.envelope(
            key="0912000001",
            producer="points",
            payload=PointsEarned(
                member_id="0912000001",
                purchase_event_id=uuid.uuid4(),
                points=30,
                balance=30,
                currency="IRR",
                amount=Decimal("300000"),
                rules=[],
            ),
        ).to_bytes()
    )
    poisoned = {
        Topic.POS_RAW: poisons(raw, ""),
        Topic.PURCHASES: poisons(sale, "payload"),
        Topic.POINTS: poisons(earned, "payload"),
    }
    assert all(len(kinds) >= 12 for kinds in poisoned.values())
    readers = {Topic.POS_RAW: ("ingest",), Topic.PURCHASES: ("points", "tiers", "analytics")}
    readers[Topic.POINTS] = ("tiers", "notify", "analytics")

    def valid(topic: str, i: int) -> tuple[bytes, bytes]:
        if topic == Topic.POS_RAW:
            return b"k", orjson.dumps({**raw, "receipt_no": f"OK{i}", "member_id": f"09130000{i:02d}"})
        if topic == Topic.PURCHASES:
            return as_record(purchase(f"09140000{i:02d}", "300000"))
        return b"m", orjson.dumps({**earned, "event_id": str(uuid.uuid4()), "key": f"0915{i:06d}"})

    for topic, kinds in poisoned.items():
        records = []
        for i, make in enumerate(kinds.values()):
            records += [(b"poison", make()), valid(topic, i)]
        await stack.produce(topic, records)

    for topic, kinds in poisoned.items():
        for name in readers[topic]:
            process = processes[name]

            async def seen(
                process: ServiceProcess = process, t: str = stack.topic(topic), n: int = len(kinds)
            ) -> bool:
                dead = await process.metric("vafa_events_total", topic=t, outcome="dead_lettered")
                return (
                    dead >= n and await process.metric("vafa_events_total", topic=t, outcome="applied") >= n
                )

            await eventually(seen, timeout=60, what=f"{name} through {topic}")
            t = stack.topic(topic)
            assert await process.metric("vafa_events_total", topic=t, outcome="dead_lettered") == len(kinds)
            # What ingest forwards and points emits come on top of the valid records sent here.
            assert await process.metric("vafa_events_total", topic=t, outcome="applied") >= len(kinds)
    for name, process in processes.items():
        assert process.proc and process.proc.poll() is None, f"{name} died:\n{process.tail()}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{process.url}/readyz", timeout=10)).status_code == 204, name
        expected = sum(len(poisoned[t]) for t in poisoned if name in readers[t])
        letters = await eventually(
            lambda: at_least(stack.read_all(f"deadletter.{name}", timeout=30), expected),  # noqa: B023
            what=f"deadletter.{name}",
        )
        where = {(dict(r.headers)[SOURCE_TOPIC], dict(r.headers)[SOURCE_OFFSET]) for r in letters}
        assert len(where) == expected, name
        reasons = [dict(r.headers)[REASON].decode() for r in letters]
        assert all(reason.isprintable() and len(reason) > 10 for reason in reasons), (name, reasons)
    members = len(poisoned[Topic.PURCHASES]) + len(poisoned[Topic.POS_RAW])  # sent direct, and through ingest
    await eventually(
        lambda: stack.scalar("points", "SELECT count(*) = $1 FROM balances", members), what="all"
    )


def _path_value(param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "1" if schema.get("type") == "integer" else "walk-1"


# Bodies no route should take: malformed JSON, a wrong content type, bytes that are not UTF-8, nothing.
_HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "malformed JSON": (b'{"items": [', "application/json"),
    "wrong content type": (b"<xml>hello</xml>", "application/xml"),
    "form instead of JSON": (b"a=1&b=2", "application/x-www-form-urlencoded"),
    "not UTF-8": (b'{"member_id": "\xff\xfe\xfa"}', "application/json"),
    "JSON of the wrong type": (b"[1, 2, 3]", "application/json"),
    "empty": (b"", "application/json"),
}


async def test_every_route_of_every_service_answers_hostile_bodies_with_a_problem_never_a_5xx(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """The problem-document walk: each route of each service's OpenAPI document, with and without its
    credentials, fed each hostile body. Every error is an RFC 9457 problem; nothing is a 5xx."""
    running_ = await all_five(stack, services, log_dir)
    credentials = {"ingest": {"Authorization": f"Bearer {api_key(stack, 'admin')}"}}
    walked: dict[str, int] = {}
    bad: list[tuple[str, str, str, str, int, str]] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for name, process in running_.items():
            document = (await client.get(f"{process.url}/openapi.json")).json()
            walked[name] = 0
            for template, operations in document["paths"].items():
                for method, operation in operations.items():
                    path = template
                    for param in operation.get("parameters", []):
                        if param["in"] == "path":
                            path = path.replace("{" + param["name"] + "}", _path_value(param))
                    for (label, (content, media)), auth in itertools.product(
                        _HOSTILE_BODIES.items(), ({}, credentials.get(name, bearer()))
                    ):
                        headers = {"Content-Type": media, **auth}
                        answer = await client.request(
                            method.upper(), process.url + path, content=content, headers=headers
                        )
                        walked[name] += 1
                        problem = answer.headers.get("content-type", "").startswith(
                            "application/problem+json"
                        )
                        if answer.status_code >= 500 or (answer.status_code >= 400 and not problem):
                            bad.append((name, method, path, label, answer.status_code, answer.text[:200]))
                        elif answer.status_code >= 400:
                            assert answer.json()["status"] == answer.status_code and answer.json()["title"]
            # And what no route serves: an unknown path, a method a path does not take.
            for method, path in (("GET", "/v1/no-such-route"), ("PATCH", "/healthz")):
                answer = await client.request(method, process.url + path)
                if not answer.headers.get("content-type", "").startswith(PROBLEM_JSON):
                    bad.append((name, method, path, "no route", answer.status_code, answer.text[:200]))
            assert process.proc and process.proc.poll() is None, f"{name} died:\n{process.tail()}"
    print(f"hostile requests per service: {walked}")
    assert not bad, bad
    assert all(n >= len(_HOSTILE_BODIES) * 2 * 3 for n in walked.values()), walked


_FORM = "application/x-www-form-urlencoded"
# What a browser form can be made to carry: the console's pages take urlencoded forms and query strings.
_HOSTILE_FORMS: dict[str, tuple[bytes, str]] = {
    **_HOSTILE_BODIES,
    "form of garbage": (b"points=%ff%fe&reason=\x00\x01&request_id=not-a-uuid&csrf=x", _FORM),
    "huge number": (b"points=" + b"9" * 400 + b"&reason=abc&request_id=" + str(uuid.uuid4()).encode(), _FORM),
    "too many fields": (b"&".join(b"f%d=1" % i for i in range(500)), _FORM),
    # The import page takes a file: multipart forms out of shape.
    "multipart without a boundary": (b"--x\r\n\r\n", "multipart/form-data"),
    "multipart cut short": (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nmember_id',
        "multipart/form-data; boundary=x",
    ),
    "multipart of many parts": (
        b"".join(b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(50))
        + b"--x--\r\n",
        "multipart/form-data; boundary=x",
    ),
}
# With the session's CSRF token: a file of every hostile kind (the boundary and the CSRF token around it).
_HOSTILE_FILES = [
    b"\xff\xfe\x00garbage",
    b"member_id,points\n" + b"<script>,1e999\n" * 50,
    b'member_id,points\n"unterminated,1\n\x00,\x00\n',
    b"points\n1\n",
    # The member columns ingest judges: NUL bytes, a right-to-left override, an impossible date.
    b"member_id,chain_id,phone,email,card_no,locale,birth_date,points\n"
    + "m\x00,c\x00,+98\u202e1,a@b\x00.c,<x>,zz,9999-99-99,1e9\n".encode() * 50,
    b"x" * 2_100_000,
]


def _multipart(csrf: str, content: bytes) -> tuple[bytes, str]:
    parts = (b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + csrf.encode() + b"\r\n"
             b'--x\r\nContent-Disposition: form-data; name="action"\r\n\r\nimport\r\n'
             b'--x\r\nContent-Disposition: form-data; name="file"; filename="../../x.csv"\r\n\r\n'
             + content + b"\r\n--x--\r\n")  # fmt: skip
    return parts, "multipart/form-data; boundary=x"


# With the session's CSRF token: every front end's fields, out of shape.
_SIGNED_IN_FORM = (b"&points=%00&reason=" + b"x" * 3000 + b"&reward_id=<script>&request_id=not-a-uuid"
                   b"&email=%ff&sms=" + b"on" * 500 + b"&address=' OR 1=1 --&code=%00%00")  # fmt: skip
_HOSTILE_QUERIES = ["?q=%00%ff&by=phone", "?by=" + "x" * 5000, "?q=' OR 1=1 --&by=email", "?adjusted=1e999",
                    "?lang=../../etc&why=<script>", "?q=%2B98912&by=member_id"]  # fmt: skip


# Each web front end: its session cookie and who signs in to it.
_FRONT_ENDS: dict[str, tuple[SessionCookie, Principal]] = {
    "console": (CONSOLE_SESSION, operator("ada", "admin")),
    "portal": (PORTAL_SESSION, member("walk-1")),
}


@pytest.mark.parametrize("name", sorted(_FRONT_ENDS))
async def test_every_front_end_page_answers_hostile_forms_and_queries_with_a_page_never_a_5xx(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, name: str
) -> None:
    """The console's and the portal's routes (from their OpenAPI documents) signed out, signed in (an
    admin, a member) with and without the session's CSRF token, fed each hostile form body and query
    string: every answer is a page (or a redirect to one), never a 5xx, never a stack trace, never a
    reflected script. The portal's JSON API (``/api/``, with and without the member's Bearer token)
    answers a problem document where a page would be."""
    ingest = await running(stack, services, log_dir, "ingest")
    site = await front_end(name, services, log_dir, {"ingest": ingest})  # points and the rest absent
    cookie, who = _FRONT_ENDS[name]
    token = DEV_KEYS.issue(who, 600)
    csrf = cookie.csrf_token(ConsoleSettings(), token)  # the same dev keys as the front end's
    bad: list[tuple[str, str, str, int]] = []
    walked = 0
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        document = (await client.get("/openapi.json")).json()
        for template, operations in document["paths"].items():
            path = template.replace("{member_id}", "walk-1")
            for method, _ in operations.items():
                api = template.startswith("/api/")
                for cookies in ({}, {cookie.name: token}):
                    auth = {"Authorization": f"Bearer {token}"} if api and cookies else {}
                    tries = (
                        [(f"{path}{q}", b"", "") for q in _HOSTILE_QUERIES]
                        if method == "get"
                        else [(path, body, media) for body, media in _HOSTILE_FORMS.values()]
                        + [(path, b"csrf=" + csrf.encode() + _SIGNED_IN_FORM, _FORM)]
                        + [(path, *_multipart(csrf, content)) for content in _HOSTILE_FILES]
                    )
                    for url, content, media in tries:
                        client.cookies = cookies  # this try's session alone, nothing kept from others
                        answer = await client.request(
                            method.upper(), url, content=content,
                            headers={**auth, "Content-Type": media} if media else auth,
                        )  # fmt: skip
                        walked += 1
                        text = answer.text
                        kind = answer.headers.get("content-type", "")
                        page = kind.startswith(PROBLEM_JSON if api else "text/html")
                        wrong = answer.status_code >= 500 or "Traceback" in text or "<script>" in text
                        if wrong or (answer.status_code >= 400 and not page):
                            bad.append((method, url[:80], media, answer.status_code))
    assert site.proc and site.proc.poll() is None, site.tail()
    assert not bad, bad
    assert walked > 100, walked
