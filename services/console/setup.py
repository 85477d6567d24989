"""The setup pages: each a form over one of points' program APIs (rewards, games, causes), declared
here as data and rendered by one template (``setup.html.j2``). Pure.

A page lists what points holds (its ``GET``) and puts one (its ``PUT /v1/<things>/{id}``). Inputs are
named as the API names its fields (``cost_points``, ``prizes.0.odds``), values go as typed, and points
validates: each field it refuses comes back next to its input (``forms.py``), in the operator's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.web.pages import typed

Kind = Literal["text", "whole", "wholes", "amounts", "decimal", "when", "choice", "check"]
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# The most fields one setup form carries (a game's prizes are the most: 20 rows of 4).
FORM_LIMIT = 120
_MINUTE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@dataclass(frozen=True)
class Input:
    name: str  # the API's field: the input's name, and the path of its errors
    kind: Kind = "text"
    options: tuple[str, ...] = ()  # a choice's values (each shown as the word ``opt_<value>``)
    optional: bool = False  # blank is sent as null (``unlimited``, ``no date``)
    blank: str | None = None  # the word a blank input shows: what blank means


@dataclass(frozen=True)
class Rows:
    """A list of objects the API takes (a game's prizes): ``rows`` lines of inputs named
    ``<name>.<i>.<input>``; a line left blank is no item."""

    name: str
    inputs: tuple[Input, ...]
    rows: int

    def names(self) -> list[str]:
        return [f"{self.name}.{n}.{i.name}" for n in range(self.rows) for i in self.inputs]


@dataclass(frozen=True)
class SetupPage:
    key: str  # its path (/setup/<key>) and the word of its title
    id_name: str  # the API's name for an item's id (its path parameter)
    listing: str  # GET: what points holds
    listed: str  # the key of the list in its answer
    put: str  # the path an item is put at, ``{id}`` in it
    inputs: tuple[Input, ...]
    columns: tuple[str, ...]  # what the table of items shows (keys of a listed item)
    rows: Rows | None = None
    editable: bool = True  # False: an item cannot change once made (a game's seed is committed)

    @property
    def names(self) -> set[str]:
        """Every input's name, and the names errors may give that the page shows by a group."""
        names = {"id"} | {i.name for i in self.inputs}
        if self.rows:
            names |= {self.rows.name, *self.rows.names()}
        return names

    def input_of(self, path: str) -> str:
        """The input an error's field path names: the id's parameter is the ``id`` input; a path within an
        input (``minimum_purchase.IRR``, a prize line the form does not show) is that input's."""
        for where in ("body.", "path.", "query."):
            path = path.removeprefix(where)
        if path == self.id_name:
            return "id"
        names = self.names
        return path if path in names or path.split(".")[0] not in names else path.split(".")[0]


@dataclass
class Filled:
    """A form's values as typed (strings), by input name: what the page shows and what it sends."""

    values: dict[str, str] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, page: SetupPage, form: Mapping[str, Sequence[str]]) -> Filled:
        def one(name: str) -> str:
            return typed((form.get(name) or [""])[0])

        names = ["id", *(i.name for i in page.inputs if i.kind != "check")]
        if page.rows:
            names += [
                f"{page.rows.name}.{n}.{i.name}" for n in range(page.rows.rows) for i in page.rows.inputs
            ]
        checks = {i.name for i in page.inputs if i.kind == "check" and one(i.name)}
        return cls({n: one(n) for n in names}, checks)

    @classmethod
    def of(cls, page: SetupPage, item: Mapping[str, Any] | None) -> Filled:
        """The form filled from a listed item (blank, and checks on, for a new one)."""
        if item is None:
            return cls({}, {i.name for i in page.inputs if i.kind == "check"})
        values = {"id": str(item.get(page.id_name, ""))}
        for i in page.inputs:
            value = item.get(i.name)
            if i.kind != "check" and value is not None:
                values[i.name] = _shown(i, value)
        if page.rows:
            for n, row in enumerate(item.get(page.rows.name) or []):
                for i in page.rows.inputs:
                    if row.get(i.name) is not None:
                        values[f"{page.rows.name}.{n}.{i.name}"] = _shown(i, row[i.name])
        return cls(values, {i.name for i in page.inputs if i.kind == "check" and item.get(i.name)})

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def body(self, page: SetupPage) -> dict[str, Any]:
        """What points takes: a blank optional input as null, a blank required one left out (points says
        it is required), a whole number as a number when it is one (else as typed, for points to refuse)."""
        body = _values(page.inputs, lambda n: self.get(n), self.checked)
        if page.rows:
            items = []
            for n in range(page.rows.rows):
                prefix = f"{page.rows.name}.{n}."
                if any(self.get(prefix + i.name) for i in page.rows.inputs):
                    items.append(_values(page.rows.inputs, lambda name, p=prefix: self.get(p + name), set()))
            body[page.rows.name] = items
        return body


def _values(inputs: Sequence[Input], get: Any, checked: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for i in inputs:
        value = get(i.name)
        if i.kind == "check":
            body[i.name] = i.name in checked
        elif not value:
            if i.optional:
                body[i.name] = None
        elif i.kind == "whole":
            body[i.name] = int(value) if re.fullmatch(r"-?\d{1,20}", value) else value
        elif i.kind == "wholes":  # "30, 7": each a number when it is one (else as typed, for points)
            parts = [p for p in re.split(r"[\s,،]+", value) if p]
            body[i.name] = [int(p) if re.fullmatch(r"-?\d{1,9}", p) else p for p in parts]
        elif i.kind == "amounts":  # "IRR 500000, EUR 5": an amount per currency
            pairs = [p.split() for p in re.split(r"[,،]+", value) if p.strip()]
            body[i.name] = {p[0].upper(): " ".join(p[1:]) for p in pairs}
        elif i.kind == "when":
            body[i.name] = f"{value}:00+00:00" if _MINUTE.fullmatch(value) else value
        else:
            body[i.name] = value
    return body


def _shown(i: Input, value: object) -> str:
    """A stored value as the input shows it (a time as the minute a datetime-local input takes, in UTC)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    text = str(value)
    if i.kind == "when" and len(text) >= 16:
        return text[:16]
    return text


REWARDS = SetupPage(
    key="rewards",
    id_name="reward_id",
    listing="/v1/rewards",
    listed="rewards",
    put="/v1/rewards/{id}",
    inputs=(
        Input("name"),
        Input("kind", "choice", ("discount_code", "free_item", "voucher")),
        Input("cost_points", "whole"),
        Input("stock", "whole", optional=True, blank="unlimited"),
        Input("valid_from", "when", optional=True),
        Input("valid_until", "when", optional=True),
        Input("active", "check"),
    ),
    columns=("name", "kind", "cost_points", "stock", "valid_until", "active"),
)
GAMES = SetupPage(
    key="games",
    id_name="game_id",
    listing="/v1/games",
    listed="games",
    put="/v1/games/{id}",
    inputs=(
        Input("name"),
        Input("currency"),
        Input("min_purchase", "decimal"),
        Input("starts_at", "when"),
        Input("ends_at", "when"),
        Input("budget_points", "whole"),
    ),
    rows=Rows(
        "prizes",
        (
            Input("name"),
            Input("points", "whole"),
            Input("odds", "decimal"),
            Input("stock", "whole", optional=True, blank="unlimited"),
        ),
        rows=5,
    ),
    columns=("name", "win_odds", "starts_at", "ends_at", "plays", "prizes_won", "budget_left"),
    editable=False,
)
CAUSES = SetupPage(
    key="causes",
    id_name="cause_id",
    listing="/v1/causes",
    listed="causes",
    put="/v1/causes/{id}",
    inputs=(
        Input("name"),
        Input("match_ratio", "decimal"),
        Input("match_budget_points", "whole"),
        Input("active", "check"),
    ),
    columns=("name", "match_ratio", "total_points", "donors", "match_budget_left", "active"),
)
CHALLENGES = SetupPage(
    key="challenges",
    id_name="challenge_id",
    listing="/v1/challenges",
    listed="challenges",
    put="/v1/challenges/{id}",
    inputs=(
        Input("name"),
        Input("kind", "choice", ("visits", "categories")),
        Input("target", "whole"),
        Input("bonus_points", "whole"),
        Input("active", "check"),
    ),
    columns=("name", "kind", "target", "bonus_points", "active"),
)
ENDS = SetupPage(
    key="ends",
    id_name="program_id",
    listing="/v1/programs",
    listed="programs",
    put="/v1/programs/{id}",
    inputs=(
        Input("name"),
        Input("loyalty_program", blank="main_program"),
        Input("ends_at", "when"),
        Input("remind_days", "wholes", blank="default_reminders"),
        Input("parting", "choice", ("convert", "gift")),
        Input("convert_rate", "decimal", optional=True),
        Input("currency", optional=True),
        Input("gift_name", optional=True),
    ),
    columns=("name", "loyalty_program", "ends_at", "parting", "remind_days", "closed_at"),
)
REFERRALS = SetupPage(
    key="referrals",
    id_name="program",
    listing="/v1/referrals/programs",
    listed="programs",
    put="/v1/referrals/program?program={id}",
    inputs=(
        Input("referrer_points", "whole"),
        Input("friend_points", "whole"),
        Input("minimum_purchase", "amounts", blank="amounts_example"),
        Input("return_window_days", "whole"),
        Input("qualify_within_days", "whole", blank="default_qualify"),
    ),
    columns=(
        "referrer_points",
        "friend_points",
        "minimum_purchase",
        "return_window_days",
        "qualify_within_days",
    ),
)
PAGES = (REWARDS, GAMES, CHALLENGES, REFERRALS, CAUSES, ENDS)
