"""The console in-process (no other service answers, so every block says why it is missing): Persian
digits and Jalali dates, the session cookie and the CSRF token, the role gate, every page rendered in
both languages without a stack trace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from services.console import pages
from services.console.backends import SignedIn
from services.console.i18n import Words, chosen
from services.console.main import create
from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from shared.identity import operator
from shared.web.explain import why
from sim.harness import DEV_KEYS, free_port

fa, en = Words("fa"), Words("en")


def test_persian_numbers_have_persian_digits_and_separators_and_english_ones_stay_latin() -> None:
    assert fa.number(1234567) == "۱٬۲۳۴٬۵۶۷"
    assert fa.number(-120, signed=True) == "\u200e-۱۲۰"  # the sign stays before the digits in RTL
    assert en.number(Decimal("47000000.0000")) == "47,000,000"
    assert fa.number(Decimal("2.5")) == "۲٫۵"
    assert en.number(1234567) == "1,234,567"
    assert en.number(120, signed=True) == "+120"
    assert fa("adjusted", points=120, balance=1450) == "۱۲۰ امتیاز اصلاح شد. موجودی تازه: ۱٬۴۵۰."


def test_persian_dates_are_jalali_and_english_ones_gregorian() -> None:
    nowruz = datetime(2026, 3, 21, 10, 5, tzinfo=UTC)
    assert fa.when(nowruz) == "۱۴۰۵/۰۱/۰۱ ۱۰:۰۵"
    assert fa.when(nowruz, with_time=False) == "۱۴۰۵/۰۱/۰۱"
    assert fa.when(date(2026, 11, 20)) == "۱۴۰۵/۰۸/۲۹"
    assert en.when("2026-03-21T10:05:00Z") == "21 Mar 2026 10:05"
    # A time is shown in UTC whatever zone the service wrote it in.
    assert en.when("2026-03-21T13:35:00+03:30") == "21 Mar 2026 10:05"


def test_the_language_is_asked_then_remembered_then_the_deployments() -> None:
    assert chosen("en", "fa", "fa") == "en"
    assert chosen(None, "en", "fa") == "en"
    assert chosen("de", "xx", "fa") == "fa"
    assert (fa.dir, en.dir) == ("rtl", "ltr")


def test_an_earn_is_explained_rule_by_rule_and_an_adjustment_by_its_operator() -> None:
    earn = {"id": 1, "kind": "earn", "points": 300, "occurred_at": "2026-11-20T10:00:00Z",
            "details": {"amount": "3000000", "currency": "IRR", "lot_id": "a", "repaid_debt": 0,
                        "rules": [{"rule": "base: 0.0001 per IRR", "points": 250},
                                  {"rule": "category grocery x1.2", "points": 50}]}}  # fmt: skip
    explained = why(earn)
    assert en(explained.key, **explained.values) == "A purchase of 3,000,000 IRR:"
    assert explained.rules == (("base: 0.0001 per IRR", 250), ("category grocery x1.2", 50))
    adjust = {"id": 2, "kind": "adjust", "points": 40, "occurred_at": "2026-11-21T10:00:00Z",
              "details": {"reason": "goodwill", "operator": "operator:ada", "lot_id": "b"}}  # fmt: skip
    assert en(why(adjust).key, **why(adjust).values) == "operator:ada: “goodwill”"


@pytest.fixture
def site() -> Iterator[TestClient]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = ConsoleSettings(
        console_ingest_url=nowhere, console_points_url=nowhere, console_tiers_url=nowhere,
        console_notify_url=nowhere, console_analytics_url=nowhere,
    )  # fmt: skip
    with TestClient(create(settings), follow_redirects=False) as client:
        yield client


def _as(client: TestClient, *roles: str, ttl_s: float = 600) -> str:
    token = DEV_KEYS.issue(operator("ada", *roles), ttl_s)  # type: ignore[arg-type]
    client.cookies.set(COOKIE, token)
    return csrf_token(ConsoleSettings(), token)


def test_signing_in_keeps_the_token_in_an_httponly_strict_cookie_secure_over_tls(
    site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def accepted(settings: ConsoleSettings, name: str, password: str) -> SignedIn:
        return SignedIn(DEV_KEYS.issue(operator(name, "support"), 600), 600)

    monkeypatch.setattr(pages, "sign_in", accepted)
    form = {"name": "sam", "password": "right"}
    answer = site.post("/sign-in", data=form)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
    over_tls = TestClient(site.app, base_url="https://console.example", follow_redirects=False)
    assert "Secure" in over_tls.post("/sign-in", data=form).headers["set-cookie"]


def test_when_ingest_does_not_answer_sign_in_says_so_on_the_page(site: TestClient) -> None:
    answer = site.post("/sign-in?lang=en", data={"name": "sam", "password": "x"})
    assert answer.status_code == 503
    assert "Sign-in is not available: ingest is not answering" in answer.text
    assert "Traceback" not in answer.text


def test_no_session_goes_to_sign_in_and_an_ended_one_says_so_and_is_forgotten(site: TestClient) -> None:
    assert site.get("/members").headers["location"] == "/sign-in"
    _as(site, "support", ttl_s=-3600)
    answer = site.get("/members/m-1")
    assert answer.headers["location"] == "/sign-in?why=session_expired"
    assert f'{COOKIE}=""' in answer.headers["set-cookie"]  # the browser drops it
    site.cookies.clear()
    assert "Your session has ended" in site.get("/sign-in?why=session_expired&lang=en").text
    # A token another deployment signed is no session here.
    forged = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImRldiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    site.cookies.set(COOKIE, forged)
    assert site.get("/members").headers["location"] == "/sign-in?why=session_expired"


def test_a_form_without_the_sessions_csrf_token_is_refused_before_any_service_is_called(
    site: TestClient,
) -> None:
    csrf = _as(site, "support")
    form = {"points": "10", "reason": "goodwill", "request_id": "6f1f7b8e-0f9e-4a53-9d62-5a3c0d3b2a10"}
    for sent in ({}, {"csrf": "0" * 64}, {"csrf": csrf_token(ConsoleSettings(), "another-session")}):
        answer = site.post("/members/m-1/adjustments?lang=en", data=form | sent)
        assert answer.status_code == 403 and "did not come from this console" in answer.text
    # With it, the adjustment goes to points (which does not answer here: the page says so).
    answer = site.post("/members/m-1/adjustments?lang=en", data=form | {"csrf": csrf})
    assert answer.status_code == 422 and "points is not answering" in answer.text
    # Signing out is a form too.
    assert site.post("/sign-out", data={}).status_code == 403
    out = site.post("/sign-out", data={"csrf": csrf})
    assert (
        out.headers["location"] == "/sign-in?why=signed_out" and f'{COOKIE}=""' in out.headers["set-cookie"]
    )


@pytest.mark.parametrize(
    ("role", "nav", "program"),
    [("admin", ["Members", "Audit", "Program", "Insight", "Operations", "Setup", "Import"], 200),
     ("marketer", ["Members", "Program", "Insight", "Operations", "Setup"], 200),
     ("support", ["Members", "Operations", "Import"], 403),
     ("read-only", ["Members", "Insight", "Operations"], 403)],
)  # fmt: skip
def test_the_nav_shows_what_the_role_may_open_and_the_route_refuses_the_rest(
    site: TestClient, role: str, nav: list[str], program: int
) -> None:
    _as(site, role)
    page = site.get("/members?lang=en")
    assert re.findall(r'data-page="\w+">(\w+)</a>', page.text) == nav
    refused = site.get("/program?lang=en")
    assert refused.status_code == program
    if program == 403:
        assert "Not allowed" in refused.text and f"({role})" in refused.text
    assert site.get("/audit").status_code == (200 if role == "admin" else 403)
    # Insight is for insight:read (not support); Operations for every operator, its re-drive for admins.
    assert site.get("/insight").status_code == (403 if role == "support" else 200)
    operations = site.get("/operations")
    assert operations.status_code == 200
    form = {"csrf": csrf_token(ConsoleSettings(), site.cookies[COOKIE]), "service": "points", "reason": "x"}
    if role != "admin":
        assert site.post("/operations/redrive", data=form).status_code == 403


@pytest.mark.parametrize("lang", ["fa", "en"])
@pytest.mark.parametrize("path", ["/sign-in", "/members", "/members?by=phone&q=%2B989121234567",
                                  "/members/m-1", "/audit", "/program", "/insight",
                                  "/insight?days=365&chain=chain-1&program=main", "/operations",
                                  "/imports", "/setup/rewards", "/setup/games", "/setup/challenges",
                                  "/setup/causes", "/setup/ends", "/setup/referrals", "/setup/targeting",
                                  "/no-such-page"])  # fmt: skip
def test_every_page_renders_in_both_languages_with_what_is_missing_said(
    site: TestClient, lang: str, path: str
) -> None:
    _as(site, "admin")
    answer = site.get(path + ("&" if "?" in path else "?") + f"lang={lang}")
    assert answer.status_code == (404 if path == "/no-such-page" else 200), answer.text[-500:]
    assert answer.headers["content-type"].startswith("text/html")
    direction = "rtl" if lang == "fa" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in answer.text
    assert "Traceback" not in answer.text
    if path == "/members/m-1":
        words = Words(lang)  # type: ignore[arg-type]
        down = words("not_available", why=words("service_down", service="points"))
        assert down in answer.text
    assert answer.cookies.get("vafa_lang") == lang


def test_without_analytics_the_csv_is_not_given_but_the_page_saying_why(site: TestClient) -> None:
    _as(site, "analyst")
    answer = site.get("/insight.csv?days=90&chain=chain-1")
    assert answer.status_code == 303
    assert (
        answer.headers["location"].startswith("/insight?days=90&to=")
        and "chain=chain-1" in answer.headers["location"]
    )
    page = site.get(answer.headers["location"] + "&lang=en")
    assert page.status_code == 200 and "analytics is not answering" in page.text


def test_every_service_away_is_said_on_the_operations_page(site: TestClient) -> None:
    _as(site, "analyst")
    page = site.get("/operations?lang=en")
    for service in ("ingest", "points", "tiers", "notify", "analytics"):
        assert f"{service} is not answering" in page.text
    assert "Re-drive" not in page.text


def test_a_page_says_where_its_time_went_each_service_call_named_without_its_query(
    site: TestClient,
) -> None:
    _as(site, "admin")
    timing = site.get("/members?by=phone&q=09121234567").headers["server-timing"]
    app, lookup = timing.split(", ")
    assert re.fullmatch(r"app;dur=\d+\.\d", app)
    # The lookup was tried (ingest is away): its time is named, the phone number it asked for is not.
    assert re.fullmatch(r'ingest;desc="GET /v1/members/lookup";dur=\d+\.\d', lookup)
    # A page that calls nothing says only its own time.
    assert re.fullmatch(r"app;dur=\d+\.\d", site.get("/imports").headers["server-timing"])


def test_make_up_starts_the_console_on_8000_without_kafka_credentials_pointed_at_the_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deploy import launch

    assert launch.URLS["console"] == "http://127.0.0.1:8000"
    # Even on vafactl's broker (SASL, a principal per service) the console gets no Kafka credentials.
    monkeypatch.setenv("VAFA_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    assert launch.kafka_env("console") == {}
    assert launch.front_end_env("console") == {
        "VAFA_CONSOLE_INGEST_URL": "http://127.0.0.1:8001",
        "VAFA_CONSOLE_POINTS_URL": "http://127.0.0.1:8002",
        "VAFA_CONSOLE_TIERS_URL": "http://127.0.0.1:8003",
        "VAFA_CONSOLE_NOTIFY_URL": "http://127.0.0.1:8004",
        "VAFA_CONSOLE_ANALYTICS_URL": "http://127.0.0.1:8005",
    }


def test_outside_dev_the_console_refuses_the_repositorys_signing_keys() -> None:
    with pytest.raises(SystemExit, match="VAFA_AUTH_SIGNING_KEYS"):
        create(ConsoleSettings(env="production"))  # no database: its password is not asked for
