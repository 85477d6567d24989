"""A consumer that reads a few fields of a contract decodes them through a view: those fields are
validated as the contract validates them, the rest of the payload is skipped, and a view cannot
declare a field otherwise than its contract does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import Field

from services.analytics.views import LineUnits, PurchaseFigures
from services.tiers.views import PurchaseTotal, ReturnTotal
from shared.consumer import ContractDecoder
from shared.contracts import PURCHASE_RECORDED, PurchaseRecorded, ReturnLine
from shared.contracts.common import Id, Quantity
from shared.contracts.view import View
from tests.support import as_record, purchase


def _decode(decoder: ContractDecoder, value: bytes) -> Any:
    return decoder(ConsumerRecord("pos.purchases", 0, 0, 0, 0, b"k", value, None, 0, 0, []))


def test_a_view_reads_its_fields_as_the_contract_does_and_skips_the_rest() -> None:
    totals, whole = (
        ContractDecoder([PURCHASE_RECORDED.read_as(PurchaseTotal)]),
        ContractDecoder([PURCHASE_RECORDED]),
    )
    _, value = as_record(purchase("0912000001", "300000"))
    read = _decode(totals, value)
    assert isinstance(read.payload, PurchaseTotal)
    assert read.payload.total_amount == Decimal(300000)

    document = orjson.loads(value)
    broken_line = {**document, "payload": {**document["payload"], "lines": [{"sku": 5}]}}
    assert "lines" in str(_decode(whole, orjson.dumps(broken_line)))  # the whole contract refuses it
    assert isinstance(_decode(totals, orjson.dumps(broken_line)), type(read))  # the view never reads lines

    float_total = {**document, "payload": {**document["payload"], "total_amount": 1.5}}
    refused = _decode(totals, orjson.dumps(float_total))
    assert isinstance(refused, str) and "not a JSON float" in refused  # the contract's own check, its words


def test_a_view_cannot_declare_a_field_otherwise_than_its_contract() -> None:
    with pytest.raises(TypeError, match="total_amount"):

        class _Rounded(View, of=PurchaseRecorded):
            total_amount: int

    with pytest.raises(TypeError, match="receipt"):

        class _Unknown(View, of=PurchaseRecorded):
            receipt: Id


def test_a_view_is_read_only_for_its_own_contract() -> None:
    with pytest.raises(TypeError, match="ReturnTotal"):
        PURCHASE_RECORDED.read_as(ReturnTotal)


def test_a_views_lines_read_through_a_view_of_the_line_keep_the_quantities_and_skip_the_prices() -> None:
    units = ContractDecoder([PURCHASE_RECORDED.read_as(PurchaseFigures)])
    _, value = as_record(purchase("0912000001", "300000"))
    document = orjson.loads(value)

    def with_lines(*lines: dict[str, Any]) -> Any:
        return _decode(units, orjson.dumps({**document, "payload": {**document["payload"], "lines": lines}}))

    read = with_lines({"quantity": "2", "unit_price": "x"}, {"quantity": "1.5", "sku": 5})
    assert [line.quantity for line in read.payload.lines] == [Decimal(2), Decimal("1.5")]
    refused = with_lines({"quantity": "0"})
    assert isinstance(refused, str) and "lines.0.quantity" in refused  # the contract's own bound
    too_many = with_lines(*[{"quantity": "1"}] * 1001)
    assert isinstance(too_many, str) and "lines" in too_many  # and the contract's limit on lines


def test_a_views_nested_view_must_be_of_the_model_the_contract_holds_there_with_its_bounds() -> None:
    class _ReturnedUnits(View, of=ReturnLine):
        quantity: Quantity

    with pytest.raises(TypeError, match="lines"):

        class _WrongLines(View, of=PurchaseRecorded):
            lines: list[_ReturnedUnits] = Field(default_factory=list, max_length=1000)

    with pytest.raises(TypeError, match="lines"):

        class _Unbounded(View, of=PurchaseRecorded):
            lines: list[LineUnits] = Field(default_factory=list)
