"""A consumer that reads a few fields of a contract decodes them through a view: those fields are
validated as the contract validates them, the rest of the payload is skipped, and a view cannot
declare a field otherwise than its contract does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from services.tiers.views import PurchaseTotal, ReturnTotal
from shared.consumer import ContractDecoder
from shared.contracts import PURCHASE_RECORDED, PurchaseRecorded
from shared.contracts.common import Id
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
