"""The program page's editor: a rule set as a form and back, points' field errors put next to the inputs
they name, and which version is in force and which is scheduled. Pure.

Each input is named by the path points gives in its errors (``base_rates.IRR``,
``category_multipliers.dairy``, ``welcome_bonus``), so a refusal lands next to its field with no table
of names between the two. The form edits the fields a marketer changes; the rest of the version it
starts from (SKU, store and channel multipliers, other promotions, minimum baskets, partner rates,
rounding) is carried over as it was, so publishing from the form loses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.web.pages import typed

# The most fields one program form may carry (a rate per currency and a multiplier per category).
FORM_LIMIT = 300
PREVIEW_DAYS = 30
WEEKDAYS = range(7)  # 0 = Monday, as points counts them
_NEW = "new"  # the blank row that adds a currency or a category


@dataclass
class Editor:
    """The form's values, as typed (strings): what the page shows and what it sends."""

    base_version: int
    effective_from: str
    base_rates: list[tuple[str, str]]
    categories: list[tuple[str, str]]
    promotion: dict[str, str]
    weekdays: set[int]
    promotion_index: int  # where the promotion the form edits sits in the version's list
    welcome_bonus: str
    cap_per_day: str
    cap_per_receipt: str
    preview_days: str = str(PREVIEW_DAYS)

    @classmethod
    def of(cls, version: int, rules: Mapping[str, Any], now: datetime) -> Editor:
        """The form filled from a stored version, to be in force from ``now`` (the next minute)."""
        promotions = list(rules.get("promotions") or [])
        index = next((i for i, p in enumerate(promotions) if not p.get("audience")), len(promotions))
        promo = promotions[index] if index < len(promotions) else {}
        return cls(
            base_version=version,
            effective_from=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            base_rates=[(c, _plain(r)) for c, r in (rules.get("base_rates") or {}).items()],
            categories=[(c, _plain(m)) for c, m in (rules.get("category_multipliers") or {}).items()],
            promotion={
                "name": str(promo.get("name", "")),
                "multiplier": _plain(promo.get("multiplier", "")),
                "starts_on": str(promo.get("starts_on") or ""),
                "ends_on": str(promo.get("ends_on") or ""),
                "categories": ", ".join(sorted(promo.get("categories") or [])),
            },
            weekdays={int(d) for d in promo.get("weekdays", WEEKDAYS)},
            promotion_index=index,
            welcome_bonus=str(rules.get("welcome_bonus", 0)),
            cap_per_day=str(rules.get("cap_per_day") or ""),
            cap_per_receipt=str(rules.get("cap_per_receipt") or ""),
        )

    @classmethod
    def read(cls, form: Mapping[str, Sequence[str]]) -> Editor:
        """The form as posted; the blank rows that add a currency or a category become rows of their own."""

        def one(name: str) -> str:
            return typed((form.get(name) or [""])[0])

        def rows(prefix: str) -> list[tuple[str, str]]:
            found = [(n[len(prefix) + 1 :], one(n)) for n in form if n.startswith(prefix + ".")]
            added = one(f"{_NEW}.{prefix}.key")
            if added:
                found.append(
                    (added.upper() if prefix == "base_rates" else added, one(f"{_NEW}.{prefix}.value"))
                )
            return [(k, v) for k, v in found if k]

        days = {int(d) for d in form.get("promotion.weekdays", []) if d.isdigit() and int(d) in WEEKDAYS}
        return cls(
            base_version=int(one("base_version")) if one("base_version").isdigit() else 0,
            effective_from=one("effective_from"),
            base_rates=rows("base_rates"),
            categories=rows("category_multipliers"),
            promotion={
                k: one(f"promotion.{k}") for k in ("name", "multiplier", "starts_on", "ends_on", "categories")
            },
            weekdays=days,
            promotion_index=int(one("promotion_index")) if one("promotion_index").isdigit() else 0,
            welcome_bonus=one("welcome_bonus"),
            cap_per_day=one("cap_per_day"),
            cap_per_receipt=one("cap_per_receipt"),
            preview_days=one("preview_days"),
        )

    def rules(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The rule set points takes: ``base`` (the version the form started from) with the form's fields.
        Values go as typed: points validates them and names the field of each one it refuses."""
        rules = {k: v for k, v in base.items() if k not in ("cap_per_day", "cap_per_receipt")}
        when = self.effective_from
        rules["effective_from"] = (
            f"{when}:00+00:00" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", when) else when
        )
        rules["base_rates"] = {c: r for c, r in self.base_rates if r}
        rules["category_multipliers"] = {c: m for c, m in self.categories if m}
        promotions = list(base.get("promotions") or [])
        edited = promotions[self.promotion_index] if self.promotion_index < len(promotions) else {}
        p = self.promotion
        if p["name"]:
            promotion = {
                **edited, "name": p["name"], "multiplier": p["multiplier"],
                "starts_on": p["starts_on"] or None, "ends_on": p["ends_on"] or None,
                "weekdays": sorted(self.weekdays),
                "categories": sorted({c.strip() for c in p["categories"].split(",") if c.strip()}),
            }  # fmt: skip
            promotions[self.promotion_index : self.promotion_index + 1] = [promotion]
        else:
            del promotions[self.promotion_index : self.promotion_index + 1]
        rules["promotions"] = promotions
        rules["welcome_bonus"] = self.welcome_bonus or 0
        for cap in ("cap_per_day", "cap_per_receipt"):
            if getattr(self, cap):
                rules[cap] = getattr(self, cap)
        return rules

    def input_of(self, path: str) -> str:
        """The input a field path of points' errors names (the preview's own fields, or the rule set's)."""
        path = path.removeprefix("rules.")
        if path == "days":
            return "preview_days"
        prefix = f"promotions.{self.promotion_index}."
        if path.startswith(prefix):
            return "promotion." + path[len(prefix) :].split(".")[0]
        if path.startswith("promotions."):
            return "promotions"
        return path


@dataclass(frozen=True)
class Version:
    version: int
    rules: Mapping[str, Any]
    status: str  # in_force | scheduled | earlier | default


def versions(stored: Sequence[Mapping[str, Any]], now: datetime) -> list[Version]:
    """Newest first, each with its status: the one in force now (the newest whose effective_from has
    come, as points chooses), those scheduled after it, and the earlier ones."""

    def start(v: Mapping[str, Any]) -> datetime:
        return datetime.fromisoformat(str(v["rules"]["effective_from"]))

    live = [v for v in stored if v["version"] and start(v) <= now]
    current = max(live, key=lambda v: (start(v), v["version"]))["version"] if live else None
    found = []
    for v in sorted(stored, key=lambda v: v["version"], reverse=True):
        if not v["version"]:
            status = "default"
        elif v["version"] == current:
            status = "in_force"
        else:
            status = "scheduled" if start(v) > now else "earlier"
        found.append(Version(v["version"], v["rules"], status))
    return found


def in_force(listed: list[Version]) -> Version:
    """The version in force (or, before any, the newest): what an edit starts from by default."""
    return next((v for v in listed if v.status in ("in_force", "default")), listed[0])


def _plain(value: object) -> str:
    """ "2.00" -> "2", "0.000100" -> "0.0001": a stored number as a person would type it."""
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except ArithmeticError:
        return str(value)
