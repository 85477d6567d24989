"""A batch's reads of the ledger stay lookups however long the ledger grows: what a return or a tier
change reads about a purchase (its earn, its earlier returns and corrections, its badges) costs the
same in a program with millions of entries as in one with a thousand. A read that once scanned the
whole ledger for every batch with a return made the points service slower by the day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.points.programs.challenges.store import badges_on
from services.points.store import MIGRATIONS
from services.points.store.earning import earned_by_purchases
from services.points.store.ledger import TIER_CORRECTION, originals
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async
from tests.support import Stack, store_settings

PURCHASES = 30_000


def _purchase(i: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"purchase-{i}")


async def _long_ledger(engine: AsyncEngine) -> None:
    """An earn per purchase; every tenth purchase partly returned, every twentieth tier-corrected."""
    ids = [str(_purchase(i)) for i in range(PURCHASES)]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ledger (member_id, kind, points, source_event_id, occurred_at, details) "
                "SELECT 'm' || (n % 2000), 'earn', 100, id::uuid, now(), "
                "jsonb_build_object('amount', '1000') "
                "FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(id, n)"
            ),
            {"ids": ids},
        )
        await conn.execute(
            text(
                "INSERT INTO ledger (member_id, kind, points, source_event_id, occurred_at, details) "
                "SELECT 'm', 'reverse', -30, gen_random_uuid(), now(), "
                "jsonb_build_object('purchase_event_id', id, 'refund_amount', '300') "
                "FROM unnest(CAST(:ids AS text[])) AS t(id)"
            ),
            {"ids": ids[::10]},
        )
        await conn.execute(
            text(
                "INSERT INTO ledger (member_id, kind, points, source_event_id, occurred_at, details) "
                "SELECT 'm', 'adjust', 50, gen_random_uuid(), now(), "
                "jsonb_build_object('purchase_event_id', id, 'reason', CAST(:reason AS text), "
                "'earned', 50, 'reversed', 0) "
                "FROM unnest(CAST(:ids AS text[])) AS t(id)"
            ),
            {"ids": ids[::20], "reason": TIER_CORRECTION},
        )
        await conn.execute(text("ANALYZE ledger"))


async def test_what_a_return_reads_about_its_purchase_is_a_lookup_on_a_long_ledger(stack: Stack) -> None:
    await stack.create("points")
    settings = store_settings(stack, "points")
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings)
    ran: list[tuple[str, Sequence[Any]]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _ran(conn: Any, cursor: Any, statement: str, parameters: Sequence[Any], *_: Any) -> None:
        if "ledger" in statement and not statement.startswith("EXPLAIN"):
            ran.append((statement, parameters))

    try:
        await _long_ledger(engine)
        ran.clear()
        asked = [_purchase(i) for i in (0, 20, 35)]
        async with engine.begin() as conn:
            found = await originals(conn, asked)
            earned = await earned_by_purchases(conn, asked)
            await badges_on(conn, asked)
            # The figures first: 0 was returned and corrected, 20 the same, 35 neither.
            assert found[_purchase(0)].reversed == 30 and found[_purchase(0)].refunded == Decimal(300)
            assert found[_purchase(0)].points == 150 and found[_purchase(35)].points == 100
            assert earned[_purchase(20)].points == 150 and earned[_purchase(35)].points == 100
            plans = {
                statement: "\n".join(
                    r[0] for r in await conn.exec_driver_sql(f"EXPLAIN {statement}", tuple(parameters))
                )
                for statement, parameters in ran
            }
    finally:
        await engine.dispose()
    assert len(plans) >= 4, plans.keys()
    scans = {statement: plan for statement, plan in plans.items() if "Seq Scan on ledger" in plan}
    assert not scans, scans
