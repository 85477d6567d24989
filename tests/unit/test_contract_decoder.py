"""The consumer's decoder reads an envelope as Vafa writes it without parsing it twice; whatever does
not read that way, or only seems to, is decoded the full way and gets the same verdict as before."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from services.tiers.views import PurchaseTotal
from shared.consumer import ContractDecoder
from shared.contracts import PURCHASE_RECORDED, RETURN_RECORDED, Envelope
from tests.support import as_record, purchase

WHOLE = ContractDecoder([PURCHASE_RECORDED, RETURN_RECORDED])
TOTALS = ContractDecoder([PURCHASE_RECORDED.read_as(PurchaseTotal)])


def _decode(decoder: ContractDecoder, value: bytes) -> Any:
    return decoder(ConsumerRecord("pos.purchases", 0, 0, 0, 0, b"k", value, None, 0, 0, []))


def test_an_envelope_as_written_decodes_to_the_envelope_it_was() -> None:
    sent = purchase("0912000001", "300000")
    _, value = as_record(sent)
    assert value.index(b'"type":"purchase.recorded","schema_version":1,') < 200  # the quick way's case
    got = _decode(WHOLE, value)
    assert isinstance(got, Envelope) and got == sent


def test_a_record_that_only_seems_to_say_its_type_is_judged_by_the_type_it_has() -> None:
    """The first "type" says purchase; JSON's last word (orjson's and pydantic's) says return: the full
    way decodes it as the return it is, whose payload a purchase is not."""
    _, value = as_record(purchase("0912000001", "300000"))
    tail = value[:-1] + b',"type":"return.recorded"}'
    answer = _decode(WHOLE, tail)
    assert isinstance(answer, str) and answer.startswith("invalid return.recorded"), answer


def test_nan_in_a_field_a_view_skips_is_still_not_json() -> None:
    """pydantic's parser takes NaN, orjson refuses it: a view that never reads the field must not let
    through a record the whole contract's consumers refuse as not JSON."""
    _, value = as_record(purchase("0912000001", "300000"))
    document = orjson.loads(value)
    with_nan = orjson.dumps(document).replace(b'"terminal_id":null', b'"terminal_id":NaN', 1)
    assert b"NaN" in with_nan
    for decoder in (TOTALS, WHOLE):
        answer = _decode(decoder, with_nan)
        assert isinstance(answer, str) and answer.startswith("not JSON"), answer
