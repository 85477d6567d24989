"""Thin handlers: decode (done by the core) -> load -> domain -> store -> emit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN, LoyaltyProgram
from services.points.domain.rules import RuleSet
from services.points.program import Batch, Program
from services.points.purchases import PurchaseRun, local_day
from services.points.settings import PointsSettings
from services.points.store.earning import (
    add_daily,
    add_tier_steps,
    earned_on,
    fund_campaigns,
    keep_purchases,
    live_campaigns,
    rule_set_versions,
    save_tier_earns,
    tier_earns_of,
    tier_steps_of,
    upsert_campaign,
)
from services.points.store.ledger import book_writes, open_book, originals
from services.points.store.loyalty import loyalty_programs
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    PARTNER_CAMPAIGN_ANNOUNCED,
    PARTNER_PURCHASE_RECORDED,
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    TIER_CHANGED,
    Contract,
    Envelope,
    PartnerCampaignAnnounced,
    PartnerPurchaseRecorded,
    PurchaseRecorded,
    ReturnRecorded,
    TierChanged,
)
from shared.contracts.envelope import utcnow
from shared.outbox import OutboxMessage
from shared.store.bulk import Writes
from shared.store.settled import Stamps, stamps

# What moves the ledger; programs add what they read (``consumes``).
LEDGER_CONSUMES: list[Contract[Any]] = [
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    PARTNER_PURCHASE_RECORDED,
    PARTNER_CAMPAIGN_ANNOUNCED,
    TIER_CHANGED,
]


def consumes(programs: Sequence[Program]) -> list[Contract[Any]]:
    found = list(LEDGER_CONSUMES)
    for contract in (c for p in programs for c in p.consumes):
        if contract not in found:
            found.append(contract)
    return found


async def _correct_tiers(conn: AsyncConnection, settings: PointsSettings, run: PurchaseRun) -> None:
    """The earns of members whose tier steps changed in the run's program, as far back as the policy
    says, corrected."""
    since, program_id = utcnow() - timedelta(days=settings.points_tier_correction_days), run.book.program_id
    stored = await tier_earns_of(conn, run.retiered, since, program_id)
    earns = {e.purchase_event_id: e for e in stored} | {
        k: e for k, e in run.tier_earns.items() if e.occurred_at >= since
    }
    missing = [k for k in earns if k not in run.originals]
    run.originals.update(await originals(conn, missing, program_id))
    run.correct_tiers(sorted(earns.values(), key=lambda e: (e.occurred_at, e.purchase_event_id)))


def belongs(event: Envelope[Any], program_id: str, program: LoyaltyProgram) -> bool:
    """A purchase belongs to a program open to its chain, a partner's purchase to one its partner is in,
    a tier step to the program whose ladder it is on."""
    payload = event.payload
    if isinstance(payload, TierChanged):
        return payload.program_id == program_id
    if isinstance(payload, PurchaseRecorded):
        return program.takes_chain(payload.chain_id)
    if isinstance(payload, PartnerPurchaseRecorded):
        return program.takes_partner(payload.partner_id)
    return isinstance(payload, ReturnRecorded)  # wherever its purchase earned


def _main_reads(event: Envelope[Any]) -> bool:
    """Main takes every purchase, return and partner event; of the tier steps, its own ladder's."""
    return not isinstance(event.payload, TierChanged) or event.payload.program_id == MAIN


def ledger_handler(settings: PointsSettings, programs: Sequence[Program] = ()) -> BatchHandler:
    parsed: dict[int, RuleSet] = {}  # rule set versions are immutable: validate each once
    ledger_reads = {c.name for c in LEDGER_CONSUMES}

    async def handle(conn: AsyncConnection, batch: Sequence[Envelope[Any]]) -> BatchResult:
        # What programs read (enrolments for referrals, segments for targeting) goes to them first;
        # several may read one contract, and one may read what the ledger applies (tier changes).
        for program in programs:
            names = {c.name for c in program.consumes}
            mine = [e for e in batch if e.type in names]
            if mine and program.record is not None:
                await program.record(conn, mine)
        events = [e for e in batch if e.type in ledger_reads]
        if not events:
            return BatchResult()
        seen = await stamps(conn)  # the registry, rules, challenges and program ends: read when changed
        # The purchase history goes in main's statement (or alone, when main has nothing to apply).
        writes = Writes()
        keep_purchases(writes, [e for e in events if isinstance(e.payload, PurchaseRecorded)])
        own = [e for e in events if _main_reads(e)]
        outgoing = await _apply(conn, MAIN, own, writes, seen) if own else []
        # The other loyalty programs: what belongs to each earns (or is returned) there too, in program
        # order (one lock order: programs, then members).
        for program_id, loyalty in sorted((await loyalty_programs(conn, seen)).items()):
            mine = [e for e in events if belongs(e, program_id, loyalty)] if program_id != MAIN else []
            if mine:
                outgoing += await _apply(conn, program_id, mine, Writes(), seen)
        await writes.run(conn)
        return BatchResult(outgoing=outgoing)

    async def _apply(
        conn: AsyncConnection, program_id: str, events: list[Envelope[Any]], writes: Writes, seen: Stamps
    ) -> list[OutboxMessage]:
        """The events through one program's book. Partner campaigns and the program packages (games,
        challenges, ...) are the main program's; another program earns by its own rules, with its own
        ledger, daily totals, tier steps (its own ladder's) and tier lines."""
        main = program_id == MAIN
        members = {e.payload.member_id for e in events if hasattr(e.payload, "member_id")}
        purchases = [e for e in events if isinstance(e.payload, PurchaseRecorded)]
        returns = [e for e in events if isinstance(e.payload, ReturnRecorded)]
        retiered = {e.payload.member_id for e in events if isinstance(e.payload, TierChanged)}
        found = await originals(conn, (r.payload.original_event_id for r in returns), program_id)
        if not main:  # a return concerns a program only where its purchase earned
            returns = [r for r in returns if r.payload.original_event_id in found]
            events = [e for e in events if not isinstance(e.payload, ReturnRecorded) or e in returns]
            if not events:
                await writes.run(conn)
                return []
        # Only returns and tier corrections take points back; earning needs no lots.
        book = await open_book(
            conn, settings, members, with_lots={r.payload.member_id for r in returns} | retiered,
            program_id=program_id,
        )  # fmt: skip
        announced = (e.payload.campaign_id for e in events if isinstance(e.payload, PartnerCampaignAnnounced))
        campaigns, budgets = (
            await live_campaigns(conn, purchases, announced) if purchases and main else ([], {})
        )
        rule_sets = await rule_set_versions(conn, parsed, program_id, seen)
        capped = any(r.cap_per_day for _, r in rule_sets)  # the daily totals matter only then
        view = Batch(purchases, returns, frozenset(members), rule_sets, program_id, seen)
        hooks = [await p.purchases(conn, view) for p in programs if p.purchases is not None]
        days = ((e.payload.member_id, local_day(e)) for e in purchases)
        run = PurchaseRun(
            book=book,
            rule_sets=rule_sets,
            campaigns=campaigns,
            budgets=budgets,
            earned_today=await earned_on(conn, days, program_id) if capped else {},
            originals=found,
            tiers=await tier_steps_of(conn, members, program_id),
            hooks=hooks,
        )
        # Campaigns first: within a batch, records of different topics come in no particular order,
        # and a purchase made while a campaign runs should get its bonus whichever came first.
        for event in sorted(events, key=lambda e: not isinstance(e.payload, PartnerCampaignAnnounced)):
            if main or not isinstance(event.payload, PartnerCampaignAnnounced):
                run.apply(event)
        if retiered:
            await _correct_tiers(conn, settings, run)
        for campaign in run.new_campaigns:
            await upsert_campaign(conn, campaign)
        await fund_campaigns(conn, run.funded)
        # The ledger, lots, balances, daily totals, tier steps and lines: one statement.
        book_writes(writes, book)
        add_daily(writes, run.daily, program_id)
        add_tier_steps(writes, run.new_steps)
        save_tier_earns(writes, run.tier_earns.values(), program_id)
        await writes.run(conn)
        for hook in hooks:
            await hook.save(conn)
        return book.outgoing

    return handle
