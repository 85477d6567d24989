"""A member's personal data, which ingest alone holds: found by a keyed hash, read by support staff
and by notify when it sends, exported on request, and erased (every service is told to forget)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.domain import lookup_digest
from services.ingest.settings import IngestSettings
from services.ingest.store import repository
from shared.audit import record
from shared.contracts import MEMBER_ERASED, MemberErased
from shared.identity import Principal
from shared.outbox import append, emitted


async def find(conn: AsyncConnection, settings: IngestSettings, field: str, value: str) -> list[str]:
    return await repository.members_by_contact(conn, field, lookup_digest(settings.lookup_key, field, value))


async def export(conn: AsyncConnection, member_id: str) -> dict[str, Any] | None:
    """What ingest holds of the member (the other services answer for theirs); None: nothing."""
    chain = (await repository.member_chains(conn, [member_id])).get(member_id)
    contact = (await repository.contacts_of(conn, [member_id])).get(member_id)
    if chain is None and contact is None:
        return None
    born = await repository.birth_date_of(conn, member_id)
    return {"member_id": member_id, "enrolled_by_chain": chain, "contact": contact or {}, "birth_date": born}


async def erase(conn: AsyncConnection, settings: IngestSettings, actor: Principal, member_id: str) -> bool:
    """Deletes the member's contact data here and tells every service to forget theirs (through the
    outbox, in this transaction); False when ingest held none (the erasure is announced anyway: an
    earlier one may have been lost before the others heard of it)."""
    had = await repository.forget_contact(conn, member_id)
    await append(conn, [emitted(settings, MEMBER_ERASED, member_id, MemberErased(member_id=member_id))])
    # The audit names the member, not what was erased: the log must not keep what was forgotten.
    await record(conn, actor, "member.erase", f"member:{member_id}", after={"contact_held": had})
    return had
