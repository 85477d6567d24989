"""Targeted promotions: members' segments as analytics tells them, and each promotion's members chosen
into the treatment or the holdout group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.rules import active_rule_set
from services.points.programs.targeting import store as targeting
from services.points.programs.targeting.domain import group_of, reason, running_on
from services.points.settings import PointsSettings
from services.points.store.earning import rule_set_versions
from shared.contracts import PROMOTION_TARGETED, Envelope, PromotionTargeted, SegmentChanged
from shared.outbox import append, emitted


async def record_segments(conn: AsyncConnection, events: Sequence[Envelope[Any]]) -> None:
    await targeting.save_segments(
        conn,
        [
            {"member_id": p.member_id, "segment": p.segment, "rfm_label": p.rfm_label, "as_of": p.as_of}
            for p in (e.payload for e in events)
            if isinstance(p, SegmentChanged)
        ],
    )


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
