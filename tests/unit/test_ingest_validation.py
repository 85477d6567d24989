"""Ingest's HTTP answers that need no broker or database: 401 without a key (whatever the body), 413
past the body limit, and RFC 9457 problem details for every refusal: naming the field and the rule for a
body of the wrong shape, and for what the framework refuses itself (not UTF-8, unknown route, method)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from services.ingest.api import authorised
from services.ingest.auth import KeyRing
from services.ingest.handlers import RawIntakeDecoder
from services.ingest.main import create
from services.ingest.settings import IngestSettings
from shared.config import DEV_SIGNING_KEYS
from shared.identity import SigningKeys, integration
from tests.unit.test_ingest_domain import line, purchase


def client(authenticated: bool, **settings: Any) -> httpx.AsyncClient:
    app = create(IngestSettings(**settings))
    if authenticated:
        app.dependency_overrides[authorised] = lambda: integration("admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


async def test_no_key_is_401_with_a_problem_and_a_challenge() -> None:
    async with client(authenticated=False) as c:
        answer = await c.post("/v1/purchases", json=purchase())
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"].startswith("missing")


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (purchase(total_amount=10.5), "total_amount", "money_not_float"),
        (purchase(total_amount="-1"), "total_amount", "greater_than_equal"),
        (purchase(currency="rial"), "currency", "string_pattern_mismatch"),
        (purchase(occurred_at="2026-11-20T10:00:00"), "occurred_at", "timezone_aware"),
        (purchase(member_id=""), "member_id", "string_too_short"),
        (purchase(lines=[{"sku": "a"}]), "lines.0.category", "missing"),
    ],
)
async def test_a_body_of_the_wrong_shape_gets_a_problem_naming_field_and_rule(
    body: dict[str, Any], field: str, rule: str
) -> None:
    async with client(authenticated=True) as c:
        answer = await c.post("/v1/purchases", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert (field, rule) in [(e["field"], e["rule"]) for e in answer.json()["errors"]]


async def test_a_control_character_is_refused_over_http_naming_its_field_and_on_pos_raw_naming_its_byte() -> (
    None
):
    """One check each way in: field by field over HTTP; the record's bytes, scanned whole, on pos.raw
    (where the field-by-field walk is skipped as redundant)."""
    item = purchase(
        member_id="m\u0001", lines=[line("milk", "2", "1.25", "2.50")], tenders=[], total_amount="2.50"
    )
    async with client(authenticated=True) as c:
        answer = await c.post("/v1/purchases", json=item)
    assert answer.status_code == 422
    assert ("member_id", "control_character") in [(e["field"], e["rule"]) for e in answer.json()["errors"]]

    raw = RawIntakeDecoder(IngestSettings())
    value = orjson.dumps(item)
    refused = raw(ConsumerRecord("pos.raw", 0, 0, 0, 0, b"k", value, None, 0, 0, []))
    at = value.index(rb"\u0001")
    assert refused == f"a control character (U+0001) is not allowed in text (at byte {at})"
    clean = orjson.dumps(purchase(lines=[line("milk", "2", "1.25", "2.50")], tenders=[], total_amount="2.50"))
    assert not isinstance(raw(ConsumerRecord("pos.raw", 0, 0, 0, 0, b"k", clean, None, 0, 0, [])), str)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00garbage", b'{"chain_id": "hyperstar"}', b"[]"],
)
async def test_without_a_key_any_body_is_401_before_it_is_read(content: bytes) -> None:
    async with client(authenticated=False) as c:
        answer = await c.post("/v1/returns", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_body_past_the_limit_is_413_before_authentication_or_parsing() -> None:
    json_type = {"content-type": "application/json"}
    async with client(authenticated=False, http_max_body_bytes=1000) as c:
        declared = await c.post("/v1/batch", content=b"{" * 1001, headers=json_type)

    async def streamed() -> Any:  # no Content-Length: counted as it arrives, never buffered whole
        for _ in range(5):
            yield b"[" * 300

    # (Without a key a streamed body is not read at all: 401.)
    async with client(authenticated=True, http_max_body_bytes=1000) as c:
        chunked = await c.post("/v1/batch", content=streamed(), headers=json_type)
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/v1/purchases", b'{"chain_id": "\xff\xfe"}', 400),  # not UTF-8
        ("GET", "/v1/nowhere", b"", 404),
        ("DELETE", "/v1/purchases", b"", 405),
    ],
)
async def test_what_the_framework_refuses_is_a_problem_too(
    method: str, path: str, content: bytes, status: int
) -> None:
    async with client(authenticated=True) as c:
        answer = await c.request(method, path, content=content, headers={"content-type": "application/json"})
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status and answer.json()["detail"]


class _Engine:
    """Stands in for the database: counts the key lookups that reach it."""

    def __init__(self) -> None:
        self.lookups = 0

    def connect(self) -> Any:
        engine = self

        class _Conn:
            async def __aenter__(self) -> _Conn:
                engine.lookups += 1
                return self

            async def __aexit__(self, *_: object) -> None:
                return None

            async def execute(self, *_: object) -> Any:
                class _Result:
                    def first(self) -> None:
                        return None

                return _Result()

        return _Conn()


async def test_the_key_cache_is_bounded_however_many_unknown_prefixes_are_tried() -> None:
    engine = _Engine()
    ring = KeyRing(engine, SigningKeys(DEV_SIGNING_KEYS), cache_seconds=60, cache_entries=100)  # type: ignore[arg-type]
    for n in range(1000):
        assert await ring.principal(f"vafa_{n:012x}_secret") == "unknown"
    assert ring.cached == 100 and engine.lookups == 1000
    # The most recently used stay cached: asked again, no lookup.
    assert await ring.principal(f"vafa_{999:012x}_secret") == "unknown"
    assert engine.lookups == 1000


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("email", "not-an-address", "string_pattern_mismatch"),
        ("phone", "09121234567", "string_pattern_mismatch"),  # E.164 only: +98...
        ("card_no", "12", "string_pattern_mismatch"),
        ("card_no", "7731 0042", "string_pattern_mismatch"),
        ("card_no", "x" * 33, "string_pattern_mismatch"),
        ("contact", ["address"], "literal_error"),
        ("birth_date", "1990-02-29", "impossible_date"),
        ("birth_date", 631152000, "date_format"),
        ("birthday", "--02-30", "impossible_date"),
    ],
)
async def test_an_enrolment_s_contact_fields_are_checked_naming_the_field(
    field: str, value: Any, rule: str
) -> None:
    enrolment = {
        "member_id": "m-1",
        "chain_id": "hyperstar",
        "occurred_at": "2026-11-20T10:00:00Z",
        field: value,
    }
    async with client(authenticated=True) as c:
        answer = await c.post("/v1/members", json=enrolment)
    assert answer.status_code == 422
    assert any(e["field"].startswith(field) and e["rule"] == rule for e in answer.json()["errors"]), (
        answer.json()
    )
