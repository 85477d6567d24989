"""The console's program page: the rule set as a form and back (nothing the form does not show is lost),
points' refusals next to the fields they name in either language, which version is in force, and the
page itself with a points that answers (faked at the console's one door to the services)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.console.forms import field_errors
from services.console.i18n import Words
from services.console.main import create
from services.console.program import Editor, versions
from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from shared.identity import Permission, operator
from shared.web.backends import Backends, Block
from sim.harness import DEV_KEYS

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RULES: dict[str, Any] = {
    "effective_from": "2026-11-01T00:00:00Z",
    "base_rates": {"IRR": "0.0001"},
    "rounding": "floor",
    "category_multipliers": {"grocery": "1.5", "dairy": "2"},
    "sku_multipliers": {"saffron-1": "3"},
    "promotions": [
        {"name": "win-back", "multiplier": "2", "audience": {"inactive_days": 90}},
        {"name": "weekend", "multiplier": "2", "weekdays": [4, 5], "categories": ["bakery"],
         "starts_on": "2026-12-01", "ends_on": None},
    ],
    "welcome_bonus": 50,
    "cap_per_day": 5000,
    "cap_per_receipt": None,
}  # fmt: skip


def stored(version: int, effective_from: str) -> dict[str, Any]:
    return {"version": version, "rules": {**RULES, "effective_from": effective_from}}


def test_the_version_in_force_is_the_newest_that_has_begun_and_later_ones_are_scheduled() -> None:
    listed = versions(
        [
            stored(1, "2026-01-01T00:00:00Z"),
            stored(2, "2026-11-01T00:00:00Z"),
            stored(3, "2027-01-01T00:00:00Z"),
        ],
        NOW,
    )
    assert [(v.version, v.status) for v in listed] == [(3, "scheduled"), (2, "in_force"), (1, "earlier")]
    assert [v.status for v in versions([{"version": 0, "rules": RULES}], NOW)] == ["default"]


def test_the_form_gives_back_the_rule_set_it_was_filled_from_with_what_it_does_not_show() -> None:
    editor = Editor.of(2, RULES, NOW)
    # It edits the first promotion for everyone (the targeted one is kept as it is).
    assert (editor.promotion["name"], editor.promotion_index, editor.weekdays) == ("weekend", 1, {4, 5})
    back = editor.rules(RULES)
    assert back["effective_from"] == "2026-12-02T12:00:00+00:00"
    assert {k: v for k, v in back.items() if k != "effective_from"} == {
        **{k: v for k, v in RULES.items() if k not in ("effective_from", "cap_per_receipt")},
        "base_rates": {"IRR": "0.0001"},
        "category_multipliers": {"grocery": "1.5", "dairy": "2"},
        "promotions": [
            RULES["promotions"][0],
            {**RULES["promotions"][1], "ends_on": None, "weekdays": [4, 5]},
        ],
        "welcome_bonus": "50",
        "cap_per_day": "5000",
    }


def test_a_posted_form_adds_and_removes_rows_reads_persian_digits_and_drops_a_nameless_promotion() -> None:
    form = {
        "base_version": ["2"], "promotion_index": ["1"], "effective_from": ["2027-01-01T00:00"],
        "base_rates.IRR": ["0.0002"], "new.base_rates.key": ["eur"], "new.base_rates.value": ["1"],
        "category_multipliers.grocery": ["۳"], "category_multipliers.dairy": [""],
        "new.category_multipliers.key": ["snacks"], "new.category_multipliers.value": ["۱٫۲"],
        "promotion.name": [""], "welcome_bonus": ["0"], "cap_per_day": [""], "preview_days": ["14"],
    }  # fmt: skip
    rules = Editor.read(form).rules(RULES)
    assert rules["effective_from"] == "2027-01-01T00:00:00+00:00"
    assert rules["base_rates"] == {"IRR": "0.0002", "EUR": "1"}
    assert rules["category_multipliers"] == {"grocery": "3", "snacks": "1.2"}
    assert rules["promotions"] == [RULES["promotions"][0]]
    assert "cap_per_day" not in rules and rules["welcome_bonus"] == "0"


def test_each_refusal_lands_next_to_its_input_in_the_readers_language() -> None:
    editor = Editor.of(2, RULES, NOW)
    inputs = {"category_multipliers.grocery", "promotion.multiplier", "preview_days", "welcome_bonus"}
    errors = field_errors(
        [
            {"field": "rules.category_multipliers.grocery", "rule": "less_than_equal",
             "message": "Input should be less than or equal to 100"},
            {"field": "rules.promotions.1.multiplier", "rule": "decimal_parsing",
             "message": "Input should be a valid decimal"},
            {"field": "days", "rule": "before_history", "message": "purchases are kept 120 days"},
            {"field": "rules.sku_multipliers.saffron-1", "rule": "greater_than_equal",
             "message": "Input should be greater than or equal to 0"},
        ],
        inputs,
        editor.input_of,
    )  # fmt: skip
    fa, en = Words("fa"), Words("en")
    ((key, values),) = errors.of("category_multipliers.grocery")
    assert (en(key, **values), fa(key, **values)) == ("At most 100.", "حداکثر ۱۰۰.")
    assert [en(k, **v) for k, v in errors.of("promotion.multiplier")] == ["A number, e.g. 1.5."]
    assert [en(k, **v) for k, v in errors.of("preview_days")] == ["Purchases are not kept that long."]
    # A field the form has no input for is listed above the form, named.
    assert [(name, en(k, **v)) for name, k, v in errors.rest] == [
        ("sku_multipliers.saffron-1", "At least 0.")
    ]


PREVIEW = {
    "from": "2026-11-02T12:00:00Z", "to": "2026-12-02T12:00:00Z", "purchases": 1234, "members": 56,
    "points_now": 98000, "points_candidate": 123450, "difference": 25450,
    "top": [{"member_id": "m-7", "purchases": 3, "now": 900, "candidate": 1500, "difference": 600}],
}  # fmt: skip


@pytest.fixture
def points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, Any]]]:
    """Points as the console sees it: the rule sets above, and each write's answer; the calls made."""
    calls: list[tuple[str, str, Any]] = []

    async def get(self: Backends, service: str, path: str, needs: Permission, params: Any = None) -> Block:
        calls.append(("GET", path, params))
        return Block(
            data={"versions": [stored(1, "2026-11-01T00:00:00Z"), stored(2, "2027-01-01T00:00:00Z")]}
        )

    async def post(
        self: Backends, service: str, path: str, needs: Permission, body: Mapping[str, Any]
    ) -> Block:
        calls.append(("POST", path, body))
        if path == "/v1/rules/preview":
            return Block(data=PREVIEW)
        errors = (
            {"field": "welcome_bonus", "rule": "int_parsing", "message": "Input should be a valid integer"},
        )
        return Block(missing=("service_error", {"service": "points", "status": 422}), errors=errors)

    monkeypatch.setattr(Backends, "get", get)
    monkeypatch.setattr(Backends, "post", post)
    yield calls


@pytest.fixture
def marketer() -> Iterator[tuple[TestClient, str]]:
    with TestClient(create(ConsoleSettings()), follow_redirects=False) as client:
        token = DEV_KEYS.issue(operator("mina", "marketer"), 600)
        client.cookies.set(COOKIE, token)
        yield client, csrf_token(ConsoleSettings(), token)


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_the_program_page_lists_the_versions_and_fills_the_editor_from_the_one_in_force(
    points: list[Any], marketer: tuple[TestClient, str], lang: str
) -> None:
    client, _ = marketer
    page = client.get(f"/program?lang={lang}")
    assert page.status_code == 200
    words = Words(lang)  # type: ignore[arg-type]
    assert 'class="version status-scheduled" data-version="2"' in page.text
    assert f'<span class="pill in_force">{words("status_in_force")}</span>' in page.text
    assert 'name="base_version" value="1"' in page.text
    assert 'name="category_multipliers.grocery" value="1.5"' in page.text


def test_preview_shows_the_figures_and_publish_shows_the_refusal_next_to_its_field(
    points: list[Any], marketer: tuple[TestClient, str]
) -> None:
    client, csrf = marketer
    form = {"csrf": csrf, "base_version": "1", "promotion_index": "1", "effective_from": "2026-12-03T00:00",
            "base_rates.IRR": "0.0001", "category_multipliers.grocery": "3", "promotion.name": "",
            "welcome_bonus": "fifty", "preview_days": "30"}  # fmt: skip
    shown = client.post("/program?lang=en", data={**form, "action": "preview"})
    assert shown.status_code == 200
    assert '<span class="figure points-candidate">123,450</span>' in shown.text
    assert '<span class="figure difference plus">+25,450</span>' in shown.text
    (_, path, body) = points[-1]
    assert (path, body["days"], body["rules"]["category_multipliers"]) == (
        "/v1/rules/preview",
        30,
        {"grocery": "3"},
    )

    refused = client.post("/program?lang=fa", data={**form, "action": "publish"})
    assert refused.status_code == 422
    assert '<p class="field-error" data-for="welcome_bonus">یک عدد صحیح.</p>' in refused.text
    assert 'value="fifty"' in refused.text  # what was typed is kept
    # Without the session's CSRF token nothing is sent.
    sent = len(points)
    assert client.post("/program", data={**form, "csrf": "x", "action": "publish"}).status_code == 403
    assert len(points) == sent
