"""The program page in a real browser (Debian's Chromium, driven by Playwright) against real ingest and
points: a marketer-admin doubles a category multiplier, reads the preview's figures (equal to those
worked out here from the purchases this test sent), is shown a refused field next to it, publishes, and
the next purchase earns under the new version; the Persian page is right to left. The program page's
screenshots in the README are taken here."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from shared.contracts.envelope import utcnow
from shared.persian import fa_digits
from tests.integration.test_console import CHROMIUM, SHOTS, _sign_in
from tests.integration.test_points import floor
from tests.support import (
    ServiceProcess,
    Stack,
    api_key,
    bearer,
    console,
    eventually,
    new_operator,
    operator,
    running,
)

ADMIN = bearer(operator("setup", "admin"))
RATE = Decimal("0.0001")
WELCOME = 20
RULES = {
    "effective_from": "2020-01-01T00:00:00+00:00",
    "base_rates": {"IRR": str(RATE)},
    "category_multipliers": {"grocery": "1.5", "dairy": "1.2"},
    # Next Nowruz: no purchase of this test falls in it, so it changes none of the figures.
    "promotions": [
        {
            "name": "Nowruz",
            "multiplier": "2",
            "starts_on": "2027-03-20",
            "ends_on": "2027-04-02",
            "categories": ["grocery", "bakery"],
        }
    ],
    "welcome_bonus": WELCOME,
}
# What each member bought in the last days: (days ago, [(category, amount)]).
BASKETS: dict[str, list[tuple[int, list[tuple[str, str]]]]] = {
    "cp-ali": [(6, [("grocery", "4200000"), ("dairy", "900000")]), (2, [("grocery", "1750000")])],
    "cp-sara": [(5, [("dairy", "3300000"), ("bakery", "400000")])],
    "cp-reza": [(3, [("grocery", "2600000")]), (1, [("bakery", "650000"), ("grocery", "300000")])],
    "cp-nika": [(4, [("bakery", "1200000")])],
}


def by_hand(lines: list[tuple[str, str]], grocery: Decimal, first: bool) -> int:
    """Base on every line, (m - 1) x base more per multiplied category, each part rounded down; the
    welcome bonus on the member's first purchase."""
    multipliers = {"grocery": grocery, "dairy": Decimal("1.2")}
    base = floor(sum(Decimal(a) for _, a in lines) * RATE)
    extra = 0
    for category, m in multipliers.items():
        amount = sum(Decimal(a) for c, a in lines if c == category)
        extra += floor(amount * RATE * (m - 1)) if amount else 0
    return base + extra + (WELCOME if first else 0)


def sale(member: str, at: datetime, lines: list[tuple[str, str]]) -> dict[str, Any]:
    items = [
        {"sku": f"{c}-1", "category": c, "quantity": "1", "unit_price": a, "amount": a} for c, a in lines
    ]
    return {
        "chain_id": "hyperstar", "store_id": "hyperstar-01", "receipt_no": uuid.uuid4().hex[:10],
        "member_id": member, "currency": "IRR", "lines": items,
        "total_amount": str(sum(Decimal(a) for _, a in lines)), "occurred_at": at.isoformat(),
    }  # fmt: skip


async def figure(page: Page, name: str) -> str:
    return (await page.locator(f"#preview .figure.{name}").inner_text()).strip()


async def test_an_operator_previews_a_rule_change_against_past_purchases_publishes_it_and_it_earns(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points", VAFA_POINTS_EXPIRY_MONTHS="12")
    site = await console(services, log_dir, {"ingest": ingest, "points": points})
    ada = new_operator(stack, "ada", "admin")
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', 'hyperstar')}"}

    now = utcnow()
    sales = [
        sale(m, now - timedelta(days=d), lines) for m, baskets in BASKETS.items() for d, lines in baskets
    ]
    async with points.client(timeout=30) as client:
        assert (await client.post("/v1/rules", json=RULES, headers=ADMIN)).status_code == 201
        coffee = {"name": "Free coffee", "kind": "free_item", "cost_points": 500, "stock": 10}
        assert (await client.put("/v1/rewards/coffee", json=coffee, headers=ADMIN)).status_code == 200
    async with ingest.client(principal=None, timeout=30) as client:
        for body in sales:
            assert (await client.post("/v1/purchases", json=body, headers=key)).status_code == 202

    # The figures, by hand: what each member earned under x1.5 on grocery and would under x3.
    now_points = candidate_points = 0
    for baskets in BASKETS.values():
        for n, (_, lines) in enumerate(sorted(baskets, reverse=True)):  # oldest first: the welcome
            now_points += by_hand(lines, Decimal("1.5"), n == 0)
            candidate_points += by_hand(lines, Decimal(3), n == 0)
    async with points.client(timeout=30) as client:

        async def all_earned() -> bool:
            balances = [await client.get(f"/v1/members/{m}/balance", headers=ADMIN) for m in BASKETS]
            return sum(int(b.json()["balance"]) for b in balances if b.status_code == 200) == now_points

        await eventually(all_earned, what="every purchase earned as the rules say")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
        )
        try:
            page = await _sign_in(browser, site.url, "ada", ada)
            await page.click("header nav a[data-page=program]")
            await expect(page).to_have_url(f"{site.url}/program")
            await expect(page.locator("tr.version.status-in_force")).to_have_count(1)
            grocery = page.locator('input[name="category_multipliers.grocery"]')
            await expect(grocery).to_have_value("1.5")

            # Double the grocery multiplier and preview it over the last week.
            await grocery.fill("3")
            await page.fill('input[name="preview_days"]', "7")
            await page.click("#preview-button")
            await expect(page.locator("#preview")).to_be_visible()
            assert await figure(page, "purchases") == str(len(sales))
            assert await figure(page, "members") == str(len(BASKETS))
            assert await figure(page, "points-now") == f"{now_points:,}"
            assert await figure(page, "points-candidate") == f"{candidate_points:,}"
            assert await figure(page, "difference") == f"{candidate_points - now_points:+,}"
            # Nika bought no grocery: she is not among the members whose points change.
            listed = await page.locator("#preview tr.top-member td:first-child").all_inner_texts()
            assert sorted(listed) == ["cp-ali", "cp-reza"]
            await expect(grocery).to_have_value("3")  # the form keeps the candidate
            await page.screenshot(path=str(SHOTS / "console-program-preview.png"), full_page=True)

            # A refused field is shown next to it, and nothing is published.
            await page.fill('input[name="welcome_bonus"]', "-5")
            await page.click("#publish-button")
            await expect(page.locator('.field-error[data-for="welcome_bonus"]')).to_have_text("At least 0.")
            await expect(page.locator('input[name="welcome_bonus"]')).to_have_attribute(
                "aria-invalid", "true"
            )
            await expect(page.locator("tr.version")).to_have_count(1)

            await page.fill('input[name="welcome_bonus"]', str(WELCOME))
            await page.click("#publish-button")
            await expect(page.locator("#published")).to_have_text("Version 2 published.")
            in_force = page.locator("tr.version.status-in_force")
            await expect(in_force).to_have_attribute("data-version", "2")
            await expect(in_force).to_contain_text("grocery ×3")
            await page.screenshot(path=str(SHOTS / "console-program-en.png"), full_page=True)

            # In Persian: right to left, Persian digits in the versions list.
            await page.goto(f"{site.url}/program?lang=fa")
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
            await expect(page.locator("tr.status-in_force td.num").first).to_have_text(fa_digits("2"))
            await expect(page.locator("#editor legend").first).to_have_text("نرخ پایه")
            await page.screenshot(path=str(SHOTS / "console-program-fa.png"), full_page=True)

            # A reward redeemed on Ali's behalf: its code is shown and his balance goes down by its cost.
            ali = sum(
                by_hand(lines, Decimal("1.5"), n == 0) for n, (_, lines) in enumerate(BASKETS["cp-ali"])
            )
            await page.goto(f"{site.url}/members/cp-ali?lang=en")
            await expect(page.locator("#balance .value")).to_have_text(f"{ali:,}")
            await page.select_option("#redeem select[name=reward_id]", "coffee")
            await page.click("#redeem button")
            await expect(page.locator("#redeemed")).to_have_text(
                re.compile(r"Free coffee redeemed for 500 points\. Its code: [A-Z2-7]{4}(-[A-Z2-7]{4}){3}$")
            )
            await expect(page.locator("#balance .value")).to_have_text(f"{ali - 500:,}")
            await expect(page.locator("#ledger tr.kind-redeem .why")).to_contain_text("Reward coffee.")

            # The member page shows when each lot expires: a year after it was earned.
            await page.goto(f"{site.url}/members/cp-sara?lang=en")
            expires = page.locator("#lots tr.lot .expires")
            await expect(expires).to_have_text(re.compile(rf"{(now - timedelta(days=5)).year + 1}$"))
        finally:
            await browser.close()

    # A purchase made now earns under the published version: grocery x3.
    basket = [("grocery", "2000000"), ("dairy", "500000")]
    async with ingest.client(principal=None, timeout=30) as client:
        assert (
            await client.post("/v1/purchases", json=sale("cp-nika", utcnow(), basket), headers=key)
        ).status_code == 202
    nika = by_hand(BASKETS["cp-nika"][0][1], Decimal("1.5"), True)
    expected = nika + by_hand(basket, Decimal(3), False)
    async with points.client(timeout=30) as client:

        async def balance() -> int | None:
            found = (await client.get("/v1/members/cp-nika/balance", headers=ADMIN)).json()["balance"]
            return found if found != nika else None

        assert await eventually(balance, what="the new purchase earned") == expected
        audit = (await client.get("/v1/audit", params={"action": "rules.publish"}, headers=ADMIN)).json()
        # Published with the operator's own authority: the audit names ada, not the console.
        assert {e["target"]: e["actor"] for e in audit["entries"]}["rules:2"] == "operator:ada"
        # and so was the reward she redeemed for Ali, with its code.
        confirmed = (
            await client.get("/v1/audit", params={"action": "redemption.confirm"}, headers=ADMIN)
        ).json()
        ((entry),) = confirmed["entries"]
        assert (entry["actor"], entry["after"]["member_id"], entry["after"]["status"]) == (
            "operator:ada",
            "cp-ali",
            "confirmed",
        )
