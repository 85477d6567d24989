"""Every money field of every intake kind against its currency's ISO 4217 minor units, on both paths
items take: the single endpoints (the kind's model, then ``checked``) and ``/v1/batch`` and ``pos.raw``
(``parse_item``). The table lists the money fields; a money field added to a contract and missing here
fails the completeness test, so it cannot go unchecked silently."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from services.ingest.domain import (
    Item,
    MemberEnrolledIn,
    MemberProfileChangedIn,
    PartnerCampaignIn,
    PartnerPurchaseIn,
    PurchaseIn,
    ReturnIn,
    VipIn,
    checked,
    parse_item,
)
from shared.contracts.envelope import utcnow
from shared.contracts.money import all_fit, amounts, fits_currency

NOW = utcnow()
SKEW = timedelta(minutes=5)
AT = "2026-11-20T18:30:00+03:30"


def _purchase(currency: str) -> dict[str, Any]:
    line = {"sku": "a", "category": "c", "quantity": "2", "unit_price": "5", "discount": "1", "amount": "9"}
    return {"kind": "purchase", "chain_id": "hyperstar", "store_id": "s1", "receipt_no": "R1",
            "member_id": "m1", "currency": currency, "occurred_at": AT, "lines": [line],
            "tenders": [{"kind": "card", "amount": "9"}], "total_amount": "9"}  # fmt: skip


def _return(currency: str) -> dict[str, Any]:
    return {"kind": "return", "chain_id": "hyperstar", "store_id": "s1", "return_no": "T1",
            "original_store_id": "s1", "original_receipt_no": "R1", "member_id": "m1",
            "currency": currency, "occurred_at": AT, "lines": [{"sku": "a", "quantity": "1", "amount": "4"}],
            "refund_amount": "4"}  # fmt: skip


def _vip(currency: str) -> dict[str, Any]:
    return {"kind": "vip_renewed", "member_id": "m1", "chain_id": "hyperstar", "order_no": "V1",
            "plan": "gold", "fee": "990", "currency": currency, "term_months": 12,
            "occurred_at": AT}  # fmt: skip


def _partner_purchase(currency: str) -> dict[str, Any]:
    return {"kind": "partner_purchase", "partner_id": "snapp", "receipt_no": "S1", "member_id": "m1",
            "currency": currency, "total_amount": "500", "occurred_at": AT}  # fmt: skip


def _enrolment(currency: str) -> dict[str, Any]:
    return {"kind": "member_enrolled", "member_id": "m1", "chain_id": "hyperstar", "occurred_at": AT}


def _profile(currency: str) -> dict[str, Any]:
    return {"kind": "member_profile_changed", "member_id": "m1", "email": "m@x.ir", "occurred_at": AT}


def _campaign(currency: str) -> dict[str, Any]:
    return {"kind": "partner_campaign", "partner_id": "snapp", "campaign_id": "C1", "name": "week",
            "starts_at": AT, "ends_at": "2099-01-01T00:00:00Z", "categories": ["c"], "multiplier": "2",
            "budget_points": 10, "occurred_at": AT}  # fmt: skip


# kind -> (a valid item in a currency, its model, every money field in it)
KINDS: dict[str, tuple[Any, type[BaseModel], tuple[str, ...]]] = {
    "purchase": (
        _purchase,
        PurchaseIn,
        ("lines.0.unit_price", "lines.0.discount", "lines.0.amount", "tenders.0.amount", "total_amount"),
    ),
    "return": (_return, ReturnIn, ("lines.0.amount", "refund_amount")),
    "vip_renewed": (_vip, VipIn, ("fee",)),
    "partner_purchase": (_partner_purchase, PartnerPurchaseIn, ("total_amount",)),
    "member_enrolled": (_enrolment, MemberEnrolledIn, ()),
    "member_profile_changed": (_profile, MemberProfileChangedIn, ()),
    "partner_campaign": (_campaign, PartnerCampaignIn, ()),
}
# One digit past each currency's minor unit (JPY has none, EUR two, KWD three).
TOO_PRECISE = {"JPY": "1.5", "EUR": "1.005", "KWD": "1.0005"}
CASES = [
    (kind, field, currency)
    for kind, (_, _, fields) in KINDS.items()
    for field in fields
    for currency in TOO_PRECISE
]


def _set(item: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(item)
    *parents, last = path.split(".")
    at: Any = changed
    for part in parents:
        at = at[int(part)] if part.isdigit() else at[part]
    at[last] = value
    return changed


def _single(raw: dict[str, Any], model: type[BaseModel]) -> Item | list[Any]:
    """The single endpoint's path: FastAPI validates the body as the model, then ``checked``."""
    item: Item = model.model_validate(raw)  # type: ignore[assignment]
    return checked(item, NOW, SKEW)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_table_lists_every_money_field_of_every_kind(kind: str) -> None:
    make, model, fields = KINDS[kind]
    valid = parse_item(make("EUR"), NOW, SKEW)
    assert not isinstance(valid, list), valid
    assert tuple(f for f, _ in amounts(valid)) == fields
    assert not isinstance(_single(make("EUR"), model), list)


@pytest.mark.parametrize(("kind", "field", "currency"), CASES)
def test_a_money_field_finer_than_its_currency_is_refused_on_every_path(
    kind: str, field: str, currency: str
) -> None:
    make, model, _ = KINDS[kind]
    raw = _set(make(currency), field, TOO_PRECISE[currency])
    for path, result in (("batch/pos.raw", parse_item(raw, NOW, SKEW)), ("single", _single(raw, model))):
        assert isinstance(result, list), (path, result)
        assert (field, "currency_precision") in [(e.field, e.rule) for e in result], (path, result)


@pytest.mark.parametrize("currency", sorted(TOO_PRECISE))
def test_amounts_at_the_currencys_precision_are_accepted(currency: str) -> None:
    exact = {"JPY": "1", "EUR": "1.01", "KWD": "1.001"}[currency]
    raw = _set(_set(_vip(currency), "fee", exact), "currency", currency)
    assert not isinstance(parse_item(raw, NOW, SKEW), list)


@pytest.mark.parametrize(("kind", "field", "currency"), CASES)
def test_all_fit_answers_as_the_amounts_one_by_one(kind: str, field: str, currency: str) -> None:
    """``all_fit`` (ingest's check without the paths) says what ``fits_currency`` over ``amounts``
    says: yes for an item at the currency's precision, no with any one field too fine."""
    make, model, _ = KINDS[kind]
    for raw, fits in ((make(currency), True), (_set(make(currency), field, TOO_PRECISE[currency]), False)):
        item = model.model_validate(raw)
        assert all(fits_currency(a, currency) for _, a in amounts(item)) is fits
        assert all_fit(item, currency) is fits
