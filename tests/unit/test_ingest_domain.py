"""Ingest's rules, without I/O: consistency of what POS systems send, and who may send it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.ingest.domain import (
    PurchaseIn,
    ReturnIn,
    Sale,
    forbidden_reason,
    judge_returns,
    parse_item,
    to_envelope,
    without_contact,
)
from shared.contracts.envelope import utcnow
from shared.identity import Principal, integration

NOW = utcnow()
SKEW = timedelta(minutes=5)


def line(sku: str, quantity: str, price: str, amount: str, discount: str = "0") -> dict[str, str]:
    return {
        "sku": sku,
        "category": "grocery",
        "quantity": quantity,
        "unit_price": price,
        "discount": discount,
        "amount": amount,
    }


def purchase(**change: Any) -> dict[str, Any]:
    item = {
        "kind": "purchase",
        "chain_id": "hyperstar",
        "store_id": "tehran-07",
        "receipt_no": "R-1",
        "member_id": "m-1",
        "currency": "EUR",
        "occurred_at": "2026-11-20T18:30:00+03:30",
        "lines": [
            line("milk-1l", "2", "1.25", "2.50"),
            # 1.235 kg at 10.99 is 13.57265: charged 13.57, within half a cent.
            line("saffron", "1.235", "10.99", "13.57"),
        ],
        "tenders": [{"kind": "card", "amount": "16.07"}],
        "total_amount": "16.07",
    }
    item.update(change)
    return item


def rules(result: Any) -> list[tuple[str, str]]:
    assert isinstance(result, list), f"expected errors, got {result!r}"
    return [(e.field, e.rule) for e in result]


def test_a_consistent_purchase_is_accepted() -> None:
    item = parse_item(purchase(), NOW, SKEW)
    assert isinstance(item, PurchaseIn)
    assert item.total_amount == sum(line.amount for line in item.lines)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"total_amount": "16.08", "tenders": []}, [("total_amount", "receipt_total_mismatch")]),
        ({"tenders": [{"kind": "cash", "amount": "10.00"}]}, [("tenders", "tender_total_mismatch")]),
        ({"lines": [], "tenders": []}, [("lines", "lines_required")]),
        (
            {"currency": "JPY", "tenders": []},
            [
                ("lines.0.unit_price", "currency_precision"),
                ("lines.0.amount", "currency_precision"),
                ("lines.1.unit_price", "currency_precision"),
                ("lines.1.amount", "currency_precision"),
                ("total_amount", "currency_precision"),
            ],
        ),
        (
            {"lines": [line("a", "3", "1.00", "2.00")], "total_amount": "2.00", "tenders": []},
            [("lines.0.amount", "line_amount_mismatch")],
        ),
        (
            {"lines": [line("a", "1", "1.00", "0", discount="2.00")], "total_amount": "0", "tenders": []},
            [("lines.0.discount", "discount_exceeds_price")],
        ),
        ({"occurred_at": (NOW + timedelta(hours=1)).isoformat()}, [("occurred_at", "not_in_future")]),
        ({"occurred_at": "2026-11-20T18:30:00"}, [("occurred_at", "timezone_aware")]),
        ({"currency": "XYZ"}, [("currency", "unsupported_currency")]),
        ({"total_amount": 16.07}, [("total_amount", "money_not_float")]),
        ({"total_amount": "16.07001"}, [("total_amount", "money_out_of_range")]),
        ({"total_amount": "1" + "0" * 14}, [("total_amount", "money_out_of_range")]),
        ({"timezone": "Mars/Olympus"}, [("timezone", "unknown_timezone")]),
        ({"surprise": True}, [("surprise", "extra_forbidden")]),
        ({"kind": "teleport"}, [("kind", "unknown_kind")]),
        ({"lines": [purchase()["lines"][0]] * 1001}, [("lines", "too_long")]),
    ],
)
def test_each_inconsistency_names_its_field_and_rule(
    change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert rules(parse_item(purchase(**change), NOW, SKEW)) == expected


def test_a_partial_return_must_add_up_and_points_at_the_original_purchase() -> None:
    ret = {
        "kind": "return", "chain_id": "hyperstar", "store_id": "tehran-02", "return_no": "RT-9",
        "original_store_id": "tehran-07", "original_receipt_no": "R-1", "member_id": "m-1",
        "currency": "EUR", "occurred_at": "2026-11-21T10:00:00+03:30",
        "lines": [{"sku": "milk-1l", "quantity": "1", "amount": "1.25"}], "refund_amount": "1.25",
    }  # fmt: skip
    item = parse_item(ret, NOW, SKEW)
    assert isinstance(item, ReturnIn)
    original = parse_item(purchase(), NOW, SKEW)
    assert isinstance(original, PurchaseIn)
    # Returned at another store of the chain, it still finds the purchase it reverses.
    assert to_envelope(item, "ingest").payload.original_event_id == to_envelope(original, "ingest").event_id
    assert rules(parse_item({**ret, "refund_amount": "2.00"}, NOW, SKEW)) == [
        ("refund_amount", "refund_total_mismatch")
    ]


def test_the_same_receipt_is_the_same_event_and_another_receipt_another() -> None:
    first, again = parse_item(purchase(), NOW, SKEW), parse_item(purchase(), NOW, SKEW)
    other = parse_item(purchase(receipt_no="R-2"), NOW, SKEW)
    assert isinstance(first, PurchaseIn) and isinstance(again, PurchaseIn) and isinstance(other, PurchaseIn)
    assert to_envelope(first, "ingest").event_id == to_envelope(again, "ingest").event_id
    assert to_envelope(first, "ingest").event_id != to_envelope(other, "ingest").event_id
    assert to_envelope(first, "ingest").key == "m-1"  # partitioned by member


CHAIN = integration("chain", chain_id="hyperstar")
STORE = integration("chain", chain_id="hyperstar", store_id="tehran-07")
PARTNER = integration("partner", partner_id="snapp")
ADMIN = integration("admin")

PARTNER_PURCHASE = {
    "kind": "partner_purchase", "partner_id": "snapp", "receipt_no": "S-1", "member_id": "m-1",
    "currency": "IRR", "total_amount": "500000", "occurred_at": "2026-11-20T18:30:00+03:30",
}  # fmt: skip


@pytest.mark.parametrize(
    ("principal", "item", "allowed"),
    [
        (CHAIN, purchase(), True),
        (CHAIN, purchase(chain_id="refah"), False),
        (STORE, purchase(), True),
        (STORE, purchase(store_id="tehran-02"), False),
        (PARTNER, purchase(), False),
        (ADMIN, purchase(chain_id="refah"), True),
        (PARTNER, PARTNER_PURCHASE, True),
        (PARTNER, {**PARTNER_PURCHASE, "partner_id": "digikala"}, False),
        (CHAIN, PARTNER_PURCHASE, False),
        (ADMIN, PARTNER_PURCHASE, True),
    ],
)
def test_who_may_send_what(principal: Principal, item: dict[str, Any], allowed: bool) -> None:
    parsed = parse_item(item, NOW, SKEW)
    assert not isinstance(parsed, list), parsed
    assert (forbidden_reason(principal, parsed) is None) is allowed


@pytest.mark.parametrize("kind", [["purchase"], {"a": 1}, 7, None])
def test_a_kind_that_is_not_a_string_is_refused_not_a_crash(kind: Any) -> None:
    assert rules(parse_item({**purchase(), "kind": kind}, NOW, SKEW)) == [("kind", "unknown_kind")]


PROFILE_CHANGE = {"kind": "member_profile_changed", "member_id": "m-1", "email": "m1@example.com",
                  "occurred_at": "2026-11-20T18:30:00+03:30"}  # fmt: skip


@pytest.mark.parametrize(
    ("principal", "member_chain", "allowed"),
    [(CHAIN, CHAIN.chain_id, True), (STORE, CHAIN.chain_id, True), (CHAIN, "refah", False),
     (CHAIN, None, False), (ADMIN, None, True), (PARTNER, CHAIN.chain_id, False)],
)  # fmt: skip
def test_a_chain_changes_only_the_profiles_of_members_it_enrolled(
    principal: Principal, member_chain: str | None, allowed: bool
) -> None:
    parsed = parse_item(PROFILE_CHANGE, NOW, SKEW)
    assert not isinstance(parsed, list), parsed
    assert (forbidden_reason(principal, parsed, member_chain) is None) is allowed


def _envelopes(*raws: dict[str, Any]) -> list[Any]:
    items = [parse_item(raw, NOW, SKEW) for raw in raws]
    assert all(isinstance(i, PurchaseIn | ReturnIn) for i in items), items
    return [to_envelope(i, "ingest") for i in items if isinstance(i, PurchaseIn | ReturnIn)]


def _return(return_no: str, amount: str, receipt: str = "R-1", currency: str = "EUR") -> dict[str, Any]:
    return {
        "kind": "return", "chain_id": "hyperstar", "store_id": "tehran-02", "return_no": return_no,
        "original_store_id": "tehran-07", "original_receipt_no": receipt, "member_id": "m-1",
        "currency": currency, "occurred_at": "2026-11-21T10:00:00+03:30",
        "lines": [{"sku": "milk-1l", "quantity": "1", "amount": amount}], "refund_amount": amount,
    }  # fmt: skip


def test_a_return_needs_its_sale_earlier_and_refunds_never_exceed_it() -> None:
    events = _envelopes(
        _return("T-0", "1.25"),  # ahead of its sale, even in one batch: refused
        purchase(),  # 16.07 sold
        _return("T-1", "10.00"),
        _return("T-2", "6.07"),  # exactly what is left
        _return("T-3", "0.01"),  # one cent past the sale
        _return("T-4", "1.00", receipt="R-404"),  # a receipt never sold
    )
    sale = events[1]
    refused, refunds = judge_returns(events, {})
    rules_of = {e.payload.return_no: (refused[e.event_id].field, refused[e.event_id].rule)
                for e in events if e.event_id in refused}  # fmt: skip
    assert rules_of == {
        "T-0": ("original_receipt_no", "original_receipt_unknown"),
        "T-3": ("refund_amount", "refund_exceeds_sale"),
        "T-4": ("original_receipt_no", "original_receipt_unknown"),
    }
    assert refunds == {sale.event_id: Decimal("16.07")}


def test_a_return_is_judged_against_what_was_refunded_before_and_the_sales_currency() -> None:
    (sale,) = _envelopes(purchase())
    (late,) = _envelopes(_return("T-9", "1.00"))
    recorded = {sale.event_id: Sale("EUR", Decimal("16.07"), Decimal("15.50"))}
    assert [e.rule for e in judge_returns([late], recorded)[0].values()] == ["refund_exceeds_sale"]
    # Recorded before ingest kept amounts: found, so accepted, but not capped.
    assert judge_returns([late], {sale.event_id: Sale(None, None)}) == ({}, {sale.event_id: Decimal("1.00")})
    (other,) = _envelopes(_return("T-8", "1.00", currency="USD"))
    assert [e.rule for e in judge_returns([other], recorded)[0].values()] == ["currency_mismatch"]


def enrolment(kind: str = "member_enrolled", **change: Any) -> dict[str, Any]:
    """An enrolment, or a profile change (which names no chain)."""
    item = {"kind": kind, "member_id": "m-1", "occurred_at": "2026-11-20T18:30:00+03:30"}
    return item | ({"chain_id": "hyperstar"} if kind == "member_enrolled" else {}) | change


@pytest.mark.parametrize("kind", ["member_enrolled", "member_profile_changed"])
@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"birth_date": "1990-02-29"}, ("birth_date", "impossible_date")),  # 1990 is not a leap year
        ({"birth_date": "1990-04-31"}, ("birth_date", "impossible_date")),
        ({"birth_date": "1990-13-01"}, ("birth_date", "impossible_date")),
        ({"birth_date": "0000-01-01"}, ("birth_date", "impossible_date")),
        ({"birth_date": 631152000}, ("birth_date", "date_format")),  # a timestamp is not a date
        ({"birth_date": "1990-01-01T00:00:00Z"}, ("birth_date", "date_format")),
        ({"birth_date": "01/02/1990"}, ("birth_date", "date_format")),
        ({"birth_date": "9999-12-31"}, ("birth_date", "not_in_future")),
        ({"birth_date": "1850-06-01"}, ("birth_date", "implausible_age")),
        ({"birthday": "--02-30"}, ("birthday", "impossible_date")),
        ({"birthday": "--00-10"}, ("birthday", "impossible_date")),
        ({"birthday": "12-25"}, ("birthday", "string_pattern_mismatch")),
        ({"birth_date": "1990-03-21", "birthday": "--12-25"}, ("birthday", "birthday_mismatch")),
    ],
)
def test_a_birth_date_that_cannot_be_is_refused_naming_the_field(
    kind: str, change: dict[str, Any], refused: tuple[str, str]
) -> None:
    assert rules(parse_item(enrolment(kind=kind, **change), NOW, SKEW)) == [refused]


def test_the_bus_carries_the_birthday_ingest_keeps_the_birth_date() -> None:
    item = parse_item(enrolment(birth_date="1992-02-29", email="ava@example.com"), NOW, SKEW)
    assert not isinstance(item, list)
    event, kept = without_contact(to_envelope(item, "ingest"))
    assert kept is not None and str(kept.birth_date) == "1992-02-29"
    wire = event.to_bytes().decode()
    assert '"birthday":"--02-29"' in wire
    assert "1992" not in wire and "ava@" not in wire
    # A member who gives only the day (no year) is paid all the same, and ingest keeps no date.
    only_day = parse_item(enrolment(birthday="--12-25"), NOW, SKEW)
    assert not isinstance(only_day, list)
    event, kept = without_contact(to_envelope(only_day, "ingest"))
    assert event.payload.birthday == "--12-25" and kept is None
