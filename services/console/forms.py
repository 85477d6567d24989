"""A form over a service's API: the service validates, and each field error it answers is put next to
the input it names, in the console's words (Persian or English). Pure.

An input is named by the field path the service gives in its errors (``base_rates.IRR``, ``stock``), so a
refusal lands next to its field with no table of names between the two; a page whose inputs are laid out
otherwise says how a path maps to its input (``input_of``). Templates show them with the ``err`` and
``bad`` macros of ``macros.html.j2``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class FieldErrors:
    """Points' errors, by the input they belong to; ``rest``: those no input of the form holds."""

    by_input: dict[str, list[tuple[str, dict[str, object]]]] = field(default_factory=dict)
    rest: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)

    def of(self, name: str) -> list[tuple[str, dict[str, object]]]:
        return self.by_input.get(name, [])


def field_errors(
    errors: Sequence[Mapping[str, Any]], inputs: set[str], input_of: Callable[[str], str] = str
) -> FieldErrors:
    """A service's field errors (``field``, ``rule``, ``message``), each by the input ``input_of`` names
    for its field path (by default the path itself: an input named as the API names the field)."""
    found = FieldErrors()
    for error in errors:
        name = input_of(str(error.get("field", "")))
        said = words_of(str(error.get("rule", "")), str(error.get("message", "")))
        if name in inputs:
            found.by_input.setdefault(name, []).append(said)
        else:
            found.rest.append((name, *said))
    return found


# Points' rule ids (pydantic's, and the rule sets' own) -> the sentence the console says in each language.
_RULE_WORDS = {
    "less_than_equal": "err_at_most",
    "less_than": "err_below",
    "greater_than_equal": "err_at_least",
    "greater_than": "err_above",
    "decimal_parsing": "err_number",
    "decimal_type": "err_number",
    "int_parsing": "err_whole",
    "int_from_float": "err_whole",
    "int_type": "err_whole",
    "decimal_max_places": "err_places",
    "missing": "err_required",
    "too_short": "err_required",
    "string_too_short": "err_required",
    "datetime_from_date_parsing": "err_datetime",
    "datetime_parsing": "err_datetime",
    "datetime_type": "err_datetime",
    "timezone_aware": "err_datetime",
    "date_from_datetime_parsing": "err_date",
    "date_parsing": "err_date",
    "date_format": "err_date",
    "unsupported_currency": "err_currency",
    "window_empty": "err_window",
    "weekday_range": "err_weekdays",
    "before_history": "err_history",
    "too_many_purchases": "err_too_many",
    "string_too_long": "err_too_long",
    "duplicate_member": "err_duplicate_member",
    "already_imported": "err_already_imported",
    "member_id_printable": "err_printable",
    "odds_too_low": "err_odds_too_low",
    "odds_exceed_one": "err_odds_exceed_one",
    "currency_precision": "err_currency_precision",
    "prize_names_unique": "err_prize_names",
    "budget_below_prize": "err_budget_below_prize",
    "remind_days_range": "err_remind_days",
    "convert_rate_required": "err_convert_rate_required",
    "gift_name_required": "err_gift_name_required",
    "reward_required": "err_reward_required",
    "audience_required": "err_audience_required",
    "string_pattern_mismatch": "err_id",
}
_LIMIT = re.compile(r"(-?\d+(?:\.\d+)?)\D*$")


def words_of(rule: str, message: str) -> tuple[str, dict[str, object]]:
    """A field error as a word key and its values (the limit the message names, when it names one); a
    rule the console has no words for is shown in points' own words."""
    key = _RULE_WORDS.get(rule)
    if key is None:
        return "err_other", {"message": message}
    limit = _LIMIT.search(message)
    return key, {"limit": Decimal(limit.group(1)) if limit else ""}
