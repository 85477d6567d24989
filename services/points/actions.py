"""What the points API and the scheduled jobs do, each inside the caller's transaction.

Redemption is a two-step reservation: ``reserve`` takes the points (oldest lots first) and a unit of
stock at once, so nothing can be spent twice; ``confirm`` issues the reward code; ``release`` (the POS
cancelled, or nobody confirmed in time) gives the points back to the lots they came from. Every step
is idempotent by the POS's request id, writes the ledger, and emits its event through the outbox.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.causes import brand_match
from services.points.domain.referrals import Cleared, cleared_purchase, lapsed
from services.points.domain.rules import active_rule_set
from services.points.domain.targeting import group_of, reason, running_on
from services.points.domain.wallet import InsufficientPoints, Take, Wallet
from services.points.settings import PointsSettings
from services.points.store import referrals, targeting
from services.points.store.repository import (
    LedgerEntry,
    add_redemption,
    cause_for_update,
    close_program,
    donation_by_id,
    expiring_unreminded,
    held_past,
    holders,
    holders_not_reminded,
    ledger_entry,
    load_wallets,
    lots_by_id,
    mark_program_reminded,
    mark_reminded,
    members_with_expired_lots,
    move_stock,
    open_programs,
    record_donation,
    redemption_for_update,
    reward_for_update,
    rule_set_versions,
    save,
    settle_redemption,
)
from shared.contracts import (
    POINTS_ADJUSTED,
    POINTS_DONATED,
    POINTS_EXPIRED,
    POINTS_EXPIRING_SOON,
    POINTS_REDEEMED,
    POINTS_TRANSFERRED,
    PROGRAM_ENDED,
    PROGRAM_ENDING,
    PROMOTION_TARGETED,
    REDEMPTION_RELEASED,
    REFERRAL_REWARDED,
    REWARD_ISSUED,
    Contract,
    PointsAdjusted,
    PointsDonated,
    PointsExpired,
    PointsExpiringSoon,
    PointsRedeemed,
    PointsTransferred,
    ProgramEnded,
    ProgramEnding,
    PromotionTargeted,
    RedemptionReleased,
    ReferralRewarded,
    RewardIssued,
)
from shared.errors import Conflict, Declined, Invalid, NotFound
from shared.outbox import append, emitted

_EXPIRY_NAMESPACE = uuid.UUID("b5f3c1a2-6d4e-4f7a-8c9b-2e1d0a3f5c67")
_REFERRAL_NAMESPACE = uuid.UUID("3c9e7a1d-52b4-4e8f-9a06-d17f2b8c4e95")


async def _emit(
    conn: AsyncConnection, settings: PointsSettings, contract: Contract[Any], member: str, payload: BaseModel
) -> None:
    await append(conn, [emitted(settings, contract, member, payload)])


def _takes_json(takes: list[Take]) -> list[dict[str, Any]]:
    return [{"lot_id": str(t.lot_id), "points": t.points} for t in takes]


def reward_code() -> str:
    """80 random bits, in groups a cashier can read out: XXXX-XXXX-XXXX-XXXX."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _redemption_json(row: Any) -> dict[str, Any]:
    answer = {
        "redemption_id": str(row.redemption_id),
        "member_id": row.member_id,
        "reward_id": row.reward_id,
        "points": row.points,
        "status": row.status,
        "hold_until": row.hold_until.isoformat(),
    }
    if row.code:
        answer["code"] = row.code
    return answer


async def reserve(
    conn: AsyncConnection,
    settings: PointsSettings,
    redemption_id: uuid.UUID,
    member_id: str,
    reward_id: str,
    now: datetime,
) -> dict[str, Any]:
    existing = await redemption_for_update(conn, redemption_id)
    if existing is not None:
        if (existing.member_id, existing.reward_id) != (member_id, reward_id):
            raise Conflict("this request id was used for another redemption")
        return _redemption_json(existing)
    reward = await reward_for_update(conn, reward_id)
    if reward is None:
        raise NotFound(f"there is no reward {reward_id!r} in the catalog", title="Unknown reward")
    if (
        not reward.active
        or (reward.valid_from and now < reward.valid_from)
        or (reward.valid_until and now >= reward.valid_until)
    ):
        raise Conflict(f"{reward_id!r} cannot be redeemed now", title="Reward unavailable")
    if reward.stock is not None and reward.stock <= 0:
        raise Conflict(f"{reward_id!r} is out of stock", title="Out of stock")
    wallets, _ = await load_wallets(conn, [member_id])
    wallet = wallets[member_id]
    try:
        takes = wallet.debit(reward.cost_points)
    except InsufficientPoints as short:
        raise Declined(
            f"{reward_id!r} costs {short.wanted} points; the balance is {short.available}",
            title="Insufficient points",
            field="member_id",
            rule="insufficient_points",
            message=f"balance {short.available}",
        ) from None
    await move_stock(conn, reward_id, -1)
    hold_until = now + timedelta(seconds=settings.points_redemption_hold_s)
    await add_redemption(
        conn,
        redemption_id=redemption_id,
        member_id=member_id,
        reward_id=reward_id,
        points=reward.cost_points,
        status="reserved",
        takes=_takes_json(takes),
        hold_until=hold_until,
    )
    entry = LedgerEntry(
        member_id, "redeem", -reward.cost_points, redemption_id, now,
        {"reward_id": reward_id, "lots": _takes_json(takes)},
    )  # fmt: skip
    await save(conn, [wallet], [entry])
    await _emit(
        conn,
        settings,
        POINTS_REDEEMED,
        member_id,
        PointsRedeemed(
            member_id=member_id,
            redemption_id=redemption_id,
            reward_id=reward_id,
            points=reward.cost_points,
            balance=wallet.balance,
        ),
    )
    return {
        "redemption_id": str(redemption_id),
        "member_id": member_id,
        "reward_id": reward_id,
        "points": reward.cost_points,
        "status": "reserved",
        "hold_until": hold_until.isoformat(),
        "balance": wallet.balance,
    }


async def confirm(
    conn: AsyncConnection, settings: PointsSettings, redemption_id: uuid.UUID
) -> dict[str, Any]:
    row = await redemption_for_update(conn, redemption_id)
    if row is None:
        raise NotFound(f"no redemption {redemption_id}", title="Unknown redemption")
    if row.status == "confirmed":
        return _redemption_json(row)
    if row.status != "reserved":
        raise Conflict(f"this redemption was {row.status}; reserve again", title="Redemption released")
    code = reward_code()
    await settle_redemption(conn, redemption_id, "confirmed", code)
    reward = await reward_for_update(conn, row.reward_id)
    await _emit(
        conn,
        settings,
        REWARD_ISSUED,
        row.member_id,
        RewardIssued(
            member_id=row.member_id,
            redemption_id=redemption_id,
            reward_id=row.reward_id,
            name=reward.name,
            kind=reward.kind,
            code=code,
            valid_until=reward.valid_until,
        ),
    )
    return {**_redemption_json(row), "status": "confirmed", "code": code}


async def release(
    conn: AsyncConnection, settings: PointsSettings, redemption_id: uuid.UUID, reason: str, now: datetime
) -> dict[str, Any]:
    """Cancel a reservation: its points go back to the lots they came from, its stock to the shelf."""
    row = await redemption_for_update(conn, redemption_id)
    if row is None:
        raise NotFound(f"no redemption {redemption_id}", title="Unknown redemption")
    if row.status in ("cancelled", "expired"):
        return _redemption_json(row)
    if row.status == "confirmed":
        raise Conflict("a confirmed redemption cannot be cancelled", title="Redemption confirmed")
    wallets, _ = await load_wallets(conn, [row.member_id])
    wallet = wallets[row.member_id]
    takes = [Take(uuid.UUID(t["lot_id"]), t["points"]) for t in row.takes]
    await lots_by_id(conn, wallet, (t.lot_id for t in takes))
    wallet.restore(takes)
    status = "cancelled" if reason == "cancelled" else "expired"
    await settle_redemption(conn, redemption_id, status)
    await move_stock(conn, row.reward_id, 1)
    entry = LedgerEntry(
        row.member_id, "redeem_release", row.points, redemption_id, now,
        {"reward_id": row.reward_id, "reason": reason, "lots": row.takes},
    )  # fmt: skip
    await save(conn, [wallet], [entry])
    await _emit(
        conn,
        settings,
        REDEMPTION_RELEASED,
        row.member_id,
        RedemptionReleased(
            member_id=row.member_id,
            redemption_id=redemption_id,
            reward_id=row.reward_id,
            points=row.points,
            balance=wallet.balance,
            reason=reason,
        ),
    )
    return {**_redemption_json(row), "status": status, "balance": wallet.balance}


def _insufficient(verb: str, points: int, short: InsufficientPoints) -> Declined:
    """A debit the balance cannot cover, naming the field that asked too much."""
    return Declined(
        f"cannot {verb} {points} points: the balance is {short.available}",
        title="Insufficient points",
        field="points",
        rule="insufficient_points",
        message=f"balance {short.available}",
    )


async def adjust(
    conn: AsyncConnection,
    settings: PointsSettings,
    request_id: uuid.UUID,
    member_id: str,
    points: int,
    reason: str,
    operator: str,
    now: datetime,
) -> dict[str, Any]:
    """A manual correction by an operator, with the reason; a debit cannot overdraw."""
    done = await ledger_entry(conn, request_id, "adjust")
    if done is not None:
        return {"member_id": done.member_id, "points": done.points, "request_id": str(request_id)}
    wallets, _ = await load_wallets(conn, [member_id])
    wallet = wallets[member_id]
    details: dict[str, Any] = {"reason": reason, "operator": operator}
    if points >= 0:
        wallet.credit(request_id, points, now, settings.lot_expires(now))
        details["lot_id"] = str(request_id)
    else:
        try:
            details["lots"] = _takes_json(wallet.debit(-points))
        except InsufficientPoints as short:
            raise _insufficient("take", -points, short) from None
    await save(conn, [wallet], [LedgerEntry(member_id, "adjust", points, request_id, now, details)])
    await _emit(
        conn,
        settings,
        POINTS_ADJUSTED,
        member_id,
        PointsAdjusted(
            member_id=member_id, points=points, balance=wallet.balance, reason=reason, operator=operator
        ),
    )
    return {
        "member_id": member_id,
        "points": points,
        "balance": wallet.balance,
        "request_id": str(request_id),
    }


async def transfer(
    conn: AsyncConnection,
    settings: PointsSettings,
    transfer_id: uuid.UUID,
    sender: str,
    recipient: str,
    points: int,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """Move points between members, oldest of the sender's first; the recipient gets a fresh lot."""
    done = await ledger_entry(conn, transfer_id, "transfer_out")
    if done is not None:
        return {"transfer_id": str(transfer_id), "from": done.member_id, "points": -done.points}
    if sender == recipient:
        raise Invalid("a member cannot transfer points to themselves")
    wallets, _ = await load_wallets(conn, [sender, recipient], with_lots=[sender])
    try:
        takes = wallets[sender].debit(points)
    except InsufficientPoints as short:
        raise _insufficient("transfer", points, short) from None
    lot_id = uuid.uuid5(transfer_id, "in")
    wallets[recipient].credit(lot_id, points, now, settings.lot_expires(now))
    entries = [
        LedgerEntry(sender, "transfer_out", -points, transfer_id, now,
                    {"to": recipient, "note": note, "lots": _takes_json(takes)}),
        LedgerEntry(recipient, "transfer_in", points, transfer_id, now,
                    {"from": sender, "note": note, "lot_id": str(lot_id)}),
    ]  # fmt: skip
    await save(conn, wallets.values(), entries)
    for member, other, moved in ((sender, recipient, -points), (recipient, sender, points)):
        payload = PointsTransferred(
            member_id=member,
            counterparty=other,
            points=moved,
            balance=wallets[member].balance,
            transfer_id=transfer_id,
            note=note,
        )
        await _emit(conn, settings, POINTS_TRANSFERRED, member, payload)
    return {
        "transfer_id": str(transfer_id),
        "from": sender,
        "to": recipient,
        "points": points,
        "balance": wallets[sender].balance,
    }


async def donate(
    conn: AsyncConnection,
    settings: PointsSettings,
    donation_id: uuid.UUID,
    member_id: str,
    cause_id: str,
    points: int,
    now: datetime,
) -> dict[str, Any]:
    """A member gives points to a cause: they leave the member's wallet (oldest first) for the cause
    ledger, and the brand adds its match while the match budget lasts. A retry is the same donation."""
    known = await donation_by_id(conn, donation_id)
    if known is not None:
        return _donation_json(known)
    cause = await cause_for_update(conn, cause_id)
    if cause is None or not cause.active:
        raise NotFound(f"no active cause {cause_id!r}", title="Unknown cause")
    wallets, _ = await load_wallets(conn, [member_id], with_lots=[member_id])
    wallet = wallets[member_id]
    try:
        takes = wallet.debit(points)
    except InsufficientPoints as short:
        raise _insufficient("give", points, short) from None
    matched = brand_match(points, cause.match_ratio, cause.match_budget - cause.matched_total)
    details = {"cause_id": cause_id, "matched": matched, "lots": _takes_json(takes)}
    await save(conn, [wallet], [LedgerEntry(member_id, "donate", -points, donation_id, now, details)])
    row = {"donation_id": donation_id, "member_id": member_id, "cause_id": cause_id, "points": points,
           "matched": matched, "at": now}  # fmt: skip
    await record_donation(conn, row)
    payload = PointsDonated(
        member_id=member_id,
        cause_id=cause_id,
        donation_id=donation_id,
        points=points,
        matched=matched,
        balance=wallet.balance,
    )
    await _emit(conn, settings, POINTS_DONATED, member_id, payload)
    return _donation_json(row) | {"balance": wallet.balance}


def _donation_json(row: Any) -> dict[str, Any]:
    return {
        "donation_id": str(row["donation_id"]),
        "member_id": row["member_id"],
        "cause_id": row["cause_id"],
        "points": row["points"],
        "matched": row["matched"],
        "at": row["at"],
    }


async def expire_due(conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500) -> int:
    """Expire the lots past their date for up to ``limit`` members; returns how many members."""
    members = await members_with_expired_lots(conn, now, limit)
    if not members:
        return 0
    wallets, _ = await load_wallets(conn, members)
    entries: list[LedgerEntry] = []
    expired: list[Wallet] = []
    for member in members:
        wallet = wallets[member]
        takes = wallet.expire(now)
        points = sum(t.points for t in takes)
        if points:
            source = uuid.uuid5(_EXPIRY_NAMESPACE, f"{member}/{now.isoformat()}")
            entries.append(LedgerEntry(member, "expire", -points, source, now, {"lots": _takes_json(takes)}))
            expired.append(wallet)
    await save(conn, wallets.values(), entries)
    for wallet, entry in zip(expired, entries, strict=True):
        await _emit(
            conn,
            settings,
            POINTS_EXPIRED,
            wallet.member_id,
            PointsExpired(member_id=wallet.member_id, points=-entry.points, balance=wallet.balance),
        )
    return len(members)


async def remind_expiring(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500
) -> int:
    """One ``points.expiring_soon`` per member for lots expiring within the notice period."""
    until = now + timedelta(days=settings.points_expiring_soon_days)
    due = await expiring_unreminded(conn, now, until, limit)
    if not due:
        return 0
    wallets, _ = await load_wallets(conn, [m for m, _, _ in due])
    for member, points, first in due:
        await _emit(
            conn,
            settings,
            POINTS_EXPIRING_SOON,
            member,
            PointsExpiringSoon(
                member_id=member, points=points, expires_at=first, balance=wallets[member].balance
            ),
        )
    await mark_reminded(conn, [m for m, _, _ in due], now, until)
    return len(due)


async def remind_program_end(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 500
) -> int:
    """Each due reminder of a time-limited program, once per member still holding points."""
    sent = 0
    for program_id, end in await open_programs(conn):
        for days in end.reminders_due(now):
            due = await holders_not_reminded(conn, program_id, days, limit - sent)
            for member, points in due:
                payload = ProgramEnding(
                    member_id=member,
                    program_id=program_id,
                    name=end.name,
                    ends_at=end.ends_at,
                    days_left=max((end.ends_at - now).days, 0),
                    points=points,
                    parting=end.parting,
                )
                await _emit(conn, settings, PROGRAM_ENDING, member, payload)
            await mark_program_reminded(conn, program_id, days, [m for m, _ in due])
            sent += len(due)
            if sent >= limit:
                return sent
    return sent


async def settle_ended_programs(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 200
) -> int:
    """At a program's end every member's remaining points become a voucher or a parting gift with a code
    (ledger kind ``sunset``); when no member holds points any more, the program is closed."""
    settled = 0
    for program_id, end in await open_programs(conn):
        if now < end.ends_at:
            continue
        # A reservation still open would give its points back after the settlement, to a closed program:
        # release it first, so its points are settled with the rest.
        for redemption_id in await held_past(conn, None, limit):
            await release(conn, settings, redemption_id, "program ended", now)
        members = await holders(conn, limit)
        if not members:
            await close_program(conn, program_id, now)
            continue
        wallets, _ = await load_wallets(conn, members, with_lots=members)
        entries = []
        for member in members:
            wallet = wallets[member]
            points = wallet.balance
            takes = wallet.debit(points)
            offer, kind, value = end.parting_offer(points)
            code = reward_code()
            # Driven by the balance, committed with it: a member settled once holds nothing to settle again.
            source = uuid.uuid4()
            details = {"program_id": program_id, "offer": offer, "code": code, "lots": _takes_json(takes)}
            entries.append(LedgerEntry(member, "sunset", -points, source, end.ends_at, details))
            payload = ProgramEnded(
                member_id=member, program_id=program_id, name=end.name, points=points,
                offer=offer, kind=kind, value=value, code=code,
            )  # fmt: skip
            await _emit(conn, settings, PROGRAM_ENDED, member, payload)
        await save(conn, wallets.values(), entries)
        settled += len(members)
        if len(members) < limit:  # every holder is settled: the program is closed
            await close_program(conn, program_id, now)
    return settled


async def release_held(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 200
) -> int:
    """Release the reservations nobody confirmed in time."""
    held = await held_past(conn, now, limit)
    for redemption_id in held:
        await release(conn, settings, redemption_id, "timed out", now)
    return len(held)


async def reward_referrals(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, page: int = 500
) -> int:
    """Reward both sides of each referral whose friend's first qualifying purchase has cleared the return
    window (ledger kind ``referral``, one ``referral.rewarded`` each); let lapse those that can no longer
    clear. Returns how many referrals were rewarded."""
    program = await referrals.program_terms(conn)
    if program is None:
        return 0
    rewarded, after = 0, ""
    while due := await referrals.pending(conn, after, page):
        after = due[-1].friend_id
        bought = await referrals.purchases_of(conn, [r.friend_id for r in due])
        cleared: list[tuple[Any, Cleared]] = []
        for row in due:
            if found := cleared_purchase(program, row.enrolled_at, bought.get(row.friend_id, []), now):
                cleared.append((row, found))
        done = {row.friend_id for row, _ in cleared}
        gone = [r.friend_id for r in due if r.friend_id not in done and lapsed(program, r.enrolled_at, now)]
        await referrals.mark_lapsed(conn, gone, "no qualifying purchase cleared in time")
        if cleared:
            await _reward(conn, settings, program.referrer_points, program.friend_points, cleared, now)
            rewarded += len(cleared)
        if len(due) < page:
            break
    return rewarded


async def _reward(
    conn: AsyncConnection,
    settings: PointsSettings,
    referrer_points: int,
    friend_points: int,
    cleared: list[tuple[Any, Cleared]],
    now: datetime,
) -> None:
    members = {m for row, _ in cleared for m in (row.referrer_id, row.friend_id)}
    wallets, _ = await load_wallets(conn, members, with_lots=())
    entries: list[LedgerEntry] = []
    messages = []
    for row, found in cleared:
        sides = (("referrer", row.referrer_id, referrer_points), ("friend", row.friend_id, friend_points))
        for role, member, points in sides:
            wallet = wallets[member]
            # Keyed by the friend and the side: the unique (source, kind) refuses a second reward.
            source = uuid.uuid5(_REFERRAL_NAMESPACE, f"{row.friend_id}/{role}")
            if points:
                wallet.credit(source, points, found.at, settings.lot_expires(found.at))
                details = {
                    "role": role,
                    "referrer_id": row.referrer_id,
                    "friend_id": row.friend_id,
                    "purchase_event_id": str(found.purchase.event_id),
                    "lot_id": str(source),
                }
                entries.append(LedgerEntry(member, "referral", points, source, found.at, details))
                payload = ReferralRewarded(
                    member_id=member, role=role, referrer_id=row.referrer_id, friend_id=row.friend_id,
                    purchase_event_id=found.purchase.event_id, points=points, balance=wallet.balance,
                )  # fmt: skip
                messages.append(emitted(settings, REFERRAL_REWARDED, member, payload, occurred_at=found.at))
        await referrals.mark_rewarded(conn, row.friend_id, found.purchase.event_id, now)
    await save(conn, wallets.values(), entries)
    await append(conn, messages)


async def choose_promotion_members(
    conn: AsyncConnection, settings: PointsSettings, now: datetime, limit: int = 5000
) -> int:
    """Choose the members of each targeted promotion running today, each into the treatment or the
    holdout group once (``promotion.targeted`` for both: notify tells only the treatment group,
    analytics measures one against the other). Returns how many were chosen."""
    in_force = active_rule_set(await rule_set_versions(conn, {}), now)
    if in_force is None:
        return 0
    chosen = 0
    for promotion in running_on(in_force[1], now.date()):
        audience = promotion.audience
        assert audience is not None
        members = await targeting.unchosen(conn, promotion.name, audience, now, limit - chosen)
        why, multiplier = reason(audience), f"{promotion.multiplier.normalize():f}"
        groups = {m: group_of(promotion.name, m, audience.holdout_percent) for m in members}
        await targeting.choose(
            conn,
            [{"promotion": promotion.name, "member_id": m, "group": g, "reason": why, "assigned_at": now}
             for m, g in groups.items()],
        )  # fmt: skip
        messages = [
            emitted(settings, PROMOTION_TARGETED, m, PromotionTargeted(
                member_id=m, promotion=promotion.name, group=g, reason=why, multiplier=multiplier,
                ends_on=promotion.ends_on,
            ), occurred_at=now)
            for m, g in groups.items()
        ]  # fmt: skip
        await append(conn, messages)
        chosen += len(groups)
        if chosen >= limit:
            break
    return chosen
