"""Reads and writes of the points store, inside the caller's transaction, set-based."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.challenges import Challenge
from services.points.domain.games import Game
from services.points.domain.rules import RuleSet
from services.points.domain.sunset import ProgramEnd
from services.points.domain.tiering import Step
from services.points.domain.wallet import Lot, Wallet
from services.points.store.tables import (
    balances,
    campaigns,
    causes,
    challenge_progress,
    challenges,
    daily_earnings,
    donations,
    game_plays,
    games,
    ledger,
    lots,
    program_ends,
    program_reminders,
    redemptions,
    rewards,
    rule_sets,
    tier_earns,
    tier_steps,
)
from shared.contracts import PartnerCampaignAnnounced


@dataclass(frozen=True)
class LedgerEntry:
    member_id: str
    kind: str
    points: int
    source_event_id: uuid.UUID
    occurred_at: datetime
    details: dict[str, Any]


async def load_wallets(
    conn: AsyncConnection, members: Iterable[str], with_lots: Iterable[str] | None = None
) -> tuple[dict[str, Wallet], set[str]]:
    """Each member's wallet, locked for this transaction; and which members had points before.

    Lots are read only for ``with_lots`` (default: everyone): earning needs none, and a frequent
    shopper has many."""
    wanted = sorted(set(members))  # one lock order everywhere: no deadlock between batches and jobs
    lot_members = sorted(set(wanted if with_lots is None else with_lots))
    known = await conn.execute(
        select(balances.c.member_id, balances.c.balance, balances.c.debt)
        .where(balances.c.member_id.in_(wanted))
        .order_by(balances.c.member_id)
        .with_for_update()
    )
    wallets = {m: Wallet(m, lots_loaded=m in lot_members) for m in wanted}
    seen: set[str] = set()
    for member, balance, debt in known:
        wallets[member].balance, wallets[member].debt = balance, debt
        seen.add(member)
    if not lot_members:
        return wallets, seen
    rows = await conn.execute(
        select(lots)
        .where(lots.c.member_id.in_(lot_members), lots.c.remaining > 0)
        .order_by(lots.c.earned_at, lots.c.lot_id)
    )
    for row in rows:
        wallets[row.member_id].lots.append(
            Lot(row.lot_id, row.earned_at, row.expires_at, row.remaining, row.original)
        )
    return wallets, seen


async def save(conn: AsyncConnection, wallets: Iterable[Wallet], entries: Sequence[LedgerEntry]) -> None:
    """Append the entries and write back the lots and balances they moved."""
    if entries:
        await conn.execute(ledger.insert(), [e.__dict__ for e in entries])
    moved = {e.member_id for e in entries}
    touched = [w for w in wallets if w.changed or w.member_id in moved]
    changed_lots = [
        {
            "lot_id": lot.lot_id,
            "member_id": w.member_id,
            "earned_at": lot.earned_at,
            "expires_at": lot.expires_at,
            "original": lot.original,
            "remaining": lot.remaining,
        }
        for w in touched
        for lot in w.lots
        if lot.lot_id in w.changed
    ]
    if changed_lots:
        upsert = insert(lots)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[lots.c.lot_id],
                set_={"remaining": upsert.excluded.remaining, "expires_at": upsert.excluded.expires_at},
            ),
            changed_lots,
        )
    if touched:
        upsert = insert(balances)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[balances.c.member_id],
                set_={
                    "balance": upsert.excluded.balance,
                    "debt": upsert.excluded.debt,
                    "updated_at": func.now(),
                },
            ),
            [{"member_id": w.member_id, "balance": w.balance, "debt": w.debt} for w in touched],
        )
    for w in touched:
        w.changed.clear()


async def earned_on(conn: AsyncConnection, keys: Iterable[tuple[str, date]]) -> dict[tuple[str, date], int]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(daily_earnings.c.member_id, daily_earnings.c.day, daily_earnings.c.points).where(
            func.row(daily_earnings.c.member_id, daily_earnings.c.day).in_(
                [func.row(m, d) for m, d in wanted]
            )
        )
    )
    return {(m, d): p for m, d, p in rows}


async def add_daily(conn: AsyncConnection, earned: dict[tuple[str, date], int]) -> None:
    if earned:
        upsert = insert(daily_earnings)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[daily_earnings.c.member_id, daily_earnings.c.day],
                set_={"points": daily_earnings.c.points + upsert.excluded.points},
            ),
            [{"member_id": m, "day": d, "points": p} for (m, d), p in sorted(earned.items())],
        )


TIER_CORRECTION = "tier correction"  # the reason of the adjustments that correct a purchase's tier line


@dataclass
class Original:
    """A purchase's earn, and what returns have taken back from it so far."""

    points: int
    amount: Decimal
    lot_id: uuid.UUID | None
    reversed: int = 0
    refunded: Decimal = Decimal(0)


async def originals(conn: AsyncConnection, purchase_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Original]:
    ids = sorted(set(purchase_ids))
    if not ids:
        return {}
    earns = await conn.execute(
        select(ledger.c.source_event_id, ledger.c.points, ledger.c.details).where(
            ledger.c.kind == "earn", ledger.c.source_event_id.in_(ids)
        )
    )
    found = {
        row.source_event_id: Original(
            points=int(row.details.get("reversible", row.points)),
            amount=Decimal(row.details.get("amount", "0")),
            lot_id=uuid.UUID(row.details["lot_id"]) if row.details.get("lot_id") else None,
        )
        for row in earns
    }
    # Returns, and tier corrections (which move the earn and what its returns took back with it).
    moves = await conn.execute(
        text(
            "SELECT details->>'purchase_event_id' AS purchase, "
            "sum(CASE WHEN kind = 'reverse' THEN -points ELSE (details->>'reversed')::bigint END) AS points, "
            "sum(CASE WHEN kind = 'reverse' THEN (details->>'refund_amount')::numeric ELSE 0 END) "
            "AS refunded, "
            "sum(CASE WHEN kind = 'reverse' THEN 0 ELSE (details->>'earned')::bigint END) AS earned "
            "FROM ledger WHERE (kind = 'reverse' OR (kind = 'adjust' AND details->>'reason' = :correction)) "
            "AND details->>'purchase_event_id' = ANY(:ids) GROUP BY 1"
        ),
        {"ids": [str(i) for i in ids], "correction": TIER_CORRECTION},
    )
    for row in moves:
        original = found[uuid.UUID(row.purchase)]
        original.reversed, original.refunded = int(row.points), Decimal(row.refunded)
        original.points += int(row.earned)
    return found


async def rule_set_versions(
    conn: AsyncConnection, known: dict[int, RuleSet] | None = None
) -> list[tuple[int, RuleSet]]:
    """Every stored version; with ``known`` (a cache the caller keeps), only new versions are read
    and validated — versions are never changed, only added."""
    cache = known if known is not None else {}
    versions = list((await conn.execute(select(rule_sets.c.version).order_by(rule_sets.c.version))).scalars())
    new = [v for v in versions if v not in cache]
    if new:
        rows = await conn.execute(
            select(rule_sets.c.version, rule_sets.c.body).where(rule_sets.c.version.in_(new))
        )
        cache.update({version: RuleSet.model_validate(body) for version, body in rows})
    return [(v, cache[v]) for v in versions]


async def add_rule_set(conn: AsyncConnection, rules: RuleSet, operator: str) -> int:
    version = await conn.scalar(
        rule_sets.insert()
        .values(effective_from=rules.effective_from, body=rules.model_dump(mode="json"), created_by=operator)
        .returning(rule_sets.c.version)
    )
    assert version is not None
    return int(version)


async def live_campaigns(conn: AsyncConnection) -> tuple[list[PartnerCampaignAnnounced], dict[str, int]]:
    rows = await conn.execute(
        select(campaigns.c.body, campaigns.c.budget_points - campaigns.c.funded_points).with_for_update()
    )
    found, remaining = [], {}
    for body, left in rows:
        campaign = PartnerCampaignAnnounced.model_validate(body)
        found.append(campaign)
        remaining[campaign.campaign_id] = int(left)
    return found, remaining


async def upsert_campaign(conn: AsyncConnection, campaign: PartnerCampaignAnnounced) -> None:
    upsert = insert(campaigns).values(
        campaign_id=campaign.campaign_id,
        partner_id=campaign.partner_id,
        body=campaign.model_dump(mode="json"),
        budget_points=campaign.budget_points,
    )
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[campaigns.c.campaign_id],
            set_={"body": upsert.excluded.body, "budget_points": upsert.excluded.budget_points},
        )
    )


async def fund_campaigns(conn: AsyncConnection, funded: dict[str, int]) -> None:
    for campaign_id, points in sorted(funded.items()):
        await conn.execute(
            campaigns.update()
            .where(campaigns.c.campaign_id == campaign_id)
            .values(funded_points=campaigns.c.funded_points + points)
        )


async def balance_of(conn: AsyncConnection, member_id: str) -> tuple[int, int] | None:
    row = (
        await conn.execute(
            select(balances.c.balance, balances.c.debt).where(balances.c.member_id == member_id)
        )
    ).first()
    return (row.balance, row.debt) if row else None


async def ledger_page(
    conn: AsyncConnection, member_id: str, before: int | None, limit: int
) -> list[dict[str, Any]]:
    query = select(
        ledger.c.id,
        ledger.c.kind,
        ledger.c.points,
        ledger.c.source_event_id,
        ledger.c.occurred_at,
        ledger.c.details,
    ).where(ledger.c.member_id == member_id)
    if before is not None:
        query = query.where(ledger.c.id < before)
    rows = await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


# -- rewards and redemptions --------------------------------------------------------------------


async def upsert_reward(conn: AsyncConnection, reward_id: str, values: dict[str, Any]) -> None:
    upsert = insert(rewards).values(reward_id=reward_id, **values)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[rewards.c.reward_id], set_={k: upsert.excluded[k] for k in values}
        )
    )


async def catalog(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(rewards).order_by(rewards.c.cost_points, rewards.c.reward_id))
    return [dict(r._mapping) for r in rows]


async def reward_for_update(conn: AsyncConnection, reward_id: str) -> Any:
    return (
        await conn.execute(select(rewards).where(rewards.c.reward_id == reward_id).with_for_update())
    ).first()


async def move_stock(conn: AsyncConnection, reward_id: str, by: int) -> None:
    await conn.execute(
        rewards.update()
        .where(rewards.c.reward_id == reward_id, rewards.c.stock.is_not(None))
        .values(stock=rewards.c.stock + by)
    )


async def redemption_for_update(conn: AsyncConnection, redemption_id: uuid.UUID) -> Any:
    return (
        await conn.execute(
            select(redemptions).where(redemptions.c.redemption_id == redemption_id).with_for_update()
        )
    ).first()


async def add_redemption(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(redemptions.insert().values(**values))


async def settle_redemption(
    conn: AsyncConnection, redemption_id: uuid.UUID, status: str, code: str | None = None
) -> None:
    await conn.execute(
        redemptions.update()
        .where(redemptions.c.redemption_id == redemption_id)
        .values(status=status, code=code, settled_at=func.now())
    )


async def held_past(conn: AsyncConnection, now: datetime | None, limit: int) -> list[uuid.UUID]:
    """Reservations still open whose hold ended by ``now``; with None, every reservation still open."""
    query = select(redemptions.c.redemption_id).where(redemptions.c.status == "reserved")
    if now is not None:
        query = query.where(redemptions.c.hold_until <= now)
    return list((await conn.execute(query.limit(limit))).scalars())


async def lots_by_id(conn: AsyncConnection, wallet: Wallet, lot_ids: Iterable[uuid.UUID]) -> None:
    """Add to ``wallet`` the given lots it did not load (emptied ones), so points can go back."""
    have = {lot.lot_id for lot in wallet.lots}
    wanted = [i for i in lot_ids if i not in have]
    if wanted:
        for row in await conn.execute(select(lots).where(lots.c.lot_id.in_(wanted))):
            wallet.lots.append(Lot(row.lot_id, row.earned_at, row.expires_at, row.remaining, row.original))


async def ledger_entry(conn: AsyncConnection, source_event_id: uuid.UUID, kind: str) -> Any:
    return (
        await conn.execute(
            select(ledger).where(ledger.c.source_event_id == source_event_id, ledger.c.kind == kind)
        )
    ).first()


# -- expiry -------------------------------------------------------------------------------------


async def members_with_expired_lots(conn: AsyncConnection, now: datetime, limit: int) -> list[str]:
    rows = await conn.execute(
        select(lots.c.member_id)
        .where(lots.c.remaining > 0, lots.c.expires_at <= now)
        .group_by(lots.c.member_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def expiring_unreminded(
    conn: AsyncConnection, now: datetime, until: datetime, limit: int
) -> list[tuple[str, int, datetime]]:
    """(member, points, first expiry) for lots expiring by ``until`` that no reminder covered yet."""
    rows = await conn.execute(
        select(lots.c.member_id, func.sum(lots.c.remaining), func.min(lots.c.expires_at))
        .where(
            lots.c.remaining > 0,
            lots.c.expires_at > now,
            lots.c.expires_at <= until,
            lots.c.reminded_at.is_(None),
        )
        .group_by(lots.c.member_id)
        .order_by(lots.c.member_id)
        .limit(limit)
    )
    return [(m, int(p), e) for m, p, e in rows]


async def mark_reminded(conn: AsyncConnection, members: list[str], now: datetime, until: datetime) -> None:
    await conn.execute(
        lots.update()
        .where(
            lots.c.member_id.in_(members),
            lots.c.remaining > 0,
            lots.c.expires_at > now,
            lots.c.expires_at <= until,
            lots.c.reminded_at.is_(None),
        )
        .values(reminded_at=now)
    )


async def partner_settlement(
    conn: AsyncConnection, partner_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Points a partner funded in [start, end), per campaign (None: its own purchases' points)."""
    rows = await conn.execute(
        text(
            "SELECT f->>'campaign_id' AS campaign_id, sum((f->>'points')::bigint) AS points, "
            "count(*) AS earns FROM ledger, jsonb_array_elements(details->'funding') AS f "
            "WHERE kind = 'earn' AND f->>'partner_id' = :partner "
            "AND occurred_at >= :start AND occurred_at < :end GROUP BY 1 ORDER BY 1 NULLS FIRST"
        ),
        {"partner": partner_id, "start": start, "end": end},
    )
    return [{"campaign_id": r.campaign_id, "points": int(r.points), "earns": int(r.earns)} for r in rows]


async def tier_steps_of(conn: AsyncConnection, members: Iterable[str]) -> dict[str, list[Step]]:
    t = tier_steps.c
    rows = await conn.execute(
        select(t.member_id, t.effective_from, t.tier, t.multiplier, t.revision, t.corrects_from, t.seq)
        .where(t.member_id.in_(sorted(set(members))))
        .order_by(t.seq)
    )
    found: dict[str, list[Step]] = {}
    for member, at, tier, multiplier, revision, corrects_from, seq in rows:
        found.setdefault(member, []).append(Step(at, tier, Decimal(multiplier), revision, corrects_from, seq))
    return found


async def add_tier_steps(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """In the order told: ``seq`` keeps it."""
    if rows:
        await conn.execute(insert(tier_steps).on_conflict_do_nothing(index_elements=["event_id"]), list(rows))


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


async def tier_earns_of(conn: AsyncConnection, members: Iterable[str], since: datetime) -> list[TierEarn]:
    t = tier_earns.c
    rows = await conn.execute(
        select(tier_earns)
        .where(t.member_id.in_(sorted(set(members))), t.occurred_at >= since)
        .order_by(t.occurred_at, t.purchase_event_id)
    )
    return [
        TierEarn(r.purchase_event_id, r.member_id, r.occurred_at, Decimal(r.base), r.rule_set_version, r.tier,
                 Decimal(r.multiplier), r.line)
        for r in rows
    ]  # fmt: skip


async def save_tier_earns(conn: AsyncConnection, earns: Iterable[TierEarn]) -> None:
    rows = [e.__dict__ for e in earns]
    if rows:
        upsert = insert(tier_earns)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[tier_earns.c.purchase_event_id],
                set_={k: upsert.excluded[k] for k in ("tier", "multiplier", "line")},
            ),
            rows,
        )


async def donation_by_id(conn: AsyncConnection, donation_id: uuid.UUID) -> Any:
    row = (await conn.execute(select(donations).where(donations.c.donation_id == donation_id))).first()
    return row._mapping if row else None


async def cause_for_update(conn: AsyncConnection, cause_id: str) -> Any:
    return (await conn.execute(select(causes).where(causes.c.cause_id == cause_id).with_for_update())).first()


async def record_donation(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """The cause ledger's line, and the match taken from the cause's budget."""
    await conn.execute(donations.insert().values(row))
    await conn.execute(
        causes.update()
        .where(causes.c.cause_id == row["cause_id"])
        .values(matched_total=causes.c.matched_total + row["matched"])
    )


async def upsert_cause(conn: AsyncConnection, cause_id: str, values: dict[str, Any]) -> None:
    upsert = insert(causes).values(cause_id=cause_id, **values)
    await conn.execute(upsert.on_conflict_do_update(index_elements=[causes.c.cause_id], set_=values))


async def cause_report(conn: AsyncConnection, cause_id: str | None = None) -> list[dict[str, Any]]:
    """Per cause: what members gave, what the brand matched, how many gave, the budget left."""
    given = (
        select(
            donations.c.cause_id,
            func.coalesce(func.sum(donations.c.points), 0).label("given"),
            func.coalesce(func.sum(donations.c.matched), 0).label("matched"),
            func.count(donations.c.member_id.distinct()).label("donors"),
            func.count().label("donations"),
        )
        .group_by(donations.c.cause_id)
        .subquery()
    )
    query = select(causes, given.c.given, given.c.matched, given.c.donors, given.c.donations).select_from(
        causes.outerjoin(given, given.c.cause_id == causes.c.cause_id)
    )
    if cause_id is not None:
        query = query.where(causes.c.cause_id == cause_id)
    return [
        {
            "cause_id": r.cause_id,
            "name": r.name,
            "active": r.active,
            "match_ratio": f"{r.match_ratio:f}",
            "given_points": int(r.given or 0),
            "matched_points": int(r.matched or 0),
            "total_points": int(r.given or 0) + int(r.matched or 0),
            "donors": int(r.donors or 0),
            "donations": int(r.donations or 0),
            "match_budget_left": int(r.match_budget - r.matched_total),
        }
        for r in await conn.execute(query.order_by(causes.c.cause_id))
    ]


@dataclass
class LiveGame:
    """A game in play this batch, locked: its budget and stock move as prizes are won."""

    game_id: str
    game: Game
    seed: bytes
    budget_left: int
    stock_left: dict[str, int | None]


async def live_games(conn: AsyncConnection, earliest: datetime, latest: datetime) -> list[LiveGame]:
    rows = await conn.execute(
        select(games)
        .where(games.c.starts_at <= latest, games.c.ends_at > earliest)
        .order_by(games.c.game_id)
        .with_for_update()
    )
    return [
        LiveGame(r.game_id, Game.model_validate(r.config), r.seed, int(r.budget_left), dict(r.stock_left))
        for r in rows
    ]


async def save_games(
    conn: AsyncConnection, played: Sequence[LiveGame], plays: Sequence[dict[str, Any]]
) -> None:
    if not plays:
        return
    await conn.execute(insert(game_plays).on_conflict_do_nothing(), list(plays))
    for live in played:
        await conn.execute(
            games.update()
            .where(games.c.game_id == live.game_id)
            .values(budget_left=live.budget_left, stock_left=live.stock_left)
        )


async def create_game(conn: AsyncConnection, game_id: str, game: Game, seed: bytes, commitment: str) -> bool:
    """A game is fixed once created: its seed is committed to. False when the id is taken."""
    created = await conn.execute(
        insert(games)
        .values(
            game_id=game_id,
            config=game.model_dump(mode="json"),
            seed=seed,
            commitment=commitment,
            starts_at=game.starts_at,
            ends_at=game.ends_at,
            budget_left=game.budget_points,
            stock_left={p.name: p.stock for p in game.prizes},
        )
        .on_conflict_do_nothing()
    )
    return bool(created.rowcount)


async def game_of(conn: AsyncConnection, game_id: str) -> Any:
    return (await conn.execute(select(games).where(games.c.game_id == game_id))).first()


async def plays_of(
    conn: AsyncConnection, game_id: str, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    query = (
        select(game_plays)
        .where(game_plays.c.game_id == game_id)
        .order_by(game_plays.c.at, game_plays.c.play_id)
        .offset(offset)
        .limit(limit)
    )
    rows = await conn.execute(query)
    return [dict(r._mapping) for r in rows]


async def upsert_program_end(conn: AsyncConnection, program_id: str, end: ProgramEnd) -> bool:
    """Set (or move) a program's end; False once it is closed: a settled program stays settled."""
    values = {"config": end.model_dump(mode="json"), "ends_at": end.ends_at}
    upsert = insert(program_ends).values(program_id=program_id, **values)
    done = await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[program_ends.c.program_id], set_=values, where=program_ends.c.closed_at.is_(None)
        )
    )
    return bool(done.rowcount)


async def program_end_of(conn: AsyncConnection, program_id: str) -> Any:
    return (await conn.execute(select(program_ends).where(program_ends.c.program_id == program_id))).first()


async def program_ends_at(conn: AsyncConnection) -> datetime | None:
    """When this deployment's program ends (the earliest, were several set), or None."""
    ends: datetime | None = await conn.scalar(select(func.min(program_ends.c.ends_at)))
    return ends


async def open_programs(conn: AsyncConnection) -> list[tuple[str, ProgramEnd]]:
    rows = await conn.execute(
        select(program_ends).where(program_ends.c.closed_at.is_(None)).order_by(program_ends.c.program_id)
    )
    return [(r.program_id, ProgramEnd.model_validate(r.config)) for r in rows]


async def holders_not_reminded(
    conn: AsyncConnection, program_id: str, days: int, limit: int
) -> list[tuple[str, int]]:
    """Members holding points who have not had this reminder yet."""
    reminded = select(program_reminders.c.member_id).where(
        program_reminders.c.program_id == program_id, program_reminders.c.days == days
    )
    rows = await conn.execute(
        select(balances.c.member_id, balances.c.balance)
        .where(balances.c.balance > 0, balances.c.member_id.not_in(reminded))
        .order_by(balances.c.member_id)
        .limit(limit)
    )
    return [(r.member_id, int(r.balance)) for r in rows]


async def mark_program_reminded(
    conn: AsyncConnection, program_id: str, days: int, members: Sequence[str]
) -> None:
    rows = [{"program_id": program_id, "days": days, "member_id": m} for m in members]
    if rows:
        await conn.execute(insert(program_reminders).on_conflict_do_nothing(), rows)


async def holders(conn: AsyncConnection, limit: int) -> list[str]:
    rows = await conn.execute(
        select(balances.c.member_id).where(balances.c.balance > 0).order_by(balances.c.member_id).limit(limit)
    )
    return [r.member_id for r in rows]


async def close_program(conn: AsyncConnection, program_id: str, now: datetime) -> None:
    await conn.execute(
        program_ends.update().where(program_ends.c.program_id == program_id).values(closed_at=now)
    )


Progress = dict[tuple[str, str, str], tuple[set[str], bool]]  # (challenge, member, period) -> marks, done


async def active_challenges(conn: AsyncConnection) -> list[tuple[str, Challenge]]:
    rows = await conn.execute(select(challenges).order_by(challenges.c.challenge_id))
    found = [(r.challenge_id, Challenge.model_validate(r.config)) for r in rows]
    return [(cid, c) for cid, c in found if c.active]


async def progress_of(conn: AsyncConnection, members: Iterable[str], periods: Iterable[str]) -> Progress:
    rows = await conn.execute(
        select(challenge_progress).where(
            challenge_progress.c.member_id.in_(sorted(set(members))),
            challenge_progress.c.period.in_(sorted(set(periods))),
        )
    )
    return {(r.challenge_id, r.member_id, r.period): (set(r.seen), r.completed) for r in rows}


async def save_progress(
    conn: AsyncConnection, progress: Progress, changed: Iterable[tuple[str, str, str]]
) -> None:
    rows = [
        {"challenge_id": c, "member_id": m, "period": p, "seen": sorted(progress[(c, m, p)][0]),
         "completed": progress[(c, m, p)][1]}
        for c, m, p in sorted(set(changed))
    ]  # fmt: skip
    if rows:
        upsert = insert(challenge_progress)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[challenge_progress.c.challenge_id, challenge_progress.c.member_id,
                                challenge_progress.c.period],
                set_={"seen": upsert.excluded.seen, "completed": upsert.excluded.completed},
            ),
            rows,
        )  # fmt: skip


async def upsert_challenge(conn: AsyncConnection, challenge_id: str, challenge: Challenge) -> None:
    upsert = insert(challenges).values(challenge_id=challenge_id, config=challenge.model_dump(mode="json"))
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[challenges.c.challenge_id], set_={"config": upsert.excluded.config}
        )
    )


async def member_challenges(conn: AsyncConnection, member_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(challenge_progress, challenges.c.config)
        .join(challenges, challenges.c.challenge_id == challenge_progress.c.challenge_id)
        .where(challenge_progress.c.member_id == member_id)
        .order_by(challenge_progress.c.period.desc(), challenge_progress.c.challenge_id)
    )
    return [
        {"challenge_id": r.challenge_id, "name": r.config["name"], "period": r.period,
         "progress": len(r.seen), "target": r.config["target"], "badge": r.completed}
        for r in rows
    ]  # fmt: skip
