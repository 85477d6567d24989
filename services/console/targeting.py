"""Targeted promotions as a form (the setup page's last tab): a promotion with an audience (segments,
win-back after so many days without a purchase, a holdout share) put into the rule set in force and
published as a new version, the rest of the version carried over. Pure.

Inputs are named by the promotion's fields (``multiplier``, ``holdout_percent``); points names the
refused ones by their path in the rule set (``promotions.2.audience.holdout_percent``), which
``input_of`` turns back into the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.web.pages import typed

PROMOTION = ("name", "multiplier", "starts_on", "ends_on", "categories")
AUDIENCE = ("segments", "inactive_days", "holdout_percent")
INPUTS = {*PROMOTION, *AUDIENCE}


def targeted(rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rule set's promotions that have an audience."""
    return [p for p in rules.get("promotions") or [] if p.get("audience")]


@dataclass
class TargetForm:
    values: dict[str, str]

    @classmethod
    def read(cls, form: Mapping[str, Sequence[str]]) -> TargetForm:
        return cls({n: typed((form.get(n) or [""])[0]) for n in INPUTS})

    @classmethod
    def of(cls, promotion: Mapping[str, Any] | None) -> TargetForm:
        """Filled from a promotion in force (a new one: the default holdout)."""
        if promotion is None:
            return cls({"holdout_percent": "10"})
        audience = promotion.get("audience") or {}
        return cls({
            "name": str(promotion.get("name", "")),
            "multiplier": str(promotion.get("multiplier", "")),
            "starts_on": str(promotion.get("starts_on") or ""),
            "ends_on": str(promotion.get("ends_on") or ""),
            "categories": ", ".join(sorted(promotion.get("categories") or [])),
            "segments": ", ".join(sorted(audience.get("segments") or [])),
            "inactive_days": str(audience.get("inactive_days") or ""),
            "holdout_percent": str(audience.get("holdout_percent", "")),
        })  # fmt: skip

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def index_in(self, base: Mapping[str, Any]) -> int:
        """Where the promotion goes in the version's list: in place of the one of its name, else last."""
        promotions = list(base.get("promotions") or [])
        return next(
            (i for i, p in enumerate(promotions) if p.get("name") == self.get("name")), len(promotions)
        )

    def rules(self, base: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """``base`` (the version in force) with this promotion, in force from now; values as typed."""
        promotions = list(base.get("promotions") or [])
        index = self.index_in(base)
        audience: dict[str, Any] = {"segments": _listed(self.get("segments"))}
        for name in ("inactive_days", "holdout_percent"):
            if self.get(name):
                audience[name] = self.get(name)
        promotion = {
            **(promotions[index] if index < len(promotions) else {}),
            "name": self.get("name"), "multiplier": self.get("multiplier"),
            "starts_on": self.get("starts_on") or None, "ends_on": self.get("ends_on") or None,
            "categories": _listed(self.get("categories")), "audience": audience,
        }  # fmt: skip
        promotions[index : index + 1] = [promotion]
        effective = now.astimezone(UTC).replace(second=0, microsecond=0).isoformat()
        return {**base, "effective_from": effective, "promotions": promotions}

    def input_of(self, base: Mapping[str, Any]) -> Any:
        """How points' error paths name this form's inputs (the promotion is at ``index_in(base)``)."""
        prefix = f"promotions.{self.index_in(base)}."

        def of(path: str) -> str:
            if not path.startswith(prefix):
                return path
            return path[len(prefix) :].removeprefix("audience.").split(".")[0]

        return of


def _listed(value: str) -> list[str]:
    return sorted({v for v in re.split(r"[\s,،]+", value) if v})
