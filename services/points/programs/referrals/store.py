"""The referral tables (codes, referrals, the program's terms) and the friends' purchases in the ledger."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Index, String, Table, Uuid, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.programs.referrals.domain import Purchase, ReferralProgram, new_code
from services.points.store.tables import ledger, metadata
from shared.store.bulk import one_of

referral_codes = Table(
    "referral_codes",
    metadata,
    Column("member_id", String, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
)

referrals = Table(
    "referrals",
    metadata,
    # Each loyalty program with referral terms rewards on its own: the same referral, one row in each.
    Column("program_id", String(64), primary_key=True, server_default="main"),
    Column("friend_id", String, primary_key=True),  # a member is referred once, by the first code
    Column("referrer_id", String, nullable=True),  # null when the code was unknown
    Column("code", String(64), nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending | rewarded | refused | lapsed
    Column("reason", String, nullable=False, server_default=""),
    Column("purchase_event_id", Uuid, nullable=True),
    Column("rewarded_at", DateTime(timezone=True), nullable=True),
    Index("ix_referrals_referrer", "referrer_id"),
    Index("ix_referrals_pending", "status", "enrolled_at"),
)

referral_program = Table(
    "referral_program",
    metadata,
    Column("program", String(64), primary_key=True),  # the loyalty program whose terms these are
    Column("config", JSONB, nullable=False),
)


async def program_terms(conn: AsyncConnection, program_id: str = MAIN) -> ReferralProgram | None:
    config = await conn.scalar(
        select(referral_program.c.config).where(referral_program.c.program == program_id)
    )
    return None if config is None else ReferralProgram.model_validate(config)


async def terms_by_program(conn: AsyncConnection) -> list[tuple[str, ReferralProgram]]:
    rows = await conn.execute(select(referral_program).order_by(referral_program.c.program))
    return [(r.program, ReferralProgram.model_validate(r.config)) for r in rows]


async def put_program_terms(conn: AsyncConnection, program: ReferralProgram, program_id: str = MAIN) -> None:
    upsert = insert(referral_program).values(program=program_id, config=program.model_dump(mode="json"))
    await conn.execute(
        upsert.on_conflict_do_update(index_elements=["program"], set_={"config": upsert.excluded.config})
    )


async def code_of(conn: AsyncConnection, member_id: str) -> str | None:
    code: str | None = await conn.scalar(
        select(referral_codes.c.code).where(referral_codes.c.member_id == member_id)
    )
    return code


async def issue_code(conn: AsyncConnection, member_id: str) -> str:
    """The member's code, made on first asking; asking again gives the same one."""
    while (code := await code_of(conn, member_id)) is None:
        await conn.execute(
            insert(referral_codes).values(member_id=member_id, code=new_code()).on_conflict_do_nothing()
        )  # a clash with another member's code (1 in 10^12) or a concurrent call: look again
    return code


async def code_owners(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, str]:
    rows = await conn.execute(
        select(referral_codes.c.code, referral_codes.c.member_id).where(
            one_of(referral_codes.c.code, set(codes))
        )
    )
    return {r.code: r.member_id for r in rows}


async def referrers_above(conn: AsyncConnection, member_id: str) -> list[str]:
    """Who referred this member, who referred them, and so on (UNION stops on a cycle)."""
    rows = await conn.execute(
        text(
            "WITH RECURSIVE up(member_id) AS ("
            " SELECT referrer_id FROM referrals WHERE friend_id = :m AND status <> 'refused'"
            " AND program_id = 'main'"  # who referred whom is the same in every program: main holds it
            " UNION SELECT r.referrer_id FROM referrals r JOIN up ON r.friend_id = up.member_id"
            " WHERE r.status <> 'refused' AND r.program_id = 'main')"
            " SELECT member_id FROM up WHERE member_id IS NOT NULL"
        ),
        {"m": member_id},
    )
    return [r.member_id for r in rows]


async def record(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """A friend is referred once: the first enrolment with a code counts."""
    if rows:
        await conn.execute(
            insert(referrals).on_conflict_do_nothing(index_elements=["program_id", "friend_id"]), rows
        )


async def pending(conn: AsyncConnection, after: str, limit: int, program_id: str = MAIN) -> list[Any]:
    """A page of a program's pending referrals, by friend, after ``after`` (keyset: the job walks them)."""
    rows = await conn.execute(
        select(referrals)
        .where(
            referrals.c.program_id == program_id,
            referrals.c.status == "pending",
            referrals.c.friend_id > after,
        )
        .order_by(referrals.c.friend_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def purchases_of(
    conn: AsyncConnection, members: Iterable[str], program_id: str = MAIN
) -> dict[str, list[Purchase]]:
    """Each member's purchases earning in the program (not at partners) as its ledger recorded them, less
    refunds."""
    wanted = sorted(set(members))
    earns = await conn.execute(
        select(ledger.c.member_id, ledger.c.source_event_id, ledger.c.occurred_at, ledger.c.details).where(
            one_of(ledger.c.member_id, wanted),
            ledger.c.kind == "earn",
            ledger.c.program_id == program_id,
            ~ledger.c.details.has_key("partner_id"),
        )
    )
    refunds: dict[str, Decimal] = defaultdict(Decimal)
    reverses = await conn.execute(
        select(ledger.c.details).where(
            one_of(ledger.c.member_id, wanted), ledger.c.kind == "reverse", ledger.c.program_id == program_id
        )
    )
    for (details,) in reverses:
        refunds[details["purchase_event_id"]] += Decimal(details["refund_amount"])
    found: dict[str, list[Purchase]] = defaultdict(list)
    for member, event_id, at, details in earns:
        found[member].append(
            Purchase(event_id, at, details["currency"], Decimal(details["amount"]), refunds[str(event_id)])
        )
    return found


async def mark_rewarded(
    conn: AsyncConnection, friend_id: str, purchase_event_id: uuid.UUID, at: datetime, program_id: str = MAIN
) -> None:
    await conn.execute(
        referrals.update()
        .where(referrals.c.program_id == program_id, referrals.c.friend_id == friend_id)
        .values(status="rewarded", purchase_event_id=purchase_event_id, rewarded_at=at)
    )


async def mark_lapsed(
    conn: AsyncConnection, friend_ids: list[str], reason: str, program_id: str = MAIN
) -> None:
    if friend_ids:
        await conn.execute(
            referrals.update()
            .where(referrals.c.program_id == program_id, one_of(referrals.c.friend_id, friend_ids))
            .values(status="lapsed", reason=reason)
        )


def _json(row: Any) -> dict[str, Any]:
    return {
        "friend_id": row.friend_id,
        "referrer_id": row.referrer_id,
        "code": row.code,
        "enrolled_at": row.enrolled_at,
        "status": row.status,
        "reason": row.reason,
        "purchase_event_id": row.purchase_event_id,
        "rewarded_at": row.rewarded_at,
    }


async def of_member(conn: AsyncConnection, member_id: str, program_id: str = MAIN) -> dict[str, Any]:
    """A member's code, the friends they referred, and who referred them (where each stands in the
    program)."""
    mine = referrals.c.program_id == program_id
    made = await conn.execute(
        select(referrals)
        .where(mine, referrals.c.referrer_id == member_id)
        .order_by(referrals.c.enrolled_at, referrals.c.friend_id)
    )
    by = (await conn.execute(select(referrals).where(mine, referrals.c.friend_id == member_id))).first()
    return {
        "member_id": member_id,
        "code": await code_of(conn, member_id),
        "referred": [_json(r) for r in made],
        "referred_by": _json(by) if by else None,
    }
