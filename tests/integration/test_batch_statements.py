"""What a batch sends to PostgreSQL: its writes to several tables in one statement
(``shared.store.bulk.Writes``), each table's inserts and upserts landing as they would alone; and the
configuration it reads (``shared.store.settled``) read again only after an operator's change has
committed, never a change that rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.points.domain.loyalty import LoyaltyProgram
from services.points.store import MIGRATIONS
from services.points.store.earning import add_daily
from services.points.store.loyalty import loyalty_programs, put_loyalty_program
from services.points.store.tables import balances, daily_earnings
from shared.store.bulk import Writes, rows_insert
from shared.store.settled import stamps
from tests.support import Stack, migrated_engine

DAY = date(2026, 12, 3)


@pytest.fixture
async def points_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(stack, "points", MIGRATIONS)
    yield engine
    await engine.dispose()


def _balances(writes: Writes, **held: int) -> None:
    writes.insert(
        balances,
        [{"program_id": "main", "member_id": m, "balance": b, "debt": 0} for m, b in held.items()],
        lambda upsert: upsert.on_conflict_do_update(
            index_elements=[balances.c.program_id, balances.c.member_id],
            set_={"balance": upsert.excluded.balance},
        ),
    )


async def test_writes_to_several_tables_land_in_one_statement_upserts_included(
    points_db: AsyncEngine,
) -> None:
    ran: list[str] = []

    @event.listens_for(points_db.sync_engine, "before_cursor_execute")
    def _ran(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        ran.append(statement)

    async with points_db.begin() as conn:
        writes = Writes()
        _balances(writes, ana=100, bob=40)
        add_daily(writes, {("ana", DAY): 100, ("bob", DAY): 40})
        await writes.run(conn)
        assert len(ran) == 1  # both tables, one round trip
        ran.clear()
        # Again: each part's ON CONFLICT works inside the one statement (the daily total adds up).
        _balances(writes, ana=130)
        add_daily(writes, {("ana", DAY): 30})
        await writes.run(conn)
        assert len(ran) == 1
        ran.clear()
        await writes.run(conn)  # run empties it: nothing is written twice
        assert ran == []
        held = dict((await conn.execute(select(balances.c.member_id, balances.c.balance))).all())
        daily = dict((await conn.execute(select(daily_earnings.c.member_id, daily_earnings.c.points))).all())
    assert held == {"ana": 130, "bob": 40}
    assert daily == {"ana": 130, "bob": 40}


async def test_a_table_written_twice_in_one_statement_is_refused_before_anything_is_sent(
    points_db: AsyncEngine,
) -> None:
    # The parts of one statement do not see each other's rows: a second upsert of a table would not
    # find the first one's row, and PostgreSQL would refuse or duplicate it.
    writes = Writes()
    _balances(writes, ana=100)
    with pytest.raises(ValueError, match="balances is written twice"):
        _balances(writes, ana=120)
    async with points_db.begin() as conn:
        await writes.run(conn)
        assert dict((await conn.execute(select(balances.c.member_id, balances.c.balance))).all()) == {
            "ana": 100
        }


async def test_the_program_registry_is_read_again_only_after_a_change_commits(points_db: AsyncEngine) -> None:
    reads: list[str] = []

    @event.listens_for(points_db.sync_engine, "before_cursor_execute")
    def _ran(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM loyalty_programs" in statement:
            reads.append(statement)

    async def batch() -> set[str]:
        """What a consumer's batch sees, as the points handler reads it."""
        async with points_db.begin() as conn:
            return set(await loyalty_programs(conn, await stamps(conn)))

    # A registry read in a batch is kept for the next ones.
    assert await batch() == {"main"}
    assert await batch() == {"main"}
    assert len(reads) == 1
    # An operator's change, committed: the next batch reads it.
    async with points_db.begin() as conn:
        await put_loyalty_program(conn, "hyperstar", LoyaltyProgram(name="Hyperstar club"))
    assert await batch() == {"main", "hyperstar"}
    assert await batch() == {"main", "hyperstar"}
    assert len(reads) == 2
    # A change that rolls back: its own transaction reads it fresh, nobody keeps it.
    async with points_db.connect() as conn:
        await conn.begin()
        await put_loyalty_program(conn, "snapp", LoyaltyProgram(name="Snapp"))
        assert set(await loyalty_programs(conn, await stamps(conn))) == {"main", "hyperstar", "snapp"}
        await conn.rollback()
    assert await batch() == {"main", "hyperstar"}
    assert len(reads) == 3
    # Read outside a batch (no stamps: an HTTP request, a job), the registry is read every time.
    async with points_db.begin() as conn:
        assert set(await loyalty_programs(conn)) == {"main", "hyperstar"}
    assert len(reads) == 4


async def test_a_finished_statement_is_reused_only_when_it_can_say_nothing_else(
    points_db: AsyncEngine,
) -> None:
    """``rows_insert(..., finish=...)`` keeps the finished statement when the finishing function closes
    over nothing; one that closes over a value is applied afresh with each call's value, so a batch
    never runs a statement another batch's values built."""

    def add(member: str, points: int, add_to_it: bool) -> tuple[Any, dict[str, Any]]:
        row = [{"program_id": "main", "member_id": member, "day": DAY, "points": points}]
        on_conflict = (
            (lambda new: new.on_conflict_do_update(
                index_elements=["program_id", "member_id", "day"],
                set_={"points": daily_earnings.c.points + new.excluded.points},
            ))
            if add_to_it
            else (lambda new: new.on_conflict_do_nothing())
        )  # fmt: skip
        return rows_insert(daily_earnings, row, finish=on_conflict)

    def raise_to(member: str, points: int, below: int) -> tuple[Any, dict[str, Any]]:
        row = [{"program_id": "main", "member_id": member, "day": DAY, "points": points}]
        return rows_insert(  # closes over ``below``: applied afresh each time
            daily_earnings,
            row,
            finish=lambda new: new.on_conflict_do_update(
                index_elements=["program_id", "member_id", "day"],
                set_={"points": new.excluded.points},
                where=daily_earnings.c.points < below,
            ),
        )

    first, _ = add("sara", 5, add_to_it=True)
    second, _ = add("omid", 7, add_to_it=True)
    assert first is second  # built once, whatever call asked for it
    assert add("sara", 1, add_to_it=False)[0] is not first  # other code: another statement
    async with points_db.begin() as conn:
        for member, points, add_to_it in [("sara", 5, True), ("sara", 3, True), ("sara", 100, False)]:
            await conn.execute(*add(member, points, add_to_it))
        await conn.execute(*raise_to("omid", 4, below=0))  # a new row
        await conn.execute(*raise_to("omid", 6, below=3))  # 4 is not below 3: kept
        await conn.execute(*raise_to("omid", 9, below=5))  # 4 is below 5: raised
        got = dict((await conn.execute(select(daily_earnings.c.member_id, daily_earnings.c.points))).all())
    assert got == {"sara": 8, "omid": 9}
    assert raise_to("x", 1, below=2)[0] is not raise_to("x", 1, below=2)[0]
