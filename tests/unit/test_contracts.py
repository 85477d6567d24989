from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from shared.contracts import PURCHASE_RECORDED, Envelope, PurchaseRecorded
from shared.contracts.common import control_character_in_json
from shared.contracts.money import _fits_by_digits, _money, _money_checked, fits_currency


def sample() -> Envelope[PurchaseRecorded]:
    return PURCHASE_RECORDED.envelope(
        key="m-1",
        producer="test",
        payload=PurchaseRecorded(
            chain_id="c",
            store_id="s",
            receipt_no="r",
            member_id="m-1",
            currency="IRR",
            total_amount=Decimal("1234567.8900"),
        ),
    )


def test_envelope_round_trips_with_money_exact() -> None:
    event = sample()
    wire = orjson.loads(event.to_bytes())
    assert wire["payload"]["total_amount"] == "1234567.8900"  # a string on the wire, never a float
    back = Envelope[PurchaseRecorded].model_validate(wire)
    assert back == event
    assert back.payload.total_amount == Decimal("1234567.89")
    assert back.occurred_at.tzinfo is not None


def test_caused_events_carry_causation_and_correlation() -> None:
    cause = sample()
    fields = cause.caused()
    assert fields["causation_id"] == cause.event_id
    assert fields["correlation_id"] == cause.event_id  # the first event starts the correlation


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),  # naive time is refused
        ({"surprise": 1}, "surprise"),
        ({"payload": {"total_amount": 1.5}}, "payload"),  # floats are not money
    ],
)
def test_envelope_refuses_bad_input(change: dict[str, object], field: str) -> None:
    wire = orjson.loads(sample().to_bytes())
    if "payload" in change:
        wire["payload"].update(change["payload"])
    else:
        wire.update(change)
    with pytest.raises(ValidationError) as error:
        Envelope[PurchaseRecorded].model_validate(wire)
    assert field in str(error.value)


def test_naive_datetimes_are_never_accepted() -> None:
    with pytest.raises(ValidationError):
        PURCHASE_RECORDED.envelope(
            key="k",
            producer="p",
            payload=sample().payload,
            occurred_at=datetime(2026, 1, 1),  # noqa: DTZ001
        )


@pytest.mark.parametrize("zone", ["Mars/Olympus", "x" * 300, "../../etc/passwd", "T̺̺o͞ ̷i̲n͙v̟o̶kè" * 20])
def test_a_time_zone_that_is_not_an_iana_name_is_refused_not_a_crash(zone: str) -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        PurchaseRecorded(
            chain_id="c", store_id="s", receipt_no="r", member_id="m", currency="IRR",
            total_amount=Decimal(1), timezone=zone,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "refused"),
    [
        (rb'{"member_id": "m\u0000"}', "U+0000"),
        (rb'{"m\u0000": 1}', "U+0000"),  # a key: it would reach a dead letter's reason
        (rb'{"sku": "a\u001b[31m"}', "U+001B"),
        (rb'{"sku": "a\\\u0007"}', "U+0007"),  # an escaped backslash, then an escape
        ('{"name": "a\u0085"}'.encode(), "U+0085"),  # C1, raw UTF-8
        (b'{"name": "a\x7f"}', "U+007F"),
        (rb'{"sku": "a\\u0000"}', None),  # a backslash and the text u0000: not a control character
        (rb'{"note": "line\nnext\ttab\u000d"}', None),
        ('{"name": "نان بربری"}'.encode(), None),
    ],
)
def test_control_characters_are_found_in_json_bytes(raw: bytes, refused: str | None) -> None:
    found = control_character_in_json(raw)
    assert (found is None) if refused is None else (found is not None and refused in found)


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        (1.5, "money_not_float"),
        ("-0.01", "greater_than_equal"),
        ("NaN", "finite_number"),
        ("-Infinity", "finite_number"),
        ("12,50", "decimal_parsing"),
        (True, "decimal_type"),
        (None, "decimal_type"),
        ("0.00001", "money_out_of_range"),
        ("1e14", "money_out_of_range"),
    ],
)
def test_money_is_refused_by_the_rule_a_client_reads(amount: object, rule: str) -> None:
    wire = orjson.loads(sample().to_bytes())
    wire["payload"]["total_amount"] = amount
    with pytest.raises(ValidationError) as error:
        Envelope[PurchaseRecorded].model_validate_json(orjson.dumps(wire))
    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(("payload", "total_amount"), rule)]


@pytest.mark.parametrize(("amount", "read"), [("12.50", "12.50"), (" 7 ", "7"), (12, "12"), ("0", "0")])
def test_money_is_read_from_a_decimal_string_or_an_integer_and_written_as_a_string(
    amount: object, read: str
) -> None:
    wire = orjson.loads(sample().to_bytes())
    wire["payload"]["total_amount"] = amount
    event = Envelope[PurchaseRecorded].model_validate_json(orjson.dumps(wire))
    assert event.payload.total_amount == Decimal(read)
    assert orjson.loads(event.to_bytes())["payload"]["total_amount"] == read


def test_the_schema_tells_clients_money_is_a_decimal_string_or_an_integer_never_a_number() -> None:
    sent = PurchaseRecorded.model_json_schema()["properties"]["total_amount"]
    assert {s["type"] for s in sent["anyOf"]} == {"string", "integer"}
    written = PurchaseRecorded.model_json_schema(mode="serialization")["properties"]["total_amount"]
    assert written["type"] == "string"


@settings(max_examples=1000, database=None, derandomize=True)
@given(
    st.one_of(
        st.text(alphabet="0123456789.-+eE_ ٣\t", max_size=20),
        st.from_regex(r"[0-9]{1,16}(\.[0-9]{0,6})?", fullmatch=True),
        st.integers(min_value=-(10**15), max_value=10**15),
    )
)
def test_money_read_the_quick_way_is_what_every_rule_makes_of_it(value: str | int) -> None:
    """Plain amounts skip the rules one by one (``_money``), and are kept once read: what they give is
    what the rules give, and everything else is judged by the rules, with the rule's own name."""

    def outcome(read: Any, value: object) -> tuple[str, object]:
        try:
            amount = read(value)
        except PydanticCustomError as error:
            return "refused", error.type
        return "read", (amount, amount.as_tuple())

    assert outcome(_money, value) == outcome(_money_checked, value)
    assert outcome(_money, value) == outcome(_money_checked, value)  # again, from the amounts kept


@settings(max_examples=500, database=None, derandomize=True)
@given(
    st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(lambda d: not d.is_snan())
    | st.builds(
        Decimal, st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,8}0{0,3})?(E[+-]?[0-9]{1,2})?", fullmatch=True)
    ),
    st.sampled_from(["EUR", "JPY", "KWD", "IRR"]),
)
def test_an_amount_fits_its_currency_by_rounding_as_it_does_by_its_digits(
    amount: Decimal, currency: str
) -> None:
    assert fits_currency(amount, currency) == _fits_by_digits(amount, currency)
    assert fits_currency(Decimal("12.500"), "EUR") and not fits_currency(Decimal("12.505"), "EUR")
