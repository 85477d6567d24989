"""What ingest accepts, and why it refuses: pure rules, no I/O.

Each kind of submission (purchase, return, enrolment, ...) is an input model, the contract it
becomes, a natural key that makes a retried submission the same event, the member key it is
partitioned by, its consistency checks, and who may send it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from shared.contracts import (
    MEMBER_ENROLLED,
    MEMBER_PROFILE_CHANGED,
    PARTNER_CAMPAIGN_ANNOUNCED,
    PARTNER_PURCHASE_RECORDED,
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    VIP_CANCELLED,
    VIP_PURCHASED,
    VIP_RENEWED,
    Contract,
    Envelope,
    MemberEnrolled,
    MemberProfileChanged,
    PartnerCampaignAnnounced,
    PartnerPurchaseRecorded,
    PurchaseRecorded,
    ReturnRecorded,
    VipMembership,
)
from shared.contracts.common import TEXT_CHECKED, PrintableText
from shared.contracts.members import month_day
from shared.contracts.money import all_fit, amounts, fits_currency, minor_unit
from shared.contracts.purchases import ReturnBase
from shared.identity import Principal
from shared.problems import FieldError, errors_of

# Same (kind, natural key) -> same event_id, whichever way it came in and however often.
_EVENT_NAMESPACE = uuid.UUID("0d5f3c39-7f5e-4a1b-8b3c-2f5a9e6d4c10")


# -- input models: the contract's payload plus what only the sender knows -----------------------


def _calendar_date(value: Any) -> Any:
    """A date as YYYY-MM-DD that is on the calendar (no 2023-02-29), never a number or a timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise PydanticCustomError("date_format", "a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "impossible_date", "{value} is not on the calendar", {"value": value}
        ) from None


BirthDate = Annotated[date, BeforeValidator(_calendar_date)]
# Older than this is a typo (1889 for 1989), not a member.
MAX_AGE_YEARS = 130


class _Born(BaseModel):
    """The member's birth date: kept by ingest with the contact data, exported and erased with it; the
    bus carries only its month and day (``birthday``), which is all the birthday bonus needs."""

    birth_date: BirthDate | None = None


class PurchaseIn(PurchaseRecorded, PrintableText):
    kind: Literal["purchase"] = "purchase"
    occurred_at: AwareDatetime


class ReturnIn(ReturnBase, PrintableText):
    kind: Literal["return"] = "return"
    occurred_at: AwareDatetime


class MemberEnrolledIn(MemberEnrolled, _Born, PrintableText):
    kind: Literal["member_enrolled"] = "member_enrolled"
    occurred_at: AwareDatetime


class MemberProfileChangedIn(MemberProfileChanged, _Born, PrintableText):
    kind: Literal["member_profile_changed"] = "member_profile_changed"
    occurred_at: AwareDatetime


class VipIn(VipMembership, PrintableText):
    kind: Literal["vip_purchased", "vip_renewed", "vip_cancelled"]
    occurred_at: AwareDatetime


class PartnerPurchaseIn(PartnerPurchaseRecorded, PrintableText):
    kind: Literal["partner_purchase"] = "partner_purchase"
    occurred_at: AwareDatetime


class PartnerCampaignIn(PartnerCampaignAnnounced, PrintableText):
    kind: Literal["partner_campaign"] = "partner_campaign"
    occurred_at: AwareDatetime


Item = (
    PurchaseIn
    | ReturnIn
    | MemberEnrolledIn
    | MemberProfileChangedIn
    | VipIn
    | PartnerPurchaseIn
    | PartnerCampaignIn
)


# -- who is sending ------------------------------------------------------------------------------


def forbidden_reason(principal: Principal, item: Item, member_chain: str | None = None) -> str | None:
    """None when ``principal`` may send ``item``; else why not. ``member_chain``: for a profile change,
    the chain that enrolled the member (None when no chain did)."""
    fields = {name: getattr(item, name, None) for name in ("chain_id", "store_id", "partner_id")}
    if (reason := forbidden_fields(principal, item.kind, fields)) is not None:
        return reason
    if isinstance(item, MemberProfileChangedIn):
        return foreign_member(principal, item.member_id, member_chain)
    return None


def foreign_member(principal: Principal, member_id: str, member_chain: str | None) -> str | None:
    """A chain's key changes only the profiles of the members it enrolled (``member_chain``: the chain
    that enrolled ``member_id``; a profile carries no chain, so the enrolment says whose member)."""
    if principal.party == "chain" and member_chain != principal.chain_id:
        return f"member {member_id!r} was not enrolled by chain {principal.chain_id!r}"
    return None


_PARTNER_KINDS = ("partner_purchase", "partner_campaign")


@dataclass(frozen=True)
class Forbidden:
    """A submission refused for who sent it, before it was validated."""

    reason: str


# What each submission became at the door: a valid item, why it is invalid, or why it is not theirs.
Entry = Item | list[FieldError] | Forbidden


def forbidden_fields(principal: Principal, kind: str, fields: Mapping[str, Any]) -> str | None:
    """The policy on the scope a submission names (kind, chain, store, partner), valid or not yet
    validated: a key is refused for another chain's submission before that submission is judged."""
    if principal.party in (None, "admin"):
        return None  # an unscoped key, or an operator allowed to send events

    def named(field: str) -> str | None:
        value = fields.get(field)
        return value if isinstance(value, str) else None

    if kind in _PARTNER_KINDS:
        if principal.party != "partner":
            return "only a partner brand's key may send co-branding events"
        if named("partner_id") not in (None, principal.partner_id):
            return f"this key belongs to partner {principal.partner_id!r}, not {named('partner_id')!r}"
        return None
    if principal.party != "chain":
        return "a partner key may only send its own co-branding events"
    chain = named("chain_id") or principal.chain_id
    if chain != principal.chain_id:
        return f"this key belongs to chain {principal.chain_id!r}, not {chain!r}"
    store = named("store_id")
    if principal.store_id is not None and store not in (None, principal.store_id):
        return f"this key belongs to store {principal.store_id!r}, not {store!r}"
    return None


@dataclass(frozen=True)
class Contact:
    """The contact fields one enrolment or profile change gave (None: not given)."""

    member_id: str
    email: str | None
    phone: str | None
    card_no: str | None = None
    birth_date: date | None = None  # kept with the contact, though not a way to reach the member

    def given(self) -> list[Literal["email", "phone", "card_no"]]:
        return [f for f in ("email", "phone", "card_no") if getattr(self, f) is not None]


class _HeldEnrolment(MemberEnrolled, _Born):
    """An enrolment as ingest holds it until ``without_contact``: with the birth date, which a
    ``MemberEnrolled`` envelope never serialises (pydantic writes the declared model's fields)."""


class _HeldProfileChange(MemberProfileChanged, _Born):
    """A profile change as ingest holds it until ``without_contact``."""


_HELD: dict[str, type[BaseModel]] = {
    "member_enrolled": _HeldEnrolment,
    "member_profile_changed": _HeldProfileChange,
}


def without_contact(event: Envelope[Any]) -> tuple[Envelope[Any], Contact | None]:
    """The event as it goes on the bus (contact values and the birth date out, the contact fields it
    gave named in ``contact``), and the personal data it carried, which ingest keeps."""
    payload = event.payload
    if not isinstance(payload, MemberEnrolled | MemberProfileChanged):
        return event, None
    born = getattr(payload, "birth_date", None)
    contact = Contact(payload.member_id, payload.email, payload.phone, payload.card_no, born)
    contract = MemberEnrolled if isinstance(payload, MemberEnrolled) else MemberProfileChanged
    fields = {name: getattr(payload, name) for name in contract.model_fields}
    bare = contract.model_construct(
        **fields | {"email": None, "phone": None, "card_no": None, "contact": contact.given()}
    )
    kept = contact if contact.given() or born is not None else None
    return event.model_copy(update={"payload": bare}), kept


def lookup_digest(key: bytes, field: str, value: str) -> bytes:
    """The keyed hash a contact value is found by (emails compared without case)."""
    normal = value.strip().lower() if field == "email" else value.strip()
    return hmac.new(key, f"{field}:{normal}".encode(), hashlib.sha256).digest()


def enrolments(events: Sequence[Envelope[Any]]) -> list[tuple[str, str]]:
    """(member, chain) of the enrolments among accepted events."""
    return [
        (e.payload.member_id, e.payload.chain_id) for e in events if isinstance(e.payload, MemberEnrolled)
    ]


# -- consistency ---------------------------------------------------------------------------------


def _precision(item: Item) -> list[FieldError]:
    """Every money field of every kind against its currency's ISO 4217 minor units."""
    currency = getattr(item, "currency", None)
    if currency is None or all_fit(item, currency):
        return []
    return [
        FieldError(field, "currency_precision", f"{amount} has more decimals than {currency} allows")
        for field, amount in amounts(item)
        if not fits_currency(amount, currency)
    ]


def _purchase_checks(p: PurchaseIn) -> list[FieldError]:
    errors: list[FieldError] = []
    if not p.lines:
        errors.append(FieldError("lines", "lines_required", "a purchase needs at least one line item"))
    half_unit = minor_unit(p.currency) / 2
    for i, line in enumerate(p.lines):
        gross = line.quantity * line.unit_price
        if line.discount > gross:
            errors.append(
                FieldError(f"lines.{i}.discount", "discount_exceeds_price", f"{line.discount} > {gross}")
            )
        elif abs(gross - line.discount - line.amount) > half_unit:
            errors.append(
                FieldError(
                    f"lines.{i}.amount",
                    "line_amount_mismatch",
                    f"{line.quantity} x {line.unit_price} - {line.discount} is not {line.amount}",
                )
            )
    lines_total = sum((line.amount for line in p.lines), Decimal(0))
    if p.lines and lines_total != p.total_amount:
        errors.append(
            FieldError(
                "total_amount",
                "receipt_total_mismatch",
                f"total_amount {p.total_amount} is not the sum of the line amounts {lines_total}",
            )
        )
    tendered = sum((t.amount for t in p.tenders), Decimal(0))
    if p.tenders and tendered != p.total_amount:
        errors.append(
            FieldError(
                "tenders", "tender_total_mismatch", f"tenders add up to {tendered}, not {p.total_amount}"
            )
        )
    return errors


def _return_checks(r: ReturnIn) -> list[FieldError]:
    errors: list[FieldError] = []
    if not r.full and not r.lines:
        errors.append(FieldError("lines", "lines_required", "a partial return names the lines returned"))
    refunded = sum((line.amount for line in r.lines), Decimal(0))
    if r.lines and refunded != r.refund_amount:
        errors.append(
            FieldError(
                "refund_amount",
                "refund_total_mismatch",
                f"refund_amount {r.refund_amount} is not the sum of the returned lines {refunded}",
            )
        )
    return errors


def _campaign_checks(c: PartnerCampaignIn) -> list[FieldError]:
    errors = []
    if c.ends_at <= c.starts_at:
        errors.append(FieldError("ends_at", "window_empty", "ends_at must be after starts_at"))
    if not c.skus and not c.categories:
        errors.append(FieldError("skus", "target_required", "name the SKUs or categories the bonus is on"))
    return errors


def _birth_checks(item: MemberEnrolledIn | MemberProfileChangedIn, now: datetime) -> list[FieldError]:
    born = item.birth_date
    if born is None:
        return []
    errors = []
    # Today somewhere: the earliest time zone is UTC+14.
    if born > (now + timedelta(hours=14)).date():
        errors.append(FieldError("birth_date", "not_in_future", f"{born} has not come yet"))
    elif born.year < now.year - MAX_AGE_YEARS:
        errors.append(
            FieldError("birth_date", "implausible_age", f"born {born}: older than {MAX_AGE_YEARS} years")
        )
    if item.birthday is not None and item.birthday != month_day(born):
        errors.append(
            FieldError("birthday", "birthday_mismatch", f"{item.birthday} is not the day of {born}")
        )
    return errors


def consistency_errors(item: Item, now: datetime, max_skew: timedelta) -> list[FieldError]:
    errors: list[FieldError] = []
    if item.occurred_at > now + max_skew:
        errors.append(
            FieldError("occurred_at", "not_in_future", "occurred_at is later than now plus the allowed skew")
        )
    errors += _precision(item)
    if isinstance(item, PurchaseIn):
        errors += _purchase_checks(item)
    elif isinstance(item, ReturnIn):
        errors += _return_checks(item)
    elif isinstance(item, PartnerCampaignIn):
        errors += _campaign_checks(item)
    elif isinstance(item, MemberEnrolledIn | MemberProfileChangedIn):
        errors += _birth_checks(item, now)
    return errors


# -- returns against what was sold ----------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """A recorded purchase as its returns see it; ``total`` None: recorded before ingest kept it."""

    currency: str | None
    total: Decimal | None
    refunded: Decimal = Decimal(0)


def return_refusal(r: ReturnRecorded, sale: Sale | None) -> FieldError | None:
    """Why a return cannot be applied to its sale, or None. A return of a receipt never recorded would
    take value from a member (tiers, analytics) that no purchase gave them."""
    if sale is None:
        return FieldError(
            "original_receipt_no",
            "original_receipt_unknown",
            f"no purchase {r.original_receipt_no!r} at store {r.original_store_id!r} of chain "
            f"{r.chain_id!r} is recorded: a return must follow its sale",
        )
    if sale.currency is not None and sale.currency != r.currency:
        return FieldError(
            "currency", "currency_mismatch", f"the sale was in {sale.currency}, not {r.currency}"
        )
    if sale.total is not None and sale.refunded + r.refund_amount > sale.total:
        return FieldError(
            "refund_amount",
            "refund_exceeds_sale",
            f"{r.refund_amount} with the {sale.refunded} refunded before exceeds the {sale.total} sold",
        )
    return None


def judge_returns(
    events: Sequence[Envelope[Any]], recorded: Mapping[uuid.UUID, Sale]
) -> tuple[dict[uuid.UUID, FieldError], dict[uuid.UUID, Decimal]]:
    """New events in the order they came: each return against the sales ``recorded`` before them and
    the purchases earlier among ``events`` (a return ahead of its sale, even in one batch, is refused).
    Returns the refused returns with why, and what the others refund of each sale."""
    known = dict(recorded)
    refused: dict[uuid.UUID, FieldError] = {}
    refunds: dict[uuid.UUID, Decimal] = {}
    for event in events:
        p = event.payload
        if isinstance(p, PurchaseRecorded):
            known[event.event_id] = Sale(p.currency, p.total_amount)
        elif isinstance(p, ReturnRecorded):
            sale = known.get(p.original_event_id)
            if (error := return_refusal(p, sale)) is not None:
                refused[event.event_id] = error
                continue
            assert sale is not None  # return_refusal refuses a return without its sale
            known[p.original_event_id] = replace(sale, refunded=sale.refunded + p.refund_amount)
            refunds[p.original_event_id] = refunds.get(p.original_event_id, Decimal(0)) + p.refund_amount
    return refused, refunds


# -- from an accepted item to its event ----------------------------------------------------------


def purchase_event_id(chain_id: str, store_id: str, receipt_no: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_NAMESPACE, f"purchase/{chain_id}/{store_id}/{receipt_no}")


def natural_key(item: Item) -> str | None:
    """What makes two submissions the same one; None where only an Idempotency-Key can say."""
    match item:
        case PurchaseIn():
            return f"purchase/{item.chain_id}/{item.store_id}/{item.receipt_no}"
        case ReturnIn():
            return f"return/{item.chain_id}/{item.store_id}/{item.return_no}"
        case MemberEnrolledIn():
            return f"member_enrolled/{item.member_id}"
        case VipIn():
            return f"{item.kind}/{item.chain_id}/{item.order_no}"
        case PartnerPurchaseIn():
            return f"partner_purchase/{item.partner_id}/{item.receipt_no}"
        case PartnerCampaignIn():
            return f"partner_campaign/{item.partner_id}/{item.campaign_id}"
    return None


_CONTRACTS: dict[str, Contract[Any]] = {
    "purchase": PURCHASE_RECORDED,
    "return": RETURN_RECORDED,
    "member_enrolled": MEMBER_ENROLLED,
    "member_profile_changed": MEMBER_PROFILE_CHANGED,
    "vip_purchased": VIP_PURCHASED,
    "vip_renewed": VIP_RENEWED,
    "vip_cancelled": VIP_CANCELLED,
    "partner_purchase": PARTNER_PURCHASE_RECORDED,
    "partner_campaign": PARTNER_CAMPAIGN_ANNOUNCED,
}


KINDS: tuple[str, ...] = tuple(_CONTRACTS)


def contract_of(item: Item) -> Contract[Any]:
    return _CONTRACTS[item.kind]


def contract_of_kind(kind: str) -> Contract[Any]:
    return _CONTRACTS[kind]


def content_digest(envelope: Envelope[Any]) -> bytes:
    """What was submitted, as a digest: the same receipt number with other content is a conflict."""
    content = {"type": envelope.type, "occurred_at": envelope.occurred_at, "payload": envelope.payload}
    return hashlib.sha256(orjson.dumps(content, default=_jsonable, option=orjson.OPT_SORT_KEYS)).digest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value))


def to_envelope(item: Item, producer: str, event_id: uuid.UUID | None = None) -> Envelope[Any]:
    contract = contract_of(item)
    payload = _HELD.get(item.kind, contract.payload)
    # The item was validated as it came in, field by field as the contract has them: build the
    # payload from those values without validating them a second time.
    fields = {name: getattr(item, name) for name in payload.model_fields if hasattr(item, name)}
    if born := getattr(item, "birth_date", None):
        fields["birthday"] = month_day(born)
    if isinstance(item, ReturnIn):
        fields["original_event_id"] = purchase_event_id(
            item.chain_id, item.original_store_id, item.original_receipt_no
        )
    key = str(getattr(item, "member_id", None) or getattr(item, "partner_id", ""))
    nat = natural_key(item)
    return contract.envelope(
        event_id=event_id or (uuid.uuid5(_EVENT_NAMESPACE, nat) if nat else uuid.uuid4()),
        key=key,
        producer=producer,
        occurred_at=item.occurred_at,
        payload=payload.model_construct(**fields),
    )


# -- one validation for both ways in -------------------------------------------------------------

ITEM: TypeAdapter[Item] = TypeAdapter(Annotated[Item, Field(discriminator="kind")])
MAX_BATCH = 5000


def parse_item(
    raw: Any, now: datetime, max_skew: timedelta, *, text_checked: bool = False
) -> Item | list[FieldError]:
    """A submitted JSON object -> a valid item, or every reason it is not one. ``text_checked``: its
    JSON bytes were scanned for control characters already (``control_character_in_json``)."""
    if not isinstance(raw, dict):
        return [FieldError("", "not_an_object", "each item must be a JSON object")]
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _CONTRACTS:
        return [FieldError("kind", "unknown_kind", f"kind must be one of {', '.join(_CONTRACTS)}")]
    try:
        item = ITEM.validate_python(raw, context={TEXT_CHECKED: text_checked})
    except ValidationError as error:
        return errors_of(error, skip=(str(raw["kind"]),))
    return checked(item, now, max_skew)


def checked(item: Item, now: datetime, max_skew: timedelta) -> Item | list[FieldError]:
    return consistency_errors(item, now, max_skew) or item
