"""Targeted promotions: which members an audience takes in, and which of them are held out (pure).

The holdout is a hash of the promotion and the member, so the same member always falls in the same
group and anyone can recompute it; nothing random is stored that could drift."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal

from services.points.domain.rules import Audience, Promotion, RuleSet

Group = Literal["treatment", "holdout"]


def group_of(promotion: str, member_id: str, holdout_percent: int) -> Group:
    digest = hashlib.sha256(f"{promotion}\x00{member_id}".encode()).digest()
    return "holdout" if int.from_bytes(digest[:8], "big") % 100 < holdout_percent else "treatment"


def running_on(rules: RuleSet, day: date) -> list[Promotion]:
    """The targeted promotions whose dates include ``day``: the ones to choose members for."""
    return [
        p
        for p in rules.targeted()
        if (p.starts_on is None or p.starts_on <= day) and (p.ends_on is None or day <= p.ends_on)
    ]


def reason(audience: Audience) -> str:
    parts = []
    if audience.segments:
        parts.append("segment " + " or ".join(sorted(audience.segments)))
    if audience.inactive_days is not None:
        parts.append(f"no purchase for {audience.inactive_days} days")
    return ", ".join(parts)
