"""The operator console in a real browser (Debian's Chromium, driven by Playwright) against real
services: an operator signs in, finds a member by phone, reads why they have their points, adjusts
them with a reason and finds it in the audit log; a support-only operator cannot open the program page;
the Persian page is right to left with Persian digits. The screenshots in the README are taken here."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.persian import fa_digits
from tests.support import (
    REPO,
    ServiceProcess,
    Stack,
    api_key,
    console,
    eventually,
    new_operator,
    running,
)

SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = "+989121234567"
AT = "2026-11-20T10:00:00Z"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _sign_in(browser: Browser, url: str, name: str, password: str, lang: str = "en") -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{url}/sign-in?lang={lang}")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    return page


async def test_an_operator_finds_a_member_reads_why_adjusts_and_sees_it_audited_in_both_languages(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    rate = {"VAFA_POINTS_EARN_RATE": "0.0001"}
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points", **rate)
    tiers = await running(stack, services, log_dir, "tiers")
    notify = await running(stack, services, log_dir, "notify", VAFA_NOTIFY_CONTACTS_URL=ingest.url)
    site = await console(
        services, log_dir, {"ingest": ingest, "points": points, "tiers": tiers, "notify": notify}
    )
    ada, sam = new_operator(stack, "ada", "admin"), new_operator(stack, "sam", "support")

    member = f"m-{uuid.uuid4().hex[:6]}"
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', 'hyperstar')}"}
    enrolment = {"member_id": member, "chain_id": "hyperstar", "phone": PHONE, "locale": "fa",
                 "consents": {"sms": True}, "occurred_at": AT}  # fmt: skip
    sale = {
        "chain_id": "hyperstar", "store_id": "hyperstar-01", "receipt_no": "CON-1", "member_id": member,
        "currency": "IRR", "total_amount": "3000000", "occurred_at": AT,
        "lines": [{"sku": "tea", "category": "grocery", "quantity": "1", "unit_price": "3000000",
                   "amount": "3000000"}],
    }  # fmt: skip
    async with ingest.client(principal=None, timeout=30) as client:
        assert (await client.post("/v1/members", json=enrolment, headers=key)).status_code == 202
        assert (await client.post("/v1/purchases", json=sale, headers=key)).status_code == 202
    async with points.client(timeout=30) as client:

        async def earned() -> int | None:
            answer = await client.get(f"/v1/members/{member}/balance")
            return answer.json()["balance"] if answer.status_code == 200 else None

        balance = await eventually(earned, what="points earned")
        # A reward on offer: the member page offers to redeem it for them.
        coffee = {"name": "Free coffee", "kind": "free_item", "cost_points": 250, "stock": 40}
        assert (await client.put("/v1/rewards/coffee", json=coffee)).status_code == 200
        (earn,) = (await client.get(f"/v1/members/{member}/ledger")).json()["entries"]
    (rule,) = earn["details"]["rules"]  # the base rate: 3,000,000 IRR x 0.0001 = 300
    assert (rule["points"], balance) == (300, 300)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            await page.goto(f"{site.url}/sign-in?lang=en")
            await page.screenshot(path=str(SHOTS / "console-sign-in.png"))
            await page.close()
            # A wrong password is a clear sentence on the sign-in page, not an error document.
            page = await _sign_in(browser, site.url, "ada", "not-her-password")
            await expect(page.locator("[role=alert]")).to_have_text(re.compile("Wrong name or password"))
            await page.close()

            page = await _sign_in(browser, site.url, "ada", ada)
            await expect(page).to_have_url(f"{site.url}/members")
            (cookie,) = [c for c in await page.context.cookies() if c["name"] == "vafa_session"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            # Every page the admin may open is in the nav.
            assert await page.locator("header nav a").all_inner_texts() == [
                "Members",
                "Audit",
                "Program",
                "Insight",
                "Operations",
                "Setup",
                "Import",
            ]

            await page.select_option("select[name=by]", "phone")
            await page.fill("input[name=q]", PHONE)
            await page.click("form.search button")
            await expect(page).to_have_url(f"{site.url}/members/{member}")
            await expect(page.locator("#balance .value")).to_have_text("300")
            # Why they have them: the purchase and the rule that gave each point.
            why = page.locator("#ledger tr.kind-earn .why")
            await expect(why).to_contain_text("A purchase of 3,000,000 IRR")
            await expect(why.locator(".rules li")).to_have_text(
                [re.compile(re.escape(rule["rule"]) + r"\s*\+300")]
            )
            await expect(page.locator("#tier")).not_to_contain_text("Not available")

            await page.fill("#adjust input[name=points]", "120")
            await page.fill("#adjust input[name=reason]", "goodwill after a complaint")
            await page.click("#adjust button")
            await expect(page.locator("#adjusted")).to_have_text("Adjusted by +120 points. New balance: 420.")
            await expect(page.locator("#balance .value")).to_have_text("420")
            await expect(page.locator("#ledger tr.kind-adjust .why")).to_contain_text(
                "operator:ada: “goodwill after a complaint”"
            )
            await page.goto(f"{site.url}/members/{member}")
            await page.screenshot(path=str(SHOTS / "console-member-en.png"), full_page=True)

            await page.click("header nav a[data-page=audit]")
            entry = page.locator("tr.audit-entry").first
            await expect(entry).to_contain_text("operator:ada")
            await expect(entry).to_contain_text("points.adjust")
            await expect(entry).to_contain_text(f"member:{member}")

            # In Persian: right to left, Persian digits, the Jalali calendar; the choice is remembered.
            await page.goto(f"{site.url}/members/{member}")
            await page.click("a.lang")
            html = page.locator("html")
            await expect(html).to_have_attribute("dir", "rtl")
            await expect(html).to_have_attribute("lang", "fa")
            await expect(page.locator("#balance .value")).to_have_text(fa_digits("420"))
            adjusted = page.locator("#ledger tr.kind-adjust td.num")
            await expect(adjusted).to_have_text("\u200e+" + fa_digits("120"))  # the sign before the digits
            await expect(page.locator("#ledger tr.kind-earn .when")).to_have_text(re.compile("^۱۴۰۵/۰۸/۲۹"))
            await page.goto(f"{site.url}/audit")
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
            await page.goto(f"{site.url}/members/{member}")
            await page.screenshot(path=str(SHOTS / "console-member-fa.png"), full_page=True)

            # A support-only operator: no Program in the nav, and the page itself refuses them.
            support = await _sign_in(browser, site.url, "sam", sam)
            await expect(support).to_have_url(f"{site.url}/members")
            assert "Program" not in await support.locator("header nav").inner_text()
            answer = await support.goto(f"{site.url}/program")
            assert answer is not None and answer.status == 403
            await expect(support.locator("h1")).to_have_text("Not allowed")
            session = {c["name"]: c["value"] for c in await support.context.cookies()}
        finally:
            await browser.close()

    # The same refusal without a browser: the route, not the link, is the gate.
    async with httpx.AsyncClient(base_url=site.url, cookies=session, timeout=30) as client:
        refused = await client.get("/program")
        assert refused.status_code == 403 and "Not allowed" in refused.text
        # A form posted without the session's CSRF token changes nothing.
        forged = await client.post(
            f"/members/{member}/adjustments",
            data={"points": "5000", "reason": "from another site", "request_id": str(uuid.uuid4())},
        )
        assert forged.status_code == 403
    async with points.client(timeout=30) as client:
        assert (await client.get(f"/v1/members/{member}/balance")).json()["balance"] == 420
        # The adjustment was made with the operator's own authority: the audit names ada, not the console.
        audit = (await client.get("/v1/audit", params={"action": "points.adjust"})).json()["entries"]
        assert [e["actor"] for e in audit] == ["operator:ada"]
