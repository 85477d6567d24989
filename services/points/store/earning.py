"""What earning reads and keeps besides the ledger: rule set versions, daily totals (for caps), partner
campaigns and their budgets, the tier steps tiers told of and the tier line each purchase earned."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.domain.rules import RuleSet
from services.points.domain.tiering import Step
from services.points.preview import Earned, Kept
from services.points.store.ledger import TIER_CORRECTION
from services.points.store.tables import (
    campaigns,
    daily_earnings,
    purchase_history,
    rule_sets,
    tier_earns,
    tier_steps,
)
from shared.contracts import Envelope, PartnerCampaignAnnounced, PurchaseRecorded
from shared.store.bulk import Writes, any_of, one_of
from shared.store.settled import Cached, Stamps


async def earned_on(
    conn: AsyncConnection, keys: Iterable[tuple[str, date]], program_id: str = MAIN
) -> dict[tuple[str, date], int]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(daily_earnings.c.member_id, daily_earnings.c.day, daily_earnings.c.points).where(
            daily_earnings.c.program_id == program_id,
            func.row(daily_earnings.c.member_id, daily_earnings.c.day).in_(
                [func.row(m, d) for m, d in wanted]
            ),
        )
    )
    return {(m, d): p for m, d, p in rows}


def add_daily(writes: Writes, earned: dict[tuple[str, date], int], program_id: str = MAIN) -> None:
    writes.insert(
        daily_earnings,
        [
            {"program_id": program_id, "member_id": m, "day": d, "points": p}
            for (m, d), p in sorted(earned.items())
        ],
        lambda upsert: upsert.on_conflict_do_update(
            index_elements=[daily_earnings.c.program_id, daily_earnings.c.member_id, daily_earnings.c.day],
            set_={"points": daily_earnings.c.points + upsert.excluded.points},
        ),
    )


_VERSIONS: Cached[str, tuple[int, ...]] = Cached("rule_sets")


async def rule_set_versions(
    conn: AsyncConnection,
    known: dict[int, RuleSet] | None = None,
    program_id: str = MAIN,
    seen: Stamps | None = None,
) -> list[tuple[int, RuleSet]]:
    """Every stored version of the program's rules; with ``known`` (a cache the caller keeps), only new
    versions are read and validated — versions are never changed, only added; with ``seen`` (a batch's
    stamps), the list of versions is read again only after rules were written."""
    cache = known if known is not None else {}

    async def load() -> tuple[int, ...]:
        query = select(rule_sets.c.version).where(rule_sets.c.program_id == program_id)
        return tuple((await conn.execute(query.order_by(rule_sets.c.version))).scalars())

    versions = await _VERSIONS.get(conn, seen, program_id, load)
    new = [v for v in versions if v not in cache]
    if new:
        rows = await conn.execute(
            select(rule_sets.c.version, rule_sets.c.body).where(one_of(rule_sets.c.version, new))
        )
        cache.update({version: RuleSet.model_validate(body) for version, body in rows})
    return [(v, cache[v]) for v in versions]


async def add_rule_set(conn: AsyncConnection, rules: RuleSet, operator: str, program_id: str = MAIN) -> int:
    version = await conn.scalar(
        rule_sets.insert()
        .values(
            program_id=program_id,
            effective_from=rules.effective_from,
            body=rules.model_dump(mode="json"),
            created_by=operator,
        )
        .returning(rule_sets.c.version)
    )
    assert version is not None
    return int(version)


# Read on every batch of purchases, built once: the campaigns running at some instant between the batch's
# first and last purchase, and those the batch announces again (their budget is what is left, not new).
# Locked: two instances funding from one budget take turns.
_LIVE_CAMPAIGNS = (
    select(campaigns.c.body, campaigns.c.budget_points - campaigns.c.funded_points)
    .where(
        or_(
            and_(campaigns.c.starts_at <= bindparam("latest"), campaigns.c.ends_at > bindparam("earliest")),
            any_of(campaigns.c.campaign_id, "announced"),
        )
    )
    .order_by(campaigns.c.campaign_id)  # one lock order for every instance, whichever index is read
    .with_for_update()
)
# The columns only find a campaign; a window from year 1 or to year 9999 in some offset is valid but past
# what the driver can send as UTC. Held within these, every purchase still finds what it fell in.
_FIRST, _LAST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


async def live_campaigns(
    conn: AsyncConnection, purchases: Sequence[Envelope[Any]], announced: Iterable[str] = ()
) -> tuple[list[PartnerCampaignAnnounced], dict[str, int]]:
    """The campaigns a batch's purchases can earn from, with the points left in each one's budget."""
    times = [p.occurred_at for p in purchases]
    rows = await conn.execute(
        _LIVE_CAMPAIGNS, {"earliest": min(times), "latest": max(times), "announced": sorted(set(announced))}
    )
    found, remaining = [], {}
    for body, left in rows:
        campaign = PartnerCampaignAnnounced.model_validate(body)
        found.append(campaign)
        remaining[campaign.campaign_id] = int(left)
    return found, remaining


async def upsert_campaign(conn: AsyncConnection, campaign: PartnerCampaignAnnounced) -> None:
    window = {
        "starts_at": min(max(campaign.starts_at, _FIRST), _LAST),
        "ends_at": min(max(campaign.ends_at, _FIRST), _LAST),
    }
    upsert = insert(campaigns).values(
        campaign_id=campaign.campaign_id,
        partner_id=campaign.partner_id,
        body=campaign.model_dump(mode="json"),
        budget_points=campaign.budget_points,
        **window,
    )
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[campaigns.c.campaign_id],
            set_={"body": upsert.excluded.body, "budget_points": upsert.excluded.budget_points, **window},
        )
    )


async def fund_campaigns(conn: AsyncConnection, funded: dict[str, int]) -> None:
    for campaign_id, points in sorted(funded.items()):
        await conn.execute(
            campaigns.update()
            .where(campaigns.c.campaign_id == campaign_id)
            .values(funded_points=campaigns.c.funded_points + points)
        )


async def partner_settlement(
    conn: AsyncConnection, partner_id: str, start: datetime, end: datetime, program_id: str = MAIN
) -> list[dict[str, Any]]:
    """Points a partner funded in [start, end) in a program, per campaign (None: its own purchases')."""
    rows = await conn.execute(
        text(
            "SELECT f->>'campaign_id' AS campaign_id, sum((f->>'points')::bigint) AS points, "
            "count(*) AS earns FROM ledger, jsonb_array_elements(details->'funding') AS f "
            "WHERE kind = 'earn' AND program_id = :program AND f->>'partner_id' = :partner "
            "AND occurred_at >= :start AND occurred_at < :end GROUP BY 1 ORDER BY 1 NULLS FIRST"
        ),
        {"partner": partner_id, "start": start, "end": end, "program": program_id},
    )
    return [{"campaign_id": r.campaign_id, "points": int(r.points), "earns": int(r.earns)} for r in rows]


_STEPS = (  # built once: it runs on every batch
    select(
        tier_steps.c.member_id,
        tier_steps.c.effective_from,
        tier_steps.c.tier,
        tier_steps.c.multiplier,
        tier_steps.c.revision,
        tier_steps.c.corrects_from,
        tier_steps.c.seq,
    )
    .where(tier_steps.c.program_id == bindparam("program_id"), any_of(tier_steps.c.member_id, "members"))
    .order_by(tier_steps.c.seq)
)


async def tier_steps_of(
    conn: AsyncConnection, members: Iterable[str], program_id: str = MAIN
) -> dict[str, list[Step]]:
    rows = await conn.execute(_STEPS, {"program_id": program_id, "members": sorted(set(members))})
    found: dict[str, list[Step]] = {}
    for member, at, tier, multiplier, revision, corrects_from, seq in rows:
        found.setdefault(member, []).append(Step(at, tier, Decimal(multiplier), revision, corrects_from, seq))
    return found


def add_tier_steps(writes: Writes, rows: Sequence[dict[str, Any]]) -> None:
    """In the order told: ``seq`` keeps it."""
    writes.insert(tier_steps, rows, lambda steps: steps.on_conflict_do_nothing(index_elements=["event_id"]))


@dataclass
class TierEarn:
    """The tier line a purchase earned, and what it applies to."""

    purchase_event_id: uuid.UUID
    member_id: str
    occurred_at: datetime
    base: Decimal
    rule_set_version: int
    tier: str | None
    multiplier: Decimal
    line: int


async def tier_earns_of(
    conn: AsyncConnection, members: Iterable[str], since: datetime, program_id: str = MAIN
) -> list[TierEarn]:
    t = tier_earns.c
    rows = await conn.execute(
        select(tier_earns)
        .where(t.program_id == program_id, one_of(t.member_id, sorted(set(members))), t.occurred_at >= since)
        .order_by(t.occurred_at, t.purchase_event_id)
    )
    return [
        TierEarn(r.purchase_event_id, r.member_id, r.occurred_at, Decimal(r.base), r.rule_set_version, r.tier,
                 Decimal(r.multiplier), r.line)
        for r in rows
    ]  # fmt: skip


def save_tier_earns(writes: Writes, earns: Iterable[TierEarn], program_id: str = MAIN) -> None:
    writes.insert(
        tier_earns,
        [{**e.__dict__, "program_id": program_id} for e in earns],
        lambda upsert: upsert.on_conflict_do_update(
            index_elements=[tier_earns.c.program_id, tier_earns.c.purchase_event_id],
            set_={k: upsert.excluded[k] for k in ("tier", "multiplier", "line")},
        ),
    )


def keep_purchases(writes: Writes, purchases: Sequence[Envelope[PurchaseRecorded]]) -> None:
    # The body as pydantic writes it in JSON, set into the rows' document as it is (orjson.Fragment):
    # not dumped to Python values first and then encoded again, 6 against 11 µs a purchase.
    writes.insert(
        purchase_history,
        [{"event_id": e.event_id, "member_id": e.payload.member_id, "occurred_at": e.occurred_at,
          "body": orjson.Fragment(e.payload.model_dump_json())} for e in purchases],
        lambda kept: kept.on_conflict_do_nothing(),
    )  # fmt: skip


async def purchases_between(
    conn: AsyncConnection, start: datetime, end: datetime, limit: int | None = None
) -> list[Kept]:
    """The purchases kept that were made in [start, end), oldest first (the first ``limit`` of them)."""
    rows = await conn.execute(
        select(purchase_history.c.event_id, purchase_history.c.occurred_at, purchase_history.c.body)
        .where(purchase_history.c.occurred_at >= start, purchase_history.c.occurred_at < end)
        .order_by(purchase_history.c.occurred_at, purchase_history.c.event_id)
        .limit(limit)
    )
    return [Kept(i, at, PurchaseRecorded.model_validate(body)) for i, at, body in rows]


async def earned_by_purchases(
    conn: AsyncConnection, purchase_ids: Sequence[uuid.UUID], program_id: str = MAIN
) -> dict[uuid.UUID, Earned]:
    """What each purchase's earn entry gave, with the tier corrections later made to it, and of that
    what partner campaigns funded (a rule set's preview compares its own points with the rest)."""
    if not purchase_ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT e.source_event_id AS purchase, e.points + coalesce(c.earned, 0) AS points, "
            "coalesce((SELECT sum((f->>'points')::bigint) "
            "FROM jsonb_array_elements(e.details->'funding') f), 0) AS funded "
            "FROM ledger e LEFT JOIN (SELECT details->>'purchase_event_id' AS purchase, "
            "sum((details->>'earned')::bigint) AS earned FROM ledger WHERE kind = 'adjust' "
            "AND details->>'reason' = :correction AND details->>'purchase_event_id' = ANY(:texts) "
            "AND program_id = :program "
            "GROUP BY 1) c ON c.purchase = e.source_event_id::text "
            "WHERE e.kind = 'earn' AND e.program_id = :program AND e.source_event_id = ANY(:ids)"
        ),
        {
            "ids": list(purchase_ids),
            "texts": [str(i) for i in purchase_ids],
            "correction": TIER_CORRECTION,
            "program": program_id,
        },
    )
    return {r.purchase: Earned(int(r.points), int(r.funded)) for r in rows}


async def first_credits(
    conn: AsyncConnection, members: Iterable[str], program_id: str = MAIN
) -> set[uuid.UUID]:
    """The source event of each member's first ledger entry, when it was an earn: the purchase that made
    them known to points, which got the welcome bonus."""
    rows = await conn.execute(
        text(
            "SELECT DISTINCT ON (member_id) source_event_id, kind FROM ledger "
            "WHERE program_id = :program AND member_id = ANY(:members) ORDER BY member_id, id"
        ),
        {"members": sorted(set(members)), "program": program_id},
    )
    return {r.source_event_id for r in rows if r.kind == "earn"}
