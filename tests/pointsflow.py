"""The points service as tests drive it: a purchase stream, the balances it must produce, and checks
of the ledger against them."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_FLOOR
from pathlib import Path
from typing import Any

from shared.topics import Topic
from tests.support import ServiceProcess, Stack, decode, purchase

MEMBERS = [f"member-{i}" for i in range(7)]


def stream(n: int) -> list[Any]:
    """n purchases spread over a few members, with fractional amounts that must round down."""
    return [purchase(MEMBERS[i % len(MEMBERS)], f"{100 + i * 7}.{(i * 37) % 100:02d}") for i in range(n)]


def expected_balances(purchases: list[Any]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for p in purchases:
        totals[p.payload.member_id] += int(p.payload.total_amount.to_integral_value(ROUND_FLOOR))
    return dict(totals)


def points(stack: Stack, services: list[ServiceProcess], log_dir: Path) -> ServiceProcess:
    service = ServiceProcess("services.points", stack.env("points"), log_dir)
    services.append(service)
    return service


async def balances(stack: Stack) -> dict[str, int]:
    rows = await stack.query("points", "SELECT member_id, balance FROM balances")
    return {r["member_id"]: r["balance"] for r in rows}


async def ledger_count(stack: Stack) -> int:
    return int(await stack.scalar("points", "SELECT count(*) FROM ledger"))


async def assert_ledger_matches(stack: Stack, purchases: list[Any]) -> None:
    """Balances are the expected ones, and exactly the sum of the append-only ledger."""
    assert await balances(stack) == expected_balances(purchases)
    mismatched = await stack.query(
        "points",
        """SELECT b.member_id FROM balances b
           LEFT JOIN (SELECT member_id, sum(points) AS total FROM ledger GROUP BY member_id) l
             USING (member_id)
           WHERE b.balance IS DISTINCT FROM l.total""",
    )
    assert mismatched == []
    assert await ledger_count(stack) == len(purchases)


async def earned_events(stack: Stack) -> list[dict[str, Any]]:
    return [decode(r) for r in await stack.read_all(Topic.POINTS)]


async def all_committed(stack: Stack) -> bool:
    return await stack.committed_offsets("points", Topic.PURCHASES) == await stack.end_offsets(
        Topic.PURCHASES
    )


async def len_distinct_earned(stack: Stack, n: int) -> bool:
    return len({e["event_id"] for e in await earned_events(stack)}) == n


async def balance_is(stack: Stack, member: str, points: int) -> bool:
    return (await balances(stack)).get(member) == points
