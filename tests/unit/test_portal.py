"""The member portal in-process (no other service answers, so every block says why it is missing):
what a member may type to sign in, the session cookie, the CSRF token on every form, and every page
rendered in both languages without a stack trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.portal.main import create
from services.portal.pages import SESSION, address_of
from services.portal.settings import PortalSettings
from services.portal.words import Words
from shared.identity import member, operator
from shared.web.words import Verbatim
from sim.harness import DEV_KEYS, free_port


def test_a_mobile_typed_the_usual_way_or_an_email_is_an_address_ingest_takes() -> None:
    assert address_of("۰۹۱۲ ۱۲۳ ۴۵۶۷") == {"phone": "+989121234567"}
    assert address_of("09121234567") == {"phone": "+989121234567"}
    assert address_of("00989121234567") == {"phone": "+989121234567"}
    assert address_of(" Leila@Mail.example ") == {"email": "Leila@Mail.example"}
    for nonsense in ("", "0912", "leila@", "+98 912 abc", "a@b"):
        assert address_of(nonsense) is None, nonsense


@pytest.fixture
def site() -> Iterator[TestClient]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        portal_ingest_url=nowhere,
        portal_points_url=nowhere,
        portal_tiers_url=nowhere,
        portal_notify_url=nowhere,
    )
    with TestClient(create(settings), follow_redirects=False) as client:
        yield client


def _as_member(client: TestClient, member_id: str = "m-1") -> str:
    token = DEV_KEYS.issue(member(member_id), 600)
    client.cookies.set(SESSION.name, token)
    return SESSION.csrf_token(PortalSettings(), token)


def test_no_session_or_an_operators_goes_to_sign_in(site: TestClient) -> None:
    assert site.get("/").headers["location"] == "/sign-in"
    site.cookies.set(SESSION.name, DEV_KEYS.issue(operator("ada", "admin"), 600))
    answer = site.get("/")
    assert answer.headers["location"] == "/sign-in?why=session_expired"
    assert f'{SESSION.name}=""' in answer.headers["set-cookie"]


def test_when_ingest_does_not_answer_asking_for_a_code_says_so_and_nonsense_is_refused_first(
    site: TestClient,
) -> None:
    down = site.post("/sign-in/code?lang=en", data={"address": "09121234567"})
    assert down.status_code == 503 and "Signing in is not possible right now" in down.text
    typed = site.post("/sign-in/code?lang=en", data={"address": "not an address"})
    assert typed.status_code == 422 and "neither a mobile number nor an email" in typed.text


def test_every_form_without_the_sessions_csrf_token_is_refused(site: TestClient) -> None:
    csrf = _as_member(site)
    forms = {"/redemptions": {"reward_id": "tea", "request_id": "6f1f7b8e-0f9e-4a53-9d62-5a3c0d3b2a10"},
             "/consents": {"email": "on"}, "/sign-out": {}}  # fmt: skip
    for path, form in forms.items():
        for sent in ({}, {"csrf": "0" * 64}):
            answer = site.post(f"{path}?lang=en", data=form | sent)
            assert answer.status_code == 403 and "did not come from this page" in answer.text, path
    # With it, the redemption goes to points (which does not answer here: the page says so).
    answer = site.post("/redemptions?lang=en", data=forms["/redemptions"] | {"csrf": csrf})
    assert answer.status_code == 422 and "points is not answering" in answer.text


@pytest.mark.parametrize("lang", ["fa", "en"])
@pytest.mark.parametrize("path", ["/sign-in", "/", "/no-such-page"])
def test_every_page_renders_in_both_languages_with_what_is_missing_said(
    site: TestClient, lang: str, path: str
) -> None:
    _as_member(site)
    answer = site.get(f"{path}?lang={lang}")
    assert answer.status_code == (404 if path == "/no-such-page" else 200), answer.text[-500:]
    direction = "rtl" if lang == "fa" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in answer.text
    assert "Traceback" not in answer.text
    if path == "/":
        words = Words(lang)  # type: ignore[arg-type]
        assert words("not_available", why=words("service_down", service="points")) in answer.text


def test_an_address_is_shown_as_typed_in_a_persian_sentence() -> None:
    said = Words("fa")("code_sent", address=Verbatim("leila.2@mail.example"))
    assert "leila.2@mail.example" in said


def test_the_json_api_answers_a_members_bearer_token_only_with_problems_otherwise(site: TestClient) -> None:
    assert site.get("/api/v1/me").status_code == 401
    site.cookies.set(SESSION.name, DEV_KEYS.issue(member("m-1"), 600))  # a cookie is no credential here
    refused = site.get("/api/v1/me")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    operator_token = {"Authorization": f"Bearer {DEV_KEYS.issue(operator('ada', 'admin'), 600)}"}
    assert site.get("/api/v1/me", headers=operator_token).status_code == 403
    mine = {"Authorization": f"Bearer {DEV_KEYS.issue(member('m-1'), 600)}"}
    answer = site.get("/api/v1/me?lang=en", headers=mine)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    me = answer.json()
    # No service answers here: every part says so, and none is made up.
    assert me["member_id"] == "m-1" and me["balance"] is None and me["worth"] is None
    assert set(me["unavailable"]) >= {"balance", "expiring", "tier", "history", "referral", "consents"}
    bad = site.get("/api/v1/me?lang=xx", headers=mine)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert site.get("/api/v1/nothing").headers["content-type"] == "application/problem+json"


def test_the_widget_words_come_in_both_languages() -> None:
    with TestClient(create(PortalSettings())) as client:
        fa = client.get("/api/v1/words?lang=fa").json()
        en = client.get("/api/v1/words?lang=en").json()
    assert fa["dir"] == "rtl" and fa["words"]["balance"] == "امتیاز شما"
    assert en["dir"] == "ltr" and en["words"]["expiring_line"] == "{points} points on {when}"


def test_only_the_shops_named_may_read_the_api_from_a_browser() -> None:
    shop = "http://shop.example:23501"
    with TestClient(create(PortalSettings(portal_widget_origins=[shop]))) as client:
        asks = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        allowed = client.options("/api/v1/me", headers={"Origin": shop, **asks})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == shop
        other = client.options("/api/v1/me", headers={"Origin": "http://evil.example", **asks})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    for wrong in ("*", "shop.example", "https://shop.example/path"):
        with pytest.raises(ValueError, match="is not an origin"):
            PortalSettings(portal_widget_origins=[wrong])
