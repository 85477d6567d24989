"""The member portal's programs in a real browser (Debian's Chromium, Playwright) against the five real
services: a Persian member sees the points that expire and when, what her balance becomes in money
when the program ends, her challenges and badge, a game she played, gets her referral code with a share
link and gives points to a cause (the balance falls by what she gave, the oldest points first). The
JSON API gives a chain's app the same, to her token only; the embeddable widget on a shop of another
origin shows her balance, tier and expiring points, and a shop not allowed reads nothing. axe-core
finds no serious violation. The README's screenshots of these are taken here."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import FloatRect, async_playwright, expect

from services.portal.pages import SESSION
from shared.dates import add_months
from shared.persian import fa_digits, jalali
from sim.mail import Mailbox
from tests.integration.test_portal import CHAIN, CHROMIUM, PHONE, SHOTS, _ok, _serious, _signed_in
from tests.support import ServiceProcess, Stack, all_five, api_key, eventually, portal

RATE = Decimal("0.0001")  # points per rial: VAFA_POINTS_EARN_RATE below
NOW = datetime.now(UTC).replace(microsecond=0)
WIDGET_SHOT: FloatRect = {"x": 0, "y": 0, "width": 390, "height": 400}


def _sale(member: str, amount: int, category: str, at: datetime) -> dict[str, Any]:
    return {
        "chain_id": CHAIN, "store_id": "hyperstar-01", "receipt_no": uuid.uuid4().hex[:10],
        "member_id": member, "currency": "IRR", "total_amount": str(amount),
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "lines": [{"sku": category, "category": category, "quantity": "1", "unit_price": str(amount),
                   "amount": str(amount)}],
    }  # fmt: skip


@contextmanager
def _shop(directory: Path) -> Iterator[int]:
    """A chain's web shop: a static server on its own origin (a port below 32768, not 8000-8006)."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
    for port in range(23500, 23600):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no free port for the shop")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


async def test_a_member_sees_expiry_and_her_programs_donates_and_the_widget_shows_her_points_on_a_shop(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int], tmp_path: Path
) -> None:
    inbox, port = mail
    run = await all_five(
        stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port), VAFA_POINTS_EARN_RATE=str(RATE)
    )
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', CHAIN)}"}
    ends = NOW + timedelta(days=60)
    async with run["points"].client(timeout=30) as client:
        challenges = {
            "two-aisles": {"name": "Two aisles", "kind": "categories", "target": 2, "bonus_points": 20},
            "three-aisles": {"name": "Three aisles", "kind": "categories", "target": 3},
        }
        for challenge_id, challenge in challenges.items():
            assert (await client.put(f"/v1/challenges/{challenge_id}", json=challenge)).status_code == 200
        game = {"name": "Lucky bag", "currency": "IRR", "min_purchase": "2500000",
                "starts_at": (NOW - timedelta(hours=1)).isoformat(), "ends_at": ends.isoformat(),
                "prizes": [{"name": "tea", "points": 25, "odds": "1"}], "budget_points": 1000}  # fmt: skip
        assert (await client.put("/v1/games/lucky-bag", json=game)).status_code == 201
        cause = {"name": "Trees for Tehran", "match_ratio": "1", "match_budget_points": 1000}
        assert (await client.put("/v1/causes/trees", json=cause)).status_code == 200
        # Points are worth no money of their own: only a program's end converting them gives a value.
        assert (await client.get("/v1/members/m-sara/points-value")).status_code == 404
        end = {"name": "Club 1405", "ends_at": ends.isoformat(), "parting": "convert",
               "convert_rate": "1000", "currency": "IRR"}  # fmt: skip
        assert (await client.put("/v1/programs/club-1405", json=end)).status_code == 200

    # Today's two purchases on the same day (the first minutes after midnight, both at midnight).
    first, second = max(NOW - timedelta(minutes=5), NOW.replace(hour=0, minute=0, second=0)), NOW
    old = datetime(2026, 10, 15, 10, tzinfo=UTC)
    sales = {
        "m-sara": [(1_000_000, "grocery", old), (2_000_000, "grocery", first), (3_000_000, "bakery", second)],
        "m-tom": [(2_000_000, "grocery", first)],
    }
    async with run["ingest"].client(principal=None, timeout=30) as client:
        for member, (email, locale) in {"m-sara": ("sara@mail.example", "fa"),
                                        "m-tom": ("tom@mail.example", "en")}.items():  # fmt: skip
            enrol = {"member_id": member, "chain_id": CHAIN, "email": email, "locale": locale,
                     "consents": {"email": True}, "occurred_at": "2026-10-01T10:00:00Z"}  # fmt: skip
            assert (await client.post("/v1/members", json=enrol, headers=key)).status_code == 202
        for member, made in sales.items():
            for amount, category, at in made:
                sent = await client.post(
                    "/v1/purchases", json=_sale(member, amount, category, at), headers=key
                )
                assert sent.status_code == 202, sent.text
    # Sara: 100 + 200 + 300 for her purchases, 25 for the game her 3,000,000 purchase played (the only one
    # at least its minimum in its window) and 20 for the badge of two aisles this month.
    earned = {"m-sara": 100 + 200 + 300 + 25 + 20, "m-tom": 200}
    async with run["points"].client(timeout=30) as client:

        async def balances() -> dict[str, int] | None:
            got = {m: (await client.get(f"/v1/members/{m}/balance")).json().get("balance") for m in earned}
            return got if got == earned else None

        await eventually(balances, what="every purchase, prize and badge earned")
    async with run["tiers"].client(timeout=30) as client:
        await eventually(lambda: _ok(client, "/v1/members/m-sara/tier"), what="sara's tier")

    # What expires when: the October lot a year on, and the rest a year after today's purchases.
    later = add_months(first, 12).date()
    shop_dir = tmp_path / "shop"
    shop_dir.mkdir()
    with _shop(shop_dir) as shop_port:
        allowed = f"http://127.0.0.1:{shop_port}"
        site = (
            await portal(
                services,
                log_dir,
                {n: run[n] for n in ("ingest", "points", "tiers", "notify")},
                VAFA_PORTAL_WIDGET_ORIGINS=f'["{allowed}"]',
            )
        ).url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
            )
            try:
                page = await _signed_in(browser, site, inbox, "sara@mail.example")
                await expect(page.locator("html")).to_have_attribute("dir", "rtl")
                await expect(page.locator("#balance .value")).to_have_text(fa_digits("645"))
                # 645 points at 1,000 IRR each when the program ends, in 60 days.
                await expect(page.locator("#worth")).to_contain_text("۶۴۵٬۰۰۰ IRR")
                await expect(page.locator("#worth")).to_contain_text(jalali(ends.date()))
                expiry = page.locator("#expiring li")
                await expect(expiry).to_have_text(
                    [f"{fa_digits(100)} امتیاز در ۱۴۰۶/۰۷/۲۳", f"{fa_digits(545)} امتیاز در {jalali(later)}"]
                )
                done = page.locator("#challenges li[data-challenge=two-aisles]")
                await expect(done.locator(".count")).to_have_text("انجام شد: نشان گرفتید")
                await expect(page.locator("#challenges li[data-challenge=three-aisles] .count")).to_have_text(
                    "۲ از ۳"
                )
                await expect(page.locator("#challenges .badge")).to_have_text(
                    [f"Two aisles ({fa_digits(NOW.strftime('%Y-%m'))})"]
                )
                await expect(page.locator("#games li.won")).to_have_text(
                    re.compile(f"^lucky-bag: برندهٔ tea، {fa_digits(25)} امتیاز")
                )

                # Her referral code, made when she asks, with the link to send a friend.
                await page.click("#referral button")
                code = (await page.locator("#referral .ref-code").inner_text()).strip()
                assert re.fullmatch(r"[0-9A-Z]{8}", code), code
                await expect(page.locator("#share-link")).to_have_value(
                    f"https://club.example/join?referral_code={code}"
                )
                sms = await page.locator("#referral a.share-sms").get_attribute("href")
                assert sms and sms.startswith("sms:") and code in sms

                # She gives 45 points to the trees, typed in Persian digits: 600 left, from her oldest lot.
                await page.fill("#causes li[data-cause=trees] input[name=points]", fa_digits("45"))
                await page.click("#causes li[data-cause=trees] button")
                await expect(page.locator("#donated h2")).to_have_text(
                    f"سپاس: {fa_digits(45)} امتیاز به Trees for Tehran اهدا کردید."
                )
                await expect(page.locator("#donated")).to_contain_text(
                    f"برند {fa_digits(45)} امتیاز اضافه کرد."
                )
                await expect(page.locator("#balance .value")).to_have_text(fa_digits("600"))
                await expect(expiry.first).to_have_text(f"{fa_digits(55)} امتیاز در ۱۴۰۶/۰۷/۲۳")
                await expect(page.locator("#donations li").first).to_contain_text(
                    f"{fa_digits(45)} امتیاز به Trees for Tehran"
                )
                assert not await _serious(page)
                await page.goto(f"{site}/")  # the page as she opens it (no notice of the gift)
                await page.screenshot(path=str(SHOTS / "portal-programs-fa.png"), full_page=True)
                await page.goto(f"{site}/?lang=en")
                await expect(page.locator("#expiring li").first).to_have_text("55 points on 15 Oct 2027")
                await expect(page.locator("#worth")).to_contain_text("a voucher worth 600,000 IRR")
                assert not await _serious(page)
                await page.screenshot(path=str(SHOTS / "portal-programs-en.png"), full_page=True)
                (cookie,) = [c for c in await page.context.cookies() if c["name"] == SESSION.name]
                token = cookie["value"]
                await page.close()

                # The JSON API: her account, to her token; another member's is nowhere in it.
                mine = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(base_url=site, timeout=30) as client:
                    me = (await client.get("/api/v1/me", headers=mine)).json()
                    assert me["member_id"] == "m-sara" and me["balance"] == 600 and me["unavailable"] == []
                    assert me["expiring"] == [{"on": "2027-10-15", "points": 55},
                                              {"on": later.isoformat(), "points": 545}]  # fmt: skip
                    assert me["worth"] == {
                        "value": "600000.00",
                        "currency": "IRR",
                        "ends_at": me["worth"]["ends_at"],
                    }
                    assert me["referral"]["code"] == code and me["donations"][0]["points"] == 45
                    assert [c["badge"] for c in me["challenges"] if c["period"] == NOW.strftime("%Y-%m")] == [
                        False, True]  # fmt: skip
                    assert me["games"][0]["prize"] == "tea" and me["history"][0]["kind"] == "donate"
                    asked = await client.get("/api/v1/me", params={"member_id": "m-tom"}, headers=mine)
                    assert asked.json()["member_id"] == "m-sara"
                    for path in ("/api/v1/members/m-tom", "/api/v1/m-tom", "/api/v1/me/m-tom"):
                        assert (await client.get(path, headers=mine)).status_code == 404, path
                    assert (await client.get("/api/v1/me")).status_code == 401
                    # Her token at points itself: no other member's plays, gifts or value, and no gift of his.
                    for path in ("plays", "donations", "points-value", "challenges", "referrals", "lots"):
                        url = f"{run['points'].url}/v1/members/m-tom/{path}"
                        assert (await client.get(url, headers=mine)).status_code == 403, path
                    gift = {"request_id": str(uuid.uuid4()), "cause_id": "trees", "points": 10}
                    url = f"{run['points'].url}/v1/members/m-tom/donations"
                    assert (await client.post(url, json=gift, headers=mine)).status_code == 403
                    document = (await client.get("/openapi.json")).json()
                    assert "Me" in document["components"]["schemas"] and "/api/v1/me" in document["paths"]

                # The widget on the shop: her balance, tier and what expires, in Persian.
                (shop_dir / "index.html").write_text(
                    "<!doctype html><html lang='fa' dir='rtl'><head><meta charset='utf-8'><title>Shop</title>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                    "<style>body { font-family: 'DejaVu Sans', sans-serif; margin: 16px; }</style>"
                    f"<script src='{site}/static/vafa-loyalty.js' defer></script></head>"
                    f"<body><h1>Hyperstar shop</h1><vafa-loyalty lang='fa' token='{token}'></vafa-loyalty>"
                    "</body></html>"
                )
                shop = await browser.new_page(**PHONE)
                await shop.goto(f"{allowed}/index.html")
                await expect(shop.locator("vafa-loyalty .balance .value")).to_have_text(fa_digits("600"))
                await expect(shop.locator("vafa-loyalty progress")).to_have_count(1)
                await expect(shop.locator("vafa-loyalty .expiring li")).to_have_text(
                    [f"{fa_digits(55)} امتیاز در ۱۴۰۶/۰۷/۲۳", f"{fa_digits(545)} امتیاز در {jalali(later)}"]
                )
                assert not await _serious(shop)
                await shop.screenshot(path=str(SHOTS / "portal-widget-fa.png"), clip=WIDGET_SHOT)
                # The same shop page from an origin the portal does not name: the browser is refused.
                other = f"http://localhost:{shop_port}"
                await shop.goto(f"{other}/index.html")
                await expect(shop.locator("vafa-loyalty .error")).to_be_visible()
                await expect(shop.locator("vafa-loyalty .balance")).to_have_count(0)
                await shop.close()
            finally:
                await browser.close()
    async with httpx.AsyncClient(base_url=site, timeout=30) as client:
        asks = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        refused = await client.options(
            "/api/v1/me", headers={"Origin": f"http://localhost:{shop_port}", **asks}
        )
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
