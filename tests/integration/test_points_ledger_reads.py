"""A batch's reads stay lookups however long the store grows: what a return or a tier change reads
about a purchase (its earn, its earlier returns and corrections, its badges) costs the same in a
program with millions of entries as in one with a thousand, and the partner campaigns a batch reads
are those its purchases fall in, not every one ever announced. A read that once scanned the whole
ledger for every batch with a return made the points service slower by the day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.points.handlers import consumes, ledger_handler
from services.points.programs import PROGRAMS
from services.points.programs.challenges.store import badges_on
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from services.points.store.earning import (
    earned_by_purchases,
    fund_campaigns,
    live_campaigns,
    partner_settlement,
    upsert_campaign,
)
from services.points.store.ledger import TIER_CORRECTION, originals
from shared.consumer import ContractDecoder, ReliableConsumer
from shared.contracts import PARTNER_CAMPAIGN_ANNOUNCED, LineItem, PartnerCampaignAnnounced
from shared.metrics import CoreMetrics
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async
from shared.topics import Topic
from tests.integration.test_high_water import Published
from tests.integration.test_outbox_relay import _Commits
from tests.support import Stack, migrated_engine, purchase, store_settings

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
    engine = await migrated_engine(stack, "points", MIGRATIONS)
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


def _campaign(name: str, starts: datetime, days: int, budget: int = 1_000) -> PartnerCampaignAnnounced:
    return PartnerCampaignAnnounced(
        partner_id="snapp", campaign_id=name, name=name, starts_at=starts,
        ends_at=starts + timedelta(days=days), categories=["beverages"], multiplier=Decimal(2),
        budget_points=budget,
    )  # fmt: skip


async def _years_of_campaigns(engine: AsyncEngine, now: datetime) -> None:
    """25 partners' weekly campaigns over four years, all ended: ``p<k>-week-<n>`` ended n weeks ago."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO campaigns (campaign_id, partner_id, body, budget_points, starts_at, ends_at) "
                "SELECT id, partner, jsonb_build_object('partner_id', partner, 'campaign_id', id, "
                "'name', id, 'starts_at', starts, 'ends_at', starts + interval '7 days', "
                "'categories', jsonb_build_array('beverages'), 'multiplier', '2', 'budget_points', 1000), "
                "1000, starts, starts + interval '7 days' "
                "FROM generate_series(1, 25) AS k, generate_series(1, 208) AS n, "
                "LATERAL (SELECT 'p' || k AS partner, 'p' || k || '-week-' || n AS id, "
                "CAST(:now AS timestamptz) - (n + 1) * interval '7 days' AS starts) AS c"
            ),
            {"now": now},
        )


async def test_a_batch_reads_the_campaigns_its_purchases_fall_in_with_what_is_left_of_each_budget(
    stack: Stack,
) -> None:
    """Four years of 25 partners' weekly campaigns: a batch reads (and locks) the one running when its
    purchases were made, not the 5,200 that ended; one the batch announces again is read whatever its
    window, so its budget goes on from what was spent, not from the start."""
    engine = await migrated_engine(stack, "points", MIGRATIONS)
    now = datetime.now(UTC)
    ran: list[tuple[str, Sequence[Any]]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _ran(conn: Any, cursor: Any, statement: str, parameters: Sequence[Any], *_: Any) -> None:
        if "FROM campaigns" in statement and not statement.startswith("EXPLAIN"):
            ran.append((statement, parameters))

    try:
        await _years_of_campaigns(engine, now)
        async with engine.begin() as conn:
            await upsert_campaign(conn, _campaign("tea-week", now - timedelta(days=2), 7, budget=100))
            await upsert_campaign(conn, _campaign("next-month", now + timedelta(days=30), 7))
            # Valid, and past what can be sent as UTC: kept, and running for any purchase.
            ever = _campaign("ever", datetime.fromisoformat("0001-01-01T00:00:00+03:30"), 1)
            ends = datetime.fromisoformat("9999-12-31T23:00:00-05:00")
            await upsert_campaign(conn, ever.model_copy(update={"ends_at": ends}))
            await fund_campaigns(conn, {"tea-week": 60, "p1-week-3": 1_000})
            await conn.execute(text("ANALYZE campaigns"))
        sales = [purchase("ana", "1000", occurred_at=now - timedelta(hours=h)) for h in (1, 5, 30)]
        async with engine.begin() as conn:
            running, left = await live_campaigns(conn, sales)
            assert [c.campaign_id for c in running] == ["ever", "tea-week"]
            assert left == {"ever": 1_000, "tea-week": 40}
            # p1-week-3 spent its budget three weeks ago; announced again for this week, it has none left.
            again, left = await live_campaigns(conn, sales, ["p1-week-3"])
            assert [c.campaign_id for c in again] == ["ever", "p1-week-3", "tea-week"]
            assert left == {"ever": 1_000, "tea-week": 40, "p1-week-3": 0}
            # A late purchase, made two years ago, earns from the campaigns of its week.
            at = now - timedelta(weeks=104, days=3)
            late, _ = await live_campaigns(conn, [purchase("ana", "1000", occurred_at=at)])
            assert [c.campaign_id for c in late] == sorted(
                ["ever"] + [f"p{k}-week-104" for k in range(1, 26)]
            )
            # The window's ends as evaluate takes them: its first instant in, its end out.
            tea = next(c for c in running if c.campaign_id == "tea-week")
            first, _ = await live_campaigns(conn, [purchase("ana", "1000", occurred_at=tea.starts_at)])
            after, _ = await live_campaigns(conn, [purchase("ana", "1000", occurred_at=tea.ends_at)])
            assert [c.campaign_id for c in first] == ["ever", "tea-week"]
            assert [c.campaign_id for c in after] == ["ever"]
            plans = [
                "\n".join(r[0] for r in await conn.exec_driver_sql(f"EXPLAIN {statement}", tuple(parameters)))
                for statement, parameters in ran
            ]
    finally:
        await engine.dispose()
    # This week's batch finds the running campaigns by index (ended ones are most of the table).
    assert len(plans) == 5 and not [plan for plan in plans[:2] if "Seq Scan on campaigns" in plan], plans


async def test_a_campaign_announced_again_for_a_later_week_funds_no_more_than_its_budget(
    stack: Stack,
) -> None:
    """Through the points consumer: the campaign's first week spends its whole budget; announced again
    for a later week (its row still dated the first), the batch reads it by its id, so the purchases
    of the new week find nothing left, not a fresh budget."""
    await stack.create("points")
    kept = store_settings(stack, "points")
    settings = PointsSettings(
        pg_host=kept.pg_host, pg_port=kept.pg_port, pg_user=kept.pg_user, pg_password=kept.pg_password,
        pg_database=kept.pg_database, service_name="points", topic_prefix=stack.prefix,
    )  # fmt: skip
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings)
    core = ReliableConsumer(
        settings=settings, engine=engine, decoder=ContractDecoder(consumes(PROGRAMS)),
        handler=ledger_handler(settings, PROGRAMS), metrics=CoreMetrics(CollectorRegistry()),
    )  # fmt: skip
    partners = Published(stack.topic(Topic.PARTNERS))
    sales = Published(stack.topic(Topic.PURCHASES))
    now = datetime.now(UTC)

    def announced(n: int, starts: datetime) -> Any:
        campaign = _campaign("tea", starts, 7, budget=100)
        event = PARTNER_CAMPAIGN_ANNOUNCED.envelope(
            key="tea", producer="ingest", occurred_at=starts, payload=campaign
        )
        return partners.record(n, event)

    def tea_bought(n: int, at: datetime) -> Any:
        tea = LineItem(sku="tea", category="beverages", quantity=1, unit_price=10_000_000, amount=10_000_000)
        sale = purchase("ana", "10000000", occurred_at=at)  # the campaign's x2 outruns its budget
        return sales.record(
            n, sale.model_copy(update={"payload": sale.payload.model_copy(update={"lines": [tea]})})
        )

    try:
        await core.process(
            [announced(1, now - timedelta(days=20)), tea_bought(1, now - timedelta(days=16))], _Commits()
        )
        await core.process(
            [announced(2, now - timedelta(days=3)), tea_bought(2, now - timedelta(days=1))], _Commits()
        )
        async with engine.connect() as conn:
            funded = await conn.scalar(text("SELECT funded_points FROM campaigns"))
            settled = await partner_settlement(conn, "snapp", now - timedelta(days=30), now)
    finally:
        await engine.dispose()
    assert funded == 100
    assert [(s["campaign_id"], s["points"]) for s in settled] == [("tea", 100)]
