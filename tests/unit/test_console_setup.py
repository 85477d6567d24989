"""The setup pages' forms, pure: a form to the body points' API takes (values as typed, a blank optional
input as null, a blank prize line left out) and back, and each refusal points answers put next to the
input it names, in the operator's language."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from services.console import setup_pages
from services.console.forms import field_errors
from services.console.i18n import Words
from services.console.main import create
from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from services.console.setup import GAMES, PAGES, REWARDS, Filled
from shared.identity import operator
from shared.web.backends import Block
from sim.harness import DEV_KEYS, free_port

fa, en = Words("fa"), Words("en")


def test_a_reward_form_is_the_body_points_takes_and_a_listed_reward_fills_it_back() -> None:
    form = {"id": ["coffee"], "name": ["Free coffee"], "kind": ["free_item"], "cost_points": ["۵۰۰"],
            "stock": [""], "valid_from": ["2026-12-01T08:30"], "valid_until": [""]}  # fmt: skip
    filled = Filled.read(REWARDS, form)
    assert filled.body(REWARDS) == {
        "name": "Free coffee", "kind": "free_item", "cost_points": 500, "stock": None,
        "valid_from": "2026-12-01T08:30:00+00:00", "valid_until": None, "active": False,
    }  # fmt: skip
    listed = {"reward_id": "coffee", "name": "Free coffee", "kind": "free_item", "cost_points": 500,
              "stock": 12, "valid_from": "2026-12-01T08:30:00Z", "valid_until": None,
              "active": True}  # fmt: skip
    back = Filled.of(REWARDS, listed)
    assert (back.get("id"), back.get("stock"), back.get("valid_from")) == ("coffee", "12", "2026-12-01T08:30")
    assert back.checked == {"active"}
    # What is not a whole number goes as typed: points refuses it, naming the field.
    assert Filled.read(REWARDS, {"cost_points": ["12.5"]}).body(REWARDS)["cost_points"] == "12.5"


def test_a_games_prize_lines_are_its_prizes_and_a_refusal_lands_by_its_field() -> None:
    form = {"id": ["yalda"], "prizes.0.name": ["tea"], "prizes.0.points": ["40"], "prizes.0.odds": ["0.1"],
            "prizes.1.name": [""], "prizes.1.odds": [""], "prizes.2.name": ["cake"],
            "prizes.2.points": ["90"], "prizes.2.odds": ["0.05"], "prizes.2.stock": ["3"]}  # fmt: skip
    body = Filled.read(GAMES, form).body(GAMES)
    assert body["prizes"] == [
        {"name": "tea", "points": 40, "odds": "0.1", "stock": None},
        {"name": "cake", "points": 90, "odds": "0.05", "stock": 3},
    ]
    errors = field_errors(
        [{"field": "prizes", "rule": "odds_too_low",
          "message": "a member's odds of winning something are 15.00%; they must be at least 25%"},
         {"field": "prizes.0.odds", "rule": "decimal_max_places",
          "message": "Decimal input should have no more than 4 decimal places"},
         {"field": "path.game_id", "rule": "string_pattern_mismatch", "message": "String should match"}],
        GAMES.names, GAMES.input_of,
    )  # fmt: skip
    ((key, values),) = errors.of("prizes")
    assert en(key, **values) == "A member's odds of winning something must be at least 25%."
    assert fa(key, **values) == "احتمال بردن چیزی برای هر عضو باید دست‌کم ۲۵٪ باشد."
    assert [en(k, **v) for k, v in errors.of("prizes.0.odds")] == ["At most 4 decimal places."]
    assert [en(k, **v) for k, v in errors.of("id")] == [
        "Letters, digits, dots, dashes and underscores, up to 64."
    ]


@pytest.mark.parametrize("lang", ["fa", "en"])
@pytest.mark.parametrize("key", [p.key for p in PAGES])
def test_a_setup_form_sent_while_points_is_away_is_answered_with_the_form_as_typed(
    key: str, lang: str
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = ConsoleSettings(console_ingest_url=nowhere, console_points_url=nowhere)
    with TestClient(create(settings), follow_redirects=False) as site:
        token = DEV_KEYS.issue(operator("mina", "marketer"), 600)
        site.cookies.set(COOKIE, token)
        first = next(p for p in PAGES if p.key == key).inputs[0].name
        form = {"csrf": csrf_token(ConsoleSettings(), token), "id": "one", first: "Typed name"}
        answer = site.post(f"/setup/{key}?lang={lang}", data=form)
        words = Words(lang)  # type: ignore[arg-type]
        assert answer.status_code == 422 and words("service_down", service="points") in answer.text
        assert 'value="Typed name"' in answer.text and "Traceback" not in answer.text
        # An id points could not name an item by is refused before points is asked.
        refused = site.post(f"/setup/{key}?lang={lang}", data=form | {"id": "a b/c"})
        assert refused.status_code == 422 and words("err_id") in refused.text


RULES = {
    "effective_from": "2026-01-01T00:00:00+00:00", "base_rates": {"IRR": "0.0001"},
    "promotions": [{"name": "Nowruz", "multiplier": "2", "categories": []},
                   {"name": "Win back", "multiplier": "3", "starts_on": "2026-11-01", "ends_on": None,
                    "categories": [],
                    "audience": {"segments": [], "inactive_days": 60, "holdout_percent": 20}}],
}  # fmt: skip
LIFT = {"to": "2026-12-02T00:00:00Z", "promotions": [{
    "promotion": "Win back", "conversion_lift": "0.6667", "spend_lift": "-0.1000",
    "incremental_spend": "4500000.00",
    "treatment": {"members": 90, "buyers": 30, "conversion": "0.3333", "purchases": 45, "spend": "9000000.00",
                  "spend_per_member": "100000.00"},
    "holdout": {"members": 10, "buyers": 2, "conversion": "0.2000", "purchases": 2, "spend": "500000.00",
                "spend_per_member": "50000.00"}}]}  # fmt: skip


class Canned:
    """Points and analytics answering as a test says (the rules in force, the lift, a refusal)."""

    sent: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, settings: object, token: str | None) -> None:
        pass

    async def __aenter__(self) -> Canned:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def get(self, service: str, path: str, needs: object, params: object = None) -> Block:
        return Block(data={"versions": [{"version": 3, "rules": RULES}]} if service == "points" else LIFT)

    async def post(self, service: str, path: str, needs: object, body: dict[str, Any]) -> Block:
        self.sent.append(body)
        refused = {"field": "promotions.1.audience.holdout_percent", "rule": "less_than_equal",
                   "message": "Input should be less than or equal to 50"}  # fmt: skip
        return Block(missing=("service_error", {"service": "points", "status": 422}), errors=(refused,))


def test_targeted_promotions_show_their_audience_holdout_and_lift_and_a_refusal_lands_by_its_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(setup_pages, "Backends", Canned)
    with TestClient(create(ConsoleSettings()), follow_redirects=False) as site:
        token = DEV_KEYS.issue(operator("mina", "marketer"), 600)
        site.cookies.set(COOKIE, token)
        page = site.get("/setup/targeting?lang=en").text
        row = page[page.index('data-id="Win back"') :]
        assert "no purchase for 60 days" in row and ">20%<" in row
        assert "90 (30)" in row and "10 (2)" in row and "+66.7%" in row and "-10.0%" in row
        assert "4,500,000" in row
        assert 'data-id="Nowruz"' not in page  # a promotion for everyone is the Program page's
        edited = site.get("/setup/targeting?lang=fa&edit=Win+back").text
        assert 'name="inactive_days" value="60"' in edited and "۶۶٫۷" in edited

        form = {"csrf": csrf_token(ConsoleSettings(), token), "name": "Win back", "multiplier": "3",
                "inactive_days": "60", "holdout_percent": "80"}  # fmt: skip
        answer = site.post("/setup/targeting?lang=en", data=form)
        assert answer.status_code == 422
        assert '<p class="field-error" data-for="holdout_percent">At most 50.</p>' in answer.text
    (sent,) = Canned.sent
    # The version in force with the promotion changed in place; the rest carried over.
    assert [p["name"] for p in sent["promotions"]] == ["Nowruz", "Win back"]
    assert sent["promotions"][1]["audience"] == {
        "segments": [],
        "inactive_days": "60",
        "holdout_percent": "80",
    }
    assert sent["base_rates"] == {"IRR": "0.0001"}
