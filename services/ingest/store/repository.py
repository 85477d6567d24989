"""Reads and writes of the ingest store, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.domain import Contact, Sale, enrolments, lookup_digest, without_contact
from services.ingest.store.tables import (
    api_keys,
    contact_index,
    idempotency,
    member_codes,
    member_contacts,
    members,
    operators,
    receipts,
)
from shared.contracts import PURCHASE_RECORDED, Envelope, PurchaseRecorded
from shared.store.bulk import one_of, rows_insert
from shared.store.core_tables import INBOX

AnyRow: TypeAlias = Row[*tuple[Any, ...]]


@dataclass(frozen=True)
class Claim:
    event_id: uuid.UUID
    kind: str
    content_sha256: bytes
    # A purchase's sale, which its returns are checked against.
    currency: str | None = None
    total_amount: Decimal | None = None

    @classmethod
    def of(cls, envelope: Envelope[Any], content_sha256: bytes) -> Claim:
        p = envelope.payload
        if isinstance(p, PurchaseRecorded):
            return cls(envelope.event_id, envelope.type, content_sha256, p.currency, p.total_amount)
        return cls(envelope.event_id, envelope.type, content_sha256)


async def claim_receipts(conn: AsyncConnection, claims: Sequence[Claim]) -> dict[uuid.UUID, bytes]:
    """Record the claims not seen before; returns, for each one already recorded, its content digest."""
    if not claims:
        return {}
    claim, values = rows_insert(
        receipts,
        [c.__dict__ for c in claims],
        finish=lambda new: new.on_conflict_do_nothing().returning(receipts.c.event_id),
    )
    inserted = await conn.execute(claim, values)
    new = set(inserted.scalars())
    seen = [c.event_id for c in claims if c.event_id not in new]
    if not seen:
        return {}
    rows = await conn.execute(
        select(receipts.c.event_id, receipts.c.content_sha256).where(one_of(receipts.c.event_id, seen))
    )
    # (Two copies of one receipt in a single batch are both "new" here: the caller tells them apart.)
    return {row.event_id: bytes(row.content_sha256) for row in rows}


async def lock_sales(conn: AsyncConnection, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Sale]:
    """The recorded purchases among ``event_ids``, locked until the transaction ends: two returns of
    one sale at once are judged one after the other, so together they cannot refund more than it."""
    if not event_ids:
        return {}
    rows = await conn.execute(
        select(receipts.c.event_id, receipts.c.currency, receipts.c.total_amount, receipts.c.refunded_amount)
        .where(one_of(receipts.c.event_id, sorted(set(event_ids))), receipts.c.kind == PURCHASE_RECORDED.name)
        .order_by(receipts.c.event_id)
        .with_for_update()
    )
    return {r.event_id: Sale(r.currency, r.total_amount, r.refunded_amount) for r in rows}


async def add_refunds(conn: AsyncConnection, refunds: dict[uuid.UUID, Decimal]) -> None:
    for event_id, amount in sorted(refunds.items()):
        await conn.execute(
            receipts.update()
            .where(receipts.c.event_id == event_id)
            .values(refunded_amount=receipts.c.refunded_amount + amount)
        )


async def release_receipts(conn: AsyncConnection, event_ids: Sequence[uuid.UUID]) -> None:
    """Forget refused submissions (and, on the raw topic, their inbox rows): sent again once they can
    be accepted (a return after its sale), they are judged afresh instead of skipped as repeats."""
    if event_ids:
        await conn.execute(receipts.delete().where(one_of(receipts.c.event_id, list(event_ids))))
        await conn.execute(INBOX.delete().where(one_of(INBOX.c.event_id, list(event_ids))))


async def lock_idempotency_key(conn: AsyncConnection, key_id: uuid.UUID, idem_key: str) -> AnyRow | None:
    """Serialise requests with one Idempotency-Key; returns the answer already given, if any."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{key_id}/{idem_key}", 0))))
    result = await conn.execute(
        select(idempotency.c.request_sha256, idempotency.c.status, idempotency.c.body).where(
            idempotency.c.key_id == key_id, idempotency.c.idempotency_key == idem_key
        )
    )
    return result.first()


async def remember_answer(
    conn: AsyncConnection, key_id: uuid.UUID, idem_key: str, request_sha256: bytes, status: int, body: Any
) -> None:
    await conn.execute(
        idempotency.insert().values(
            key_id=key_id,
            idempotency_key=idem_key,
            request_sha256=request_sha256,
            status=status,
            body=body,
        )
    )


async def find_key(conn: AsyncConnection, prefix: str) -> AnyRow | None:
    result = await conn.execute(select(api_keys).where(api_keys.c.prefix == prefix))
    return result.first()


async def add_key(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(api_keys.insert().values(**values))


async def revoke_key(conn: AsyncConnection, prefix: str) -> bool:
    result = await conn.execute(
        api_keys.update()
        .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(result.rowcount)


async def all_keys(conn: AsyncConnection) -> list[AnyRow]:
    result = await conn.execute(
        select(
            api_keys.c.prefix,
            api_keys.c.kind,
            api_keys.c.chain_id,
            api_keys.c.store_id,
            api_keys.c.partner_id,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.scopes,
            api_keys.c.expires_at,
        ).order_by(api_keys.c.created_at)
    )
    return [row for row in result]


async def find_operator(conn: AsyncConnection, name: str) -> AnyRow | None:
    return (await conn.execute(select(operators).where(operators.c.name == name))).first()


async def add_operator(conn: AsyncConnection, name: str, password_argon2: str, roles: Sequence[str]) -> bool:
    """False when the name is taken."""
    result = await conn.execute(
        insert(operators)
        .values(name=name, password_argon2=password_argon2, roles=list(roles))
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)


async def update_operator(conn: AsyncConnection, name: str, **values: Any) -> bool:
    result = await conn.execute(operators.update().where(operators.c.name == name).values(**values))
    return bool(result.rowcount)


async def all_operators(conn: AsyncConnection) -> list[AnyRow]:
    query = select(operators.c.name, operators.c.roles, operators.c.created_at, operators.c.disabled_at)
    return list(await conn.execute(query.order_by(operators.c.name)))


async def record_members(conn: AsyncConnection, enrolled: Sequence[tuple[str, str]]) -> None:
    """(member, chain) of accepted enrolments; a member keeps the chain that enrolled them first."""
    if enrolled:
        rows = [{"member_id": m, "chain_id": c} for m, c in dict(reversed(enrolled)).items()]
        kept, values = rows_insert(members, rows, finish=lambda new: new.on_conflict_do_nothing())
        await conn.execute(kept, values)


async def member_chains(conn: AsyncConnection, member_ids: Sequence[str]) -> dict[str, str]:
    if not member_ids:
        return {}
    rows = await conn.execute(select(members).where(one_of(members.c.member_id, sorted(set(member_ids)))))
    return {r.member_id: r.chain_id for r in rows}


async def keep_contacts(conn: AsyncConnection, contacts: Sequence[Contact], lookup_key: bytes) -> None:
    """Each member's contact and birth date as last given (a field not given keeps its value), and the
    lookup index of the contact values given: set-based, so a batch of enrolments costs a few
    statements, not three each."""
    latest: dict[tuple[str, str], str] = {}  # (member, field) -> value, the last given in the batch
    born: dict[str, date] = {}
    for contact in contacts:
        for field in contact.given():
            latest[(contact.member_id, field)] = getattr(contact, field)
        if contact.birth_date is not None:
            born[contact.member_id] = contact.birth_date
    if not latest and not born:
        return
    rows = {
        member_id: {"member_id": member_id, "email": None, "phone": None, "card_no": None,
                    "birth_date": born.get(member_id)}
        for member_id in sorted({m for m, _ in latest} | set(born))
    }  # fmt: skip
    for (member_id, given), value in latest.items():
        rows[member_id][given] = value
    upsert, values = rows_insert(member_contacts, list(rows.values()))
    fields = ("email", "phone", "card_no", "birth_date")
    kept = {f: func.coalesce(upsert.excluded[f], member_contacts.c[f]) for f in fields}
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[member_contacts.c.member_id], set_={**kept, "updated_at": func.now()}
        ),
        values,
    )
    if not latest:
        return
    await conn.execute(
        contact_index.delete().where(
            tuple_(contact_index.c.member_id, contact_index.c.field).in_(list(latest))
        )
    )
    index = [
        {"field": field, "digest": lookup_digest(lookup_key, field, value), "member_id": member_id}
        for (member_id, field), value in latest.items()
    ]
    indexed, values = rows_insert(contact_index, index, finish=lambda new: new.on_conflict_do_nothing())
    await conn.execute(indexed, values)


async def birth_date_of(conn: AsyncConnection, member_id: str) -> date | None:
    """Not among ``contacts_of``: no one reaching the member (notify, support's lookup) needs it."""
    born: date | None = await conn.scalar(
        select(member_contacts.c.birth_date).where(member_contacts.c.member_id == member_id)
    )
    return born


async def contacts_of(conn: AsyncConnection, member_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(
        select(
            member_contacts.c.member_id,
            member_contacts.c.email,
            member_contacts.c.phone,
            member_contacts.c.card_no,
        ).where(one_of(member_contacts.c.member_id, sorted(set(member_ids))))
    )
    return {r.member_id: {"email": r.email, "phone": r.phone, "card_no": r.card_no} for r in rows}


async def members_by_contact(conn: AsyncConnection, field: str, digest: bytes) -> list[str]:
    rows = await conn.execute(
        select(contact_index.c.member_id)
        .where(contact_index.c.field == field, contact_index.c.digest == digest)
        .order_by(contact_index.c.member_id)
    )
    return [r.member_id for r in rows]


async def forget_contact(conn: AsyncConnection, member_id: str) -> bool:
    """Deletes the member's contact and its index entries; False when there was none."""
    await conn.execute(contact_index.delete().where(contact_index.c.member_id == member_id))
    result = await conn.execute(member_contacts.delete().where(member_contacts.c.member_id == member_id))
    return bool(result.rowcount)


async def keep_members(
    conn: AsyncConnection, fresh: Sequence[Envelope[Any]], lookup_key: bytes
) -> list[Envelope[Any]]:
    """Records who enrolled whom and keeps the contact data the accepted events carry; returns the
    events as they go on the bus: without it (both ways in, HTTP and pos.raw, come through here)."""
    await record_members(conn, enrolments(fresh))
    bare, contacts = [], []
    for event in fresh:
        out, contact = without_contact(event)
        bare.append(out)
        if contact is not None:
            contacts.append(contact)
    await keep_contacts(conn, contacts, lookup_key)
    return bare


async def add_member_code(
    conn: AsyncConnection, member_id: str, code_digest: bytes, expires_at: datetime
) -> uuid.UUID:
    code_id = uuid.uuid4()
    await conn.execute(
        member_codes.insert().values(
            id=code_id, member_id=member_id, code_digest=code_digest, expires_at=expires_at
        )
    )
    return code_id


async def live_code(conn: AsyncConnection, member_id: str, now: datetime) -> AnyRow | None:
    """The member's latest code still unused and unexpired, locked for the check."""
    return (
        await conn.execute(
            select(member_codes)
            .where(
                member_codes.c.member_id == member_id,
                member_codes.c.used_at.is_(None),
                member_codes.c.expires_at > now,
            )
            .order_by(member_codes.c.expires_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()


async def code_tried(conn: AsyncConnection, code_id: uuid.UUID, used_at: datetime | None) -> None:
    await conn.execute(
        member_codes.update()
        .where(member_codes.c.id == code_id)
        .values(attempts=member_codes.c.attempts + 1, used_at=used_at)
    )
