"""Applying a batch of events to members' points, in order: what each purchase, return, partner purchase
and tier step does, through the posting book, and what each program's hook adds to it.

The handler loads everything the batch needs up front (wallets, rule sets, campaigns, daily totals, the
earns that returns refer to, each program's state), this module computes, and the handler then writes
it all in one go. Nothing here does I/O: a batch runs in a unit test over an in-memory book.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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
from services.points.domain.wallet import points_to_reverse
from services.points.posting import Book
from services.points.program import PurchaseHook
from services.points.store.earning import TierEarn
from services.points.store.ledger import TIER_CORRECTION, Original
from shared.contracts import (
    POINTS_ADJUSTED,
    POINTS_EARNED,
    POINTS_REVERSED,
    Envelope,
    PartnerCampaignAnnounced,
    PartnerPurchaseRecorded,
    PointsAdjusted,
    PointsEarned,
    PointsReversed,
    PurchaseRecorded,
    ReturnRecorded,
    TierChanged,
)

_LOT_NAMESPACE = uuid.UUID("8f0b2d4e-9a7c-4c3e-b1f5-0e6a2d9c7b31")


def local_day(envelope: Envelope[Any]) -> date:
    zone = getattr(envelope.payload, "timezone", "UTC")
    return envelope.occurred_at.astimezone(ZoneInfo(zone)).date()


@dataclass
class PurchaseRun:
    book: Book
    rule_sets: Sequence[tuple[int, RuleSet]]
    campaigns: list[PartnerCampaignAnnounced]
    budgets: dict[str, int]
    earned_today: dict[tuple[str, date], int]
    originals: dict[uuid.UUID, Original]
    tiers: dict[str, list[Step]] = field(default_factory=dict)  # what tier.changed said, per member
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    retiered: dict[str, Envelope[Any]] = field(default_factory=dict)  # members told of, by what
    tier_earns: dict[uuid.UUID, TierEarn] = field(default_factory=dict)
    hooks: Sequence[PurchaseHook] = ()  # each program's part in this batch
    daily: dict[tuple[str, date], int] = field(default_factory=dict)
    funded: dict[str, int] = field(default_factory=dict)
    new_campaigns: list[PartnerCampaignAnnounced] = field(default_factory=list)

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
        return active_rule_set(self.rule_sets, at) or (0, self.book.settings.default_rule_set())

    def _version(self, version: int) -> RuleSet:
        return dict(self.rule_sets).get(version) or self.book.settings.default_rule_set()

    def _tier_step(self, event: Envelope[Any], changed: TierChanged) -> None:
        """A step of the member's tier over event time; the earns it changes are corrected once the
        whole batch is applied (``correct_tiers``)."""
        member = changed.member_id
        steps = self.tiers.setdefault(member, [])
        row = {
            "event_id": event.event_id, "member_id": member, "effective_from": changed.effective_from,
            "tier": changed.to_tier, "multiplier": changed.benefits.earn_multiplier,
            "revision": changed.revision, "corrects_from": changed.corrects_from,
            "program_id": self.book.program_id,
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
        entry_id = uuid.uuid5(_LOT_NAMESPACE, f"tier:{earn.purchase_event_id}:{cause.event_id}")
        reason = f"{TIER_CORRECTION}: purchase {earn.purchase_event_id} earned with {was}, held {now}"
        details = {
            "reason": TIER_CORRECTION, "note": reason, "purchase_event_id": str(earn.purchase_event_id),
            "earned": earned, "reversed": reversed_, "tier_changed_event_id": str(cause.event_id),
        }  # fmt: skip
        if points >= 0:
            self.book.credit(member, "adjust", points, entry_id, at, details)
        else:
            self.book.debit(
                member, "adjust", -points, entry_id, at, details, first=original.lot_id, allow_debt=True
            )
        balance = self.book.balance(member)
        payload = PointsAdjusted(
            member_id=member, points=points, balance=balance, reason=reason, operator="tiers",
            purchase_event_id=earn.purchase_event_id,
        )  # fmt: skip
        # Dated when the purchase was: the figures of a period come out as if it had earned right.
        self.book.emit(POINTS_ADJUSTED, member, payload, cause=cause, at=at)

    def _closed(self, event: Envelope[Any]) -> bool:
        return any(hook.closed(event.occurred_at) for hook in self.hooks)

    def _purchase(self, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        if self._closed(event):
            return
        version, rules = self._rules(event.occurred_at)
        member = purchase.member_id
        day = (member, local_day(event))
        tier, multiplier = Timeline(self.tiers.get(member, [])).before(event.occurred_at)
        context = MemberContext(
            first_purchase=member not in self.book.known,
            tier=tier,
            tier_multiplier=multiplier,
            earned_today=self.earned_today.get(day, 0) + self.daily.get(day, 0),
            campaign_budgets=dict(self.budgets),
            # A purchase made before the member was chosen (and processed late) does not get it.
            promotions=frozenset().union(*(h.promotions(member, event.occurred_at) for h in self.hooks)),
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
        for hook in self.hooks:
            hook.purchased(self.book, event, purchase)

    def _partner_purchase(self, event: Envelope[Any], purchase: PartnerPurchaseRecorded) -> None:
        if self._closed(event):
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
        lot_id = uuid.uuid5(_LOT_NAMESPACE, str(event.event_id))
        details = {
            "rules": [c.model_dump() for c in earning.contributions],
            "rule_set_version": version,
            "amount": str(amount),
            "currency": currency,
            # What a return can take back: everything but the welcome bonus, which is for joining.
            "reversible": earning.points - earning.welcome,
            # Points partner brands fund, for their settlement.
            "funding": [f for f in funding if f["points"]],
            # A purchase at a partner brand, not at the chain (referrals count only the chain's).
            **({"partner_id": partner_id} if partner_id else {}),
        }
        posted = self.book.credit(
            member, "earn", earning.points, event.event_id, event.occurred_at, details, lot_id=lot_id
        )
        # A return later in this same batch must find this earn.
        lot = uuid.UUID(posted.entry.details["lot_id"])
        self.originals[event.event_id] = Original(earning.points - earning.welcome, amount, lot)
        self.book.active(member, event.occurred_at)
        self.book.follow(
            event,
            POINTS_EARNED,
            PointsEarned(
                member_id=member,
                purchase_event_id=event.event_id,
                points=earning.points,
                balance=self.book.balance(member),
                currency=currency,
                amount=amount,
                rules=list(earning.contributions),
                rule_set_version=version,
                partner_points=earning.partner_points,
                expires_at=self.book.settings.lot_expires(event.occurred_at),
            ),
        )

    def _return(self, event: Envelope[Any], ret: ReturnRecorded) -> None:
        member = ret.member_id
        wallet = self.book.wallet(member)
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
        if points:
            details = {
                "purchase_event_id": str(ret.original_event_id),
                "refund_amount": str(ret.refund_amount),
            }
            first = original.lot_id if original else None
            posted = self.book.debit(member, "reverse", points, event.event_id, event.occurred_at, details,
                                     first=first, allow_debt=True)  # fmt: skip
            if wallet.debt > debt_before:
                note = f"{wallet.debt - debt_before} points were already spent: the balance goes negative"
            posted.entry.details.update(debt_after=wallet.debt, note=note)
        self.book.follow(
            event,
            POINTS_REVERSED,
            PointsReversed(
                member_id=member,
                return_event_id=event.event_id,
                purchase_event_id=ret.original_event_id,
                points=points,
                refund_amount=ret.refund_amount,
                balance=wallet.balance,
                debt=wallet.debt,
                note=note,
            ),
        )
        for hook in self.hooks:
            hook.returned(self.book, event, ret, original)
