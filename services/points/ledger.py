"""Applying a batch of events to members' wallets: what each event does to the ledger, in order.

The store loads everything the batch needs up front (wallets, rule sets, campaigns, daily totals, the
earns that returns refer to), the domain computes, and this module turns each event into ledger
entries and the points events that describe them; the store then writes it all in one go.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.points.domain.challenges import Challenge, advance, marks, period_of
from services.points.domain.games import play_id, playable, prize_at, roll
from services.points.domain.rules import (
    Earning,
    MemberContext,
    RuleSet,
    active_rule_set,
    evaluate,
    tier_line,
)
from services.points.domain.rules import partner_earning as partner_rules
from services.points.domain.tiering import Step, Timeline, correct
from services.points.domain.wallet import Wallet, points_to_reverse
from services.points.settings import PointsSettings
from services.points.store.repository import (
    TIER_CORRECTION,
    LedgerEntry,
    LiveGame,
    Original,
    Progress,
    TierEarn,
)
from shared.contracts import (
    BADGE_EARNED,
    CHALLENGE_PROGRESS,
    GAME_PLAYED,
    POINTS_ADJUSTED,
    POINTS_EARNED,
    POINTS_REVERSED,
    BadgeEarned,
    ChallengeProgress,
    Contract,
    Envelope,
    GamePlayed,
    PartnerCampaignAnnounced,
    PartnerPurchaseRecorded,
    PointsAdjusted,
    PointsEarned,
    PointsReversed,
    PurchaseRecorded,
    ReturnRecorded,
    TierChanged,
)
from shared.dates import add_months
from shared.outbox import OutboxMessage, emitted

_LOT_NAMESPACE = uuid.UUID("8f0b2d4e-9a7c-4c3e-b1f5-0e6a2d9c7b31")


def local_day(envelope: Envelope[Any]) -> date:
    zone = getattr(envelope.payload, "timezone", "UTC")
    return envelope.occurred_at.astimezone(ZoneInfo(zone)).date()


@dataclass
class LedgerRun:
    settings: PointsSettings
    rule_sets: list[tuple[int, RuleSet]]
    wallets: dict[str, Wallet]
    known_members: set[str]
    campaigns: list[PartnerCampaignAnnounced]
    budgets: dict[str, int]
    earned_today: dict[tuple[str, date], int]
    originals: dict[uuid.UUID, Original]
    tiers: dict[str, list[Step]] = field(default_factory=dict)  # what tier.changed said, per member
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    retiered: dict[str, Envelope[Any]] = field(default_factory=dict)  # members told of, by what
    tier_earns: dict[uuid.UUID, TierEarn] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    outgoing: list[OutboxMessage] = field(default_factory=list)
    daily: dict[tuple[str, date], int] = field(default_factory=dict)
    funded: dict[str, int] = field(default_factory=dict)
    new_campaigns: list[PartnerCampaignAnnounced] = field(default_factory=list)
    games: list[LiveGame] = field(default_factory=list)
    plays: list[dict[str, Any]] = field(default_factory=list)
    challenges: list[tuple[str, Challenge]] = field(default_factory=list)
    progress: Progress = field(default_factory=dict)
    progressed: set[tuple[str, str, str]] = field(default_factory=set)
    chosen: dict[str, dict[str, datetime]] = field(default_factory=dict)  # targeted promotions, when
    program_ends_at: datetime | None = (
        None  # a time-limited program's end: what is bought after earns nothing
    )

    def apply(self, event: Envelope[Any]) -> None:
        payload = event.payload
        if isinstance(payload, PurchaseRecorded):
            self._purchase(event, payload)
        elif isinstance(payload, ReturnRecorded):
            self._return(event, payload)
        elif isinstance(payload, PartnerPurchaseRecorded):
            self._partner_purchase(event, payload)
        elif isinstance(payload, TierChanged):
            self._tier_step(event, payload)
        elif isinstance(payload, PartnerCampaignAnnounced):
            self.campaigns = [c for c in self.campaigns if c.campaign_id != payload.campaign_id]
            self.campaigns.append(payload)
            self.budgets.setdefault(payload.campaign_id, payload.budget_points)
            self.new_campaigns.append(payload)

    def _rules(self, at: datetime) -> tuple[int, RuleSet]:
        return active_rule_set(self.rule_sets, at) or (0, self.settings.default_rule_set())

    def _version(self, version: int) -> RuleSet:
        return dict(self.rule_sets).get(version) or self.settings.default_rule_set()

    def _tier_step(self, event: Envelope[Any], changed: TierChanged) -> None:
        """A step of the member's tier over event time; the earns it changes are corrected once the
        whole batch is applied (``correct_tiers``)."""
        member = changed.member_id
        steps = self.tiers.setdefault(member, [])
        row = {
            "event_id": event.event_id, "member_id": member, "effective_from": changed.effective_from,
            "tier": changed.to_tier, "multiplier": changed.benefits.earn_multiplier,
            "revision": changed.revision, "corrects_from": changed.corrects_from,
        }  # fmt: skip
        self.new_steps.append(row)
        # Told after every stored step: ``seq`` orders them as the tiers service told them.
        steps.append(Step(changed.effective_from, changed.to_tier, changed.benefits.earn_multiplier,
                          changed.revision, changed.corrects_from, 2**62 + len(self.new_steps)))  # fmt: skip
        self.retiered[member] = event

    def correct_tiers(self, earns: list[TierEarn]) -> None:
        """Each earn of a member whose tier steps changed gets the tier line of the tier held just
        before the purchase; a difference is an adjustment that explains itself (``tier correction``),
        with what the purchase's returns took back moved in proportion."""
        for earn in earns:
            cause = self.retiered.get(earn.member_id)
            original = self.originals.get(earn.purchase_event_id)
            if cause is None or original is None:
                continue
            rules = self._version(earn.rule_set_version)
            tier, multiplier = Timeline(self.tiers.get(earn.member_id, [])).before(earn.occurred_at)
            line = tier_line(rules, tier, multiplier, earn.base)
            old = tier_line(rules, earn.tier, earn.multiplier, earn.base)
            right = line.points if line else 0
            o = original
            fix = correct(earn.line, right, o.points, o.amount, o.refunded, o.reversed)
            earn.tier, earn.multiplier, earn.line = tier, multiplier, right
            self.tier_earns[earn.purchase_event_id] = earn
            if not fix.earned:
                continue
            original.points += fix.earned
            original.reversed += fix.reversed
            was, now = (x.rule if x else "no tier multiplier" for x in (old, line))
            self._tier_correction(earn, original, cause, fix.earned, fix.reversed, was, now)

    def _tier_correction(
        self, earn: TierEarn, original: Original, cause: Envelope[Any], earned: int, reversed_: int,
        was: str, now: str,
    ) -> None:  # fmt: skip
        member, at, points = earn.member_id, earn.occurred_at, earned - reversed_
        wallet = self.wallets[member]
        entry_id = uuid.uuid5(_LOT_NAMESPACE, f"tier:{earn.purchase_event_id}:{cause.event_id}")
        if points > 0:
            wallet.credit(entry_id, points, at, self.settings.lot_expires(at))
        elif points < 0:
            wallet.debit(-points, first=original.lot_id, allow_debt=True)
        reason = f"{TIER_CORRECTION}: purchase {earn.purchase_event_id} earned with {was}, held {now}"
        details = {
            "reason": TIER_CORRECTION, "note": reason, "purchase_event_id": str(earn.purchase_event_id),
            "earned": earned, "reversed": reversed_, "tier_changed_event_id": str(cause.event_id),
            **({"lot_id": str(entry_id)} if points > 0 else {}),
        }  # fmt: skip
        self.entries.append(LedgerEntry(member, "adjust", points, entry_id, at, details))
        payload = PointsAdjusted(
            member_id=member, points=points, balance=wallet.balance, reason=reason, operator="tiers",
            purchase_event_id=earn.purchase_event_id,
        )  # fmt: skip
        # Dated when the purchase was: the figures of a period come out as if it had earned right.
        self.outgoing.append(emitted(self.settings, POINTS_ADJUSTED, member, payload, cause, at))

    def _after_the_program(self, event: Envelope[Any]) -> bool:
        return self.program_ends_at is not None and event.occurred_at >= self.program_ends_at

    def _purchase(self, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        if self._after_the_program(event):
            return
        version, rules = self._rules(event.occurred_at)
        member = purchase.member_id
        day = (member, local_day(event))
        tier, multiplier = Timeline(self.tiers.get(member, [])).before(event.occurred_at)
        context = MemberContext(
            first_purchase=member not in self.known_members,
            tier=tier,
            tier_multiplier=multiplier,
            earned_today=self.earned_today.get(day, 0) + self.daily.get(day, 0),
            campaign_budgets=dict(self.budgets),
            # A purchase made before the member was chosen (and processed late) does not get it.
            promotions=frozenset(
                name for name, at in self.chosen.get(member, {}).items() if at <= event.occurred_at
            ),
        )
        earning = evaluate(rules, purchase, event.occurred_at, context, self.campaigns)
        if earning.base:
            line = tier_line(rules, tier, multiplier, earning.base)
            self.tier_earns[event.event_id] = TierEarn(
                event.event_id, member, event.occurred_at, earning.base, version, tier, multiplier,
                line.points if line else 0,
            )  # fmt: skip
        for campaign_id, points in earning.partner_points.items():
            self.budgets[campaign_id] -= points
            self.funded[campaign_id] = self.funded.get(campaign_id, 0) + points
        self.daily[day] = self.daily.get(day, 0) + earning.points
        partner_of = {c.campaign_id: c.partner_id for c in self.campaigns}
        funding = [
            {"partner_id": partner_of[cid], "campaign_id": cid, "points": pts}
            for cid, pts in earning.partner_points.items()
        ]
        self._credit(event, earning, version, purchase.currency, purchase.total_amount, funding)
        for live in self.games:
            self._play(live, event, purchase)
        for challenge_id, challenge in self.challenges:
            self._challenge(challenge_id, challenge, event, purchase)

    def _challenge(
        self, challenge_id: str, challenge: Challenge, event: Envelope[Any], purchase: PurchaseRecorded
    ) -> None:
        day = local_day(event)
        key = (challenge_id, purchase.member_id, period_of(day))
        seen, done = self.progress.get(key, (set(), False))
        after, reached = advance(challenge, seen, marks(challenge, purchase, day))
        if after == seen:
            return
        self.progress[key] = (after, done or reached)
        self.progressed.add(key)
        period = key[2]
        self._emit(
            CHALLENGE_PROGRESS,
            event,
            ChallengeProgress(
                member_id=purchase.member_id, challenge_id=challenge_id, name=challenge.name, period=period,
                progress=len(after), target=challenge.target,
            ),
        )  # fmt: skip
        if not reached or done:
            return
        wallet = self.wallets[purchase.member_id]
        points = challenge.bonus_points
        if points:
            lot = uuid.uuid5(_LOT_NAMESPACE, f"badge:{challenge_id}:{purchase.member_id}:{period}")
            wallet.credit(lot, points, event.occurred_at, self.settings.lot_expires(event.occurred_at))
            details = {"challenge_id": challenge_id, "period": period, "lot_id": str(lot)}
            self.entries.append(
                LedgerEntry(purchase.member_id, "badge", points, lot, event.occurred_at, details)
            )
        self._emit(
            BADGE_EARNED,
            event,
            BadgeEarned(
                member_id=purchase.member_id, challenge_id=challenge_id, name=challenge.name, period=period,
                points=points, balance=wallet.balance,
            ),
        )  # fmt: skip

    def _play(self, live: LiveGame, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        """One play per qualifying purchase, drawn from the committed seed; a prize is a lot of its own."""
        game = live.game
        qualifies = (
            purchase.currency == game.currency
            and purchase.total_amount >= game.min_purchase
            and game.starts_at <= event.occurred_at < game.ends_at
        )
        if not qualifies or not playable(game, live.budget_left, live.stock_left):
            return
        play = play_id(live.game_id, event.event_id)
        number, proof = roll(live.seed, live.game_id, play)
        prize = prize_at(game.prizes, number)
        points = prize.points if prize else 0
        wallet = self.wallets[purchase.member_id]
        if prize:
            live.budget_left -= points
            if (left := live.stock_left.get(prize.name)) is not None:
                live.stock_left[prize.name] = left - 1
            wallet.credit(play, points, event.occurred_at, self.settings.lot_expires(event.occurred_at))
            details = {"game_id": live.game_id, "prize": prize.name, "proof": proof, "lot_id": str(play)}
            entry = LedgerEntry(purchase.member_id, "prize", points, play, event.occurred_at, details)
            self.entries.append(entry)
        self.plays.append(
            {"play_id": play, "game_id": live.game_id, "member_id": purchase.member_id,
             "purchase_event_id": event.event_id, "proof": proof, "prize": prize.name if prize else None,
             "points": points, "at": event.occurred_at}
        )  # fmt: skip
        self._emit(
            GAME_PLAYED,
            event,
            GamePlayed(
                member_id=purchase.member_id,
                game_id=live.game_id,
                play_id=play,
                purchase_event_id=event.event_id,
                prize=prize.name if prize else None,
                points=points,
                proof=proof,
                balance=wallet.balance,
            ),
        )

    def _partner_purchase(self, event: Envelope[Any], purchase: PartnerPurchaseRecorded) -> None:
        if self._after_the_program(event):
            return
        version, rules = self._rules(event.occurred_at)
        earning = partner_rules(rules, purchase.partner_id, purchase.currency, purchase.total_amount)
        funding = [{"partner_id": purchase.partner_id, "campaign_id": None, "points": earning.points}]
        amount = purchase.total_amount
        self._credit(event, earning, version, purchase.currency, amount, funding, purchase.partner_id)

    def _credit(
        self,
        event: Envelope[Any],
        earning: Earning,
        version: int,
        currency: str,
        amount: Decimal,
        funding: list[dict[str, Any]],
        partner_id: str | None = None,
    ) -> None:
        member = event.payload.member_id
        wallet = self.wallets[member]
        self.known_members.add(member)
        expires_at = self.settings.lot_expires(event.occurred_at)
        lot_id = uuid.uuid5(_LOT_NAMESPACE, str(event.event_id))
        repaid = wallet.credit(lot_id, earning.points, event.occurred_at, expires_at)
        if self.settings.points_expiry_policy == "inactivity":
            wallet.keep_alive(add_months(event.occurred_at, self.settings.points_expiry_months))
        # A return later in this same batch must find this earn.
        self.originals[event.event_id] = Original(earning.points - earning.welcome, amount, lot_id)
        rules = [c.model_dump() for c in earning.contributions]
        self.entries.append(
            LedgerEntry(
                member_id=member,
                kind="earn",
                points=earning.points,
                source_event_id=event.event_id,
                occurred_at=event.occurred_at,
                details={
                    "rules": rules,
                    "rule_set_version": version,
                    "amount": str(amount),
                    "currency": currency,
                    "lot_id": str(lot_id),
                    "repaid_debt": repaid,
                    # What a return can take back: everything but the welcome bonus, which is for joining.
                    "reversible": earning.points - earning.welcome,
                    # Points partner brands fund, for their settlement.
                    "funding": [f for f in funding if f["points"]],
                    # A purchase at a partner brand, not at the chain (referrals count only the chain's).
                    **({"partner_id": partner_id} if partner_id else {}),
                },
            )
        )
        self._emit(
            POINTS_EARNED,
            event,
            PointsEarned(
                member_id=member,
                purchase_event_id=event.event_id,
                points=earning.points,
                balance=wallet.balance,
                currency=currency,
                amount=amount,
                rules=list(earning.contributions),
                rule_set_version=version,
                partner_points=earning.partner_points,
                expires_at=expires_at,
            ),
        )

    def _return(self, event: Envelope[Any], ret: ReturnRecorded) -> None:
        wallet = self.wallets[ret.member_id]
        original = self.originals.get(ret.original_event_id)
        note = ""
        points = 0
        if original is None:
            note = "the original purchase earned no points here"
        else:
            refunded = original.amount if ret.full else original.refunded + ret.refund_amount
            points = points_to_reverse(original.points, original.amount, refunded, original.reversed)
            original.reversed += points
            original.refunded += ret.refund_amount
        debt_before = wallet.debt
        takes = wallet.debit(points, first=original.lot_id if original else None, allow_debt=True)
        if wallet.debt > debt_before:
            note = f"{wallet.debt - debt_before} points were already spent: the balance goes negative"
        if points:
            self.entries.append(
                LedgerEntry(
                    member_id=ret.member_id,
                    kind="reverse",
                    points=-points,
                    source_event_id=event.event_id,
                    occurred_at=event.occurred_at,
                    details={
                        "purchase_event_id": str(ret.original_event_id),
                        "refund_amount": str(ret.refund_amount),
                        "lots": [{"lot_id": str(t.lot_id), "points": t.points} for t in takes],
                        "debt_after": wallet.debt,
                        "note": note,
                    },
                )
            )
        self._emit(
            POINTS_REVERSED,
            event,
            PointsReversed(
                member_id=ret.member_id,
                return_event_id=event.event_id,
                purchase_event_id=ret.original_event_id,
                points=points,
                refund_amount=ret.refund_amount,
                balance=wallet.balance,
                debt=wallet.debt,
                note=note,
            ),
        )

    def _emit(self, contract: Contract[Any], cause: Envelope[Any], payload: BaseModel) -> None:
        # Points move when the purchase or return happened, whenever it is processed.
        self.outgoing.append(emitted(self.settings, contract, cause.key, payload, cause, cause.occurred_at))
