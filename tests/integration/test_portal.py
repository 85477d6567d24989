"""The member portal in a real browser (Debian's Chromium, driven by Playwright) against the five real
services: a Persian member signs in with the code the local SMTP sink received, sees the balance this
test computed from the purchases it sent, redeems a reward and gets its code, withdraws email consent
and the next purchase sends no email; an English member sees English; the member's token reaches no
other member's data; axe-core finds no serious accessibility violation. The README's screenshots of the
portal are taken here."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from services.portal.pages import SESSION
from services.portal.settings import PortalSettings
from shared.persian import fa_digits
from sim.mail import Mailbox
from tests.support import REPO, ServiceProcess, Stack, all_five, api_key, eventually, portal

SHOTS = REPO / "docs" / "screenshots"
AXE = REPO / "tests" / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE_SIZE: ViewportSize = {"width": 390, "height": 844}
# The portal's Content-Security-Policy refuses any script it did not serve: axe-core is let in by the
# browser (bypass_csp) rather than by a weaker policy.
PHONE: dict[str, Any] = {"viewport": PHONE_SIZE, "is_mobile": True, "bypass_csp": True}
RATE = Decimal("0.0001")  # points per rial: VAFA_POINTS_EARN_RATE below
CHAIN = "hyperstar"


def _sale(member: str, amount: int) -> dict[str, Any]:
    return {
        "chain_id": CHAIN, "store_id": "hyperstar-01", "receipt_no": uuid.uuid4().hex[:10],
        "member_id": member,
        "currency": "IRR", "total_amount": str(amount), "occurred_at": "2026-11-20T10:00:00Z",
        "lines": [{"sku": "tea", "category": "grocery", "quantity": "1", "unit_price": str(amount),
                   "amount": str(amount)}],
    }  # fmt: skip


async def _signed_in(browser: Browser, site: str, inbox: Mailbox, email: str, typed_code: Any = str) -> Page:
    """A member signs in as they would: their email, then the code from the message it brought."""
    page = await browser.new_page(**PHONE)
    await page.goto(f"{site}/sign-in")
    before = len(inbox.messages)
    await page.fill("#address", email)
    await page.keyboard.press("Enter")  # the keyboard alone signs in
    await expect(page.locator("#code-sent")).to_contain_text(email)
    code = await eventually(lambda: inbox.sign_in_code(email, before), what=f"code to {email}")
    await page.fill("#code", typed_code(code))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{site}/")
    return page


async def _serious(page: Page) -> list[str]:
    """What axe-core (vendored, run in the page) finds serious or critical, as 'rule: target'."""
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


async def test_a_member_signs_in_with_a_code_reads_their_points_redeems_and_withdraws_email_consent(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    run = await all_five(
        stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port), VAFA_POINTS_EARN_RATE=str(RATE)
    )
    site = (await portal(services, log_dir, {n: run[n] for n in ("ingest", "points", "tiers", "notify")})).url
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', CHAIN)}"}
    members = {"m-leila": ("leila@mail.example", "fa"), "m-john": ("john@mail.example", "en"),
               "m-omid": ("omid@mail.example", "fa")}  # fmt: skip
    amounts = {"m-leila": [3_000_000, 1_500_000], "m-john": [2_000_000], "m-omid": [9_990_000]}
    async with run["ingest"].client(principal=None, timeout=30) as client:
        for member, (email, locale) in members.items():
            enrol = {"member_id": member, "chain_id": CHAIN, "email": email, "locale": locale,
                     "consents": {"email": True}, "occurred_at": "2026-11-01T10:00:00Z"}  # fmt: skip
            assert (await client.post("/v1/members", json=enrol, headers=key)).status_code == 202
        for member, sales in amounts.items():
            for amount in sales:
                sent = await client.post("/v1/purchases", json=_sale(member, amount), headers=key)
                assert sent.status_code == 202, sent.text
    expected = {member: int(sum(Decimal(a) * RATE for a in sales)) for member, sales in amounts.items()}
    assert expected["m-leila"] == 450
    reward = {"name": "Free tea", "kind": "free_item", "cost_points": 200, "stock": 10}
    dear = {"name": "Weekend in Kish", "kind": "voucher", "cost_points": 90_000}
    async with run["points"].client(timeout=30) as client:
        assert (await client.put("/v1/rewards/tea", json=reward)).status_code == 200
        assert (await client.put("/v1/rewards/kish", json=dear)).status_code == 200

        async def balances() -> dict[str, int] | None:
            got = {m: (await client.get(f"/v1/members/{m}/balance")).json().get("balance") for m in amounts}
            return got if got == expected else None

        await eventually(balances, what="every purchase earned")
    async with run["tiers"].client(timeout=30) as client:
        await eventually(
            lambda: _ok(client, "/v1/members/m-leila/tier"),
            what="leila's tier",  # for the page and the shot
        )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
        )
        try:
            # Asking for a code says the same whether or not the address is a member's.
            page = await browser.new_page(**PHONE)
            await page.goto(f"{site}/sign-in?lang=en")
            assert not await _serious(page)
            await page.fill("#address", "nobody@mail.example")
            await page.click("button[type=submit]")
            stranger = await page.locator("#code-sent").inner_text()
            assert stranger == "If nobody@mail.example belongs to a member, a code is on its way. " \
                "It works once, for a few minutes."  # fmt: skip
            await page.close()

            # Leila: Persian (her profile's language), the code typed in Persian digits.
            page = await _signed_in(browser, site, inbox, "leila@mail.example", typed_code=fa_digits)
            (cookie,) = [c for c in await page.context.cookies() if c["name"] == SESSION.name]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            html = page.locator("html")
            await expect(html).to_have_attribute("dir", "rtl")
            await expect(page.locator("#balance .value")).to_have_text(fa_digits("450"))
            # No program converts points to money here: no money value is shown (none is made up).
            await expect(page.locator("#worth")).to_have_count(0)
            earn = page.locator("#history li.kind-earn").first
            await expect(earn.locator(".why")).to_have_text("خرید " + "۱٬۵۰۰٬۰۰۰" + " IRR:")
            await expect(earn.locator(".when")).to_have_text(re.compile("^۱۴۰۵/۰۸/۲۹"))
            await expect(page.locator("#tier .tier-name")).not_to_be_empty()
            # What she can afford is offered; what she cannot is only counted.
            await expect(page.locator("#rewards li.reward")).to_have_count(1)
            await expect(page.locator("#rewards li.reward .name")).to_have_text("Free tea")
            assert not await _serious(page)

            await page.click("#rewards li[data-reward=tea] button")
            code = page.locator("#redeemed code")
            await expect(code).to_have_text(re.compile(r"^\S{6,}$"))
            await expect(page.locator("#balance .value")).to_have_text(fa_digits("250"))
            await expect(page.locator("#history li.kind-redeem .num")).to_have_text(
                "\u200e-" + fa_digits("200")
            )
            await page.screenshot(path=str(SHOTS / "portal-member-fa.png"), full_page=True)
            token = cookie["value"]

            # Email consent withdrawn with the keyboard: to the box, untick it, to Save, press it.
            await page.focus("#consent-email")
            await page.keyboard.press("Space")
            await page.keyboard.press("Tab")
            await page.keyboard.press("Tab")
            await page.keyboard.press("Enter")
            await expect(page.locator("#saved")).to_be_visible()
            await expect(page.locator("#consent-email")).not_to_be_checked()
            await page.close()

            # John: English, his profile's language, from the first page after signing in.
            page = await _signed_in(browser, site, inbox, "john@mail.example")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            await expect(page.locator("#balance h1")).to_have_text("Your points")
            await expect(page.locator("#balance .value")).to_have_text("200")
            await expect(page.locator("#history li.kind-earn .why").first).to_have_text(
                "A purchase of 2,000,000 IRR:"
            )
            assert not await _serious(page)
            await page.screenshot(path=str(SHOTS / "portal-member-en.png"), full_page=True)
        finally:
            await browser.close()

    async with run["notify"].client(timeout=30) as client:
        await eventually(
            lambda: _consents(client, "m-leila", {"email": False}), what="notify heard the consent change"
        )
    async with run["notify"].client(timeout=30) as client:
        await eventually(lambda: _settled(client, "m-leila"), what="leila's earlier messages sent")
    sent_before = [m for m in inbox.messages if m["To"] == "leila@mail.example"]
    async with run["ingest"].client(principal=None, timeout=30) as client:
        assert (
            await client.post("/v1/purchases", json=_sale("m-leila", 1_000_000), headers=key)
        ).status_code == 202
    async with run["notify"].client(timeout=30) as client:
        refused = await eventually(
            lambda: _suppressed(client, "m-leila", "no consent for email"), what="the email suppressed"
        )
    assert refused and [m for m in inbox.messages if m["To"] == "leila@mail.example"] == sent_before

    # Leila's token reaches Leila only: not through the portal, nor at points directly.
    mine = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for path in ("/v1/members/m-omid/balance", "/v1/members/m-omid/ledger"):
            assert (await client.get(run["points"].url + path, headers=mine)).status_code == 403
        assert (
            await client.get(run["notify"].url + "/v1/members/m-omid/export", headers=mine)
        ).status_code == 403
    omid = f">{fa_digits(expected['m-omid'])}<"  # his balance, as his page would show it
    async with httpx.AsyncClient(base_url=site, cookies={SESSION.name: token}, timeout=30) as client:
        # The portal's page is the token's member's, whatever else the request names.
        asked = await client.get("/", params={"member_id": "m-omid"})
        assert "m-leila" in asked.text and omid not in asked.text
        for path in ("/members/m-omid", "/m-omid/", "/v1/members/m-omid/balance"):
            assert (await client.get(path)).status_code == 404, path
        # A redemption for him, posted with her session's form, is hers (the member is the token's).
        forged = {"csrf": SESSION.csrf_token(PortalSettings(), token), "reward_id": "tea",
                  "member_id": "m-omid", "request_id": str(uuid.uuid4())}  # fmt: skip
        assert (await client.post("/redemptions", data=forged)).status_code == 200
        # Her own page: 450 - 200 for the tea + 100 for the last purchase, - 200 for that second tea.
        own = await client.get("/")
        assert own.status_code == 200 and f">{fa_digits(150)}<" in own.text
    async with run["points"].client(timeout=30) as client:
        assert (await client.get("/v1/members/m-omid/balance")).json()["balance"] == expected["m-omid"]


async def _ok(client: httpx.AsyncClient, path: str) -> bool | None:
    return True if (await client.get(path)).status_code == 200 else None


async def _consents(client: httpx.AsyncClient, member: str, wanted: dict[str, bool]) -> bool | None:
    profile = (await client.get(f"/v1/members/{member}/export")).json()["profile"] or {}
    held = profile.get("consents", {})
    return True if all(held.get(k) == v for k, v in wanted.items()) else None


async def _settled(client: httpx.AsyncClient, member: str) -> bool | None:
    found = (await client.get(f"/v1/members/{member}/deliveries")).json()["deliveries"]
    return True if found and all(d["status"] != "queued" for d in found) else None


async def _suppressed(client: httpx.AsyncClient, member: str, reason: str) -> bool | None:
    found = (await client.get(f"/v1/members/{member}/deliveries")).json()["deliveries"]
    return True if any(d["status"] == "suppressed" and d["reason"] == reason for d in found) else None
