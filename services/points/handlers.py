"""Thin handlers: decode (done by the core) -> load -> domain -> store -> emit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.challenges import period_of
from services.points.domain.referrals import refusal
from services.points.domain.rules import RuleSet
from services.points.ledger import LedgerRun, local_day
from services.points.settings import PointsSettings
from services.points.store import referrals, targeting
from services.points.store.repository import (
    active_challenges,
    add_daily,
    add_tier_steps,
    earned_on,
    fund_campaigns,
    live_campaigns,
    live_games,
    load_wallets,
    originals,
    program_ends_at,
    progress_of,
    rule_set_versions,
    save,
    save_games,
    save_progress,
    save_tier_earns,
    tier_earns_of,
    tier_steps_of,
    upsert_campaign,
)
from shared.consumer import BatchHandler, BatchResult
from shared.contracts import (
    MEMBER_ENROLLED,
    PARTNER_CAMPAIGN_ANNOUNCED,
    PARTNER_PURCHASE_RECORDED,
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    SEGMENT_CHANGED,
    TIER_CHANGED,
    Contract,
    Envelope,
    MemberEnrolled,
    PartnerCampaignAnnounced,
    PurchaseRecorded,
    ReturnRecorded,
    SegmentChanged,
    TierChanged,
)
from shared.contracts.envelope import utcnow

CONSUMES: list[Contract[Any]] = [
    PURCHASE_RECORDED,
    RETURN_RECORDED,
    PARTNER_PURCHASE_RECORDED,
    PARTNER_CAMPAIGN_ANNOUNCED,
    TIER_CHANGED,
    MEMBER_ENROLLED,
    SEGMENT_CHANGED,
]


async def record_referrals(conn: AsyncConnection, enrolments: Sequence[Envelope[MemberEnrolled]]) -> None:
    """Each enrolment with a code becomes a pending referral, or a refused one with the reason.

    One at a time: two friends naming each other's codes in one batch must see each other."""
    owners = await referrals.code_owners(conn, (e.payload.referral_code or "" for e in enrolments))
    for event in enrolments:
        friend, code = event.payload.member_id, event.payload.referral_code or ""
        referrer = owners.get(code)
        above = await referrals.referrers_above(conn, referrer) if referrer else []
        reason = refusal(friend, referrer, above)
        row = {"friend_id": friend, "referrer_id": referrer, "code": code, "enrolled_at": event.occurred_at}
        await referrals.record(
            conn, [row | {"status": "refused" if reason else "pending", "reason": reason or ""}]
        )


async def _correct_tiers(conn: AsyncConnection, settings: PointsSettings, run: LedgerRun) -> None:
    """The earns of members whose tier steps changed, as far back as the policy says, corrected."""
    since = utcnow() - timedelta(days=settings.points_tier_correction_days)
    stored = await tier_earns_of(conn, run.retiered, since)
    earns = {e.purchase_event_id: e for e in stored} | {
        k: e for k, e in run.tier_earns.items() if e.occurred_at >= since
    }
    missing = [k for k in earns if k not in run.originals]
    run.originals.update(await originals(conn, missing))
    run.correct_tiers(sorted(earns.values(), key=lambda e: (e.occurred_at, e.purchase_event_id)))


def ledger_handler(settings: PointsSettings) -> BatchHandler:
    parsed: dict[int, RuleSet] = {}  # rule set versions are immutable: validate each once

    async def handle(conn: AsyncConnection, batch: Sequence[Envelope[Any]]) -> BatchResult:
        # Enrolments and segments only feed referrals and targeting; the rest moves the ledger.
        await record_referrals(
            conn, [e for e in batch if isinstance(e.payload, MemberEnrolled) and e.payload.referral_code]
        )
        await targeting.save_segments(
            conn,
            [
                {"member_id": p.member_id, "segment": p.segment, "rfm_label": p.rfm_label, "as_of": p.as_of}
                for p in (e.payload for e in batch)
                if isinstance(p, SegmentChanged)
            ],
        )
        events = [e for e in batch if not isinstance(e.payload, MemberEnrolled | SegmentChanged)]
        if not events:
            return BatchResult()
        members = {e.payload.member_id for e in events if hasattr(e.payload, "member_id")}
        purchases = [e for e in events if isinstance(e.payload, PurchaseRecorded)]
        returns = [e.payload for e in events if isinstance(e.payload, ReturnRecorded)]
        retiered = {e.payload.member_id for e in events if isinstance(e.payload, TierChanged)}
        # Only returns and tier corrections take points back; earning needs no lots.
        wallets, known = await load_wallets(
            conn, members, with_lots={r.member_id for r in returns} | retiered
        )
        campaigns, budgets = await live_campaigns(conn) if purchases else ([], {})
        times = [e.occurred_at for e in purchases]
        games = await live_games(conn, min(times), max(times)) if purchases else []
        challenges = await active_challenges(conn) if purchases else []
        progress = (
            await progress_of(conn, members, {period_of(local_day(e)) for e in purchases})
            if challenges
            else {}
        )
        rule_sets = await rule_set_versions(conn, parsed)
        capped = any(r.cap_per_day for _, r in rule_sets)  # the daily totals matter only then
        targeted = {p.name for _, r in rule_sets for p in r.targeted()}
        run = LedgerRun(
            settings=settings,
            rule_sets=rule_sets,
            wallets=wallets,
            known_members=known,
            campaigns=campaigns,
            budgets=budgets,
            earned_today=await earned_on(conn, ((e.payload.member_id, local_day(e)) for e in purchases))
            if capped
            else {},
            originals=await originals(conn, (r.original_event_id for r in returns)),
            tiers=await tier_steps_of(conn, members),
            games=games,
            challenges=challenges,
            progress=progress,
            chosen=await targeting.chosen_for(conn, (e.payload.member_id for e in purchases), targeted)
            if purchases
            else {},
            program_ends_at=await program_ends_at(conn),
        )
        # Campaigns first: within a batch, records of different topics come in no particular order,
        # and a purchase made while a campaign runs should get its bonus whichever came first.
        for event in sorted(events, key=lambda e: not isinstance(e.payload, PartnerCampaignAnnounced)):
            run.apply(event)
        if retiered:
            await _correct_tiers(conn, settings, run)
        await save(conn, wallets.values(), run.entries)
        await add_daily(conn, run.daily)
        for campaign in run.new_campaigns:
            await upsert_campaign(conn, campaign)
        await fund_campaigns(conn, run.funded)
        await add_tier_steps(conn, run.new_steps)
        await save_tier_earns(conn, run.tier_earns.values())
        await save_games(conn, games, run.plays)
        await save_progress(conn, run.progress, run.progressed)
        return BatchResult(outgoing=run.outgoing)

    return handle
