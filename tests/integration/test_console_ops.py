"""The console's Insight and Operations pages in a real browser (Debian's Chromium, driven by
Playwright) against the five services: the KPIs of purchases the test sent, per chain, on the page and
in its CSV; a poison record's dead letter on the Operations page by its reason, re-driven by an admin's
button back to its topic and audited under their name; the roles without the permission refused. The
README's screenshots of both pages are taken here."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import httpx
from playwright.async_api import async_playwright, expect

from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from shared.contracts import PURCHASE_RECORDED, PurchaseRecorded
from shared.deadletter import REASON
from shared.persian import fa_digits
from shared.repair import REDRIVEN_FOR, REDRIVEN_FROM
from shared.topics import Topic
from tests.integration.test_console import CHROMIUM, SHOTS, _sign_in
from tests.support import (
    ServiceProcess,
    Stack,
    all_five,
    as_record,
    at_least,
    console,
    eventually,
    new_operator,
    operator,
)

# What each member of chain-1 spent (IRR), one purchase per amount; one more purchase in chain-2.
SPENT = {"m-ops-1": ["1000000", "3000000"], "m-ops-2": ["2000000"], "m-ops-3": ["6000000"]}
POISON = b"[1, 2, 3]"  # JSON, but not an event: every consumer of the topic refuses it


def _purchase(member: str, amount: str, chain: str, receipt: str) -> tuple[bytes, bytes]:
    payload = PurchaseRecorded(chain_id=chain, store_id=f"{chain}-01", receipt_no=receipt,
                               member_id=member, currency="IRR", total_amount=Decimal(amount))  # fmt: skip
    return as_record(PURCHASE_RECORDED.envelope(key=member, producer="test-pos", payload=payload))


async def test_insight_shows_the_kpis_of_what_was_sold_and_operations_re_drives_a_dead_letter_audited(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    rate = {"VAFA_POINTS_EARN_RATE": "0.0001"}  # a point per 10,000 IRR
    run = await all_five(stack, services, log_dir, **rate, **stack.infra.repair_env())
    site = await console(services, log_dir, run)
    ada, mina = new_operator(stack, "ada", "admin"), new_operator(stack, "mina", "marketer")
    sam = new_operator(stack, "sam", "support")

    sales = [
        _purchase(m, a, "chain-1", f"OPS-{m}-{i}")
        for m, amounts in SPENT.items()
        for i, a in enumerate(amounts)
    ]
    sales.append(_purchase("m-ops-4", "5000000", "chain-2", "OPS-other"))
    await stack.produce(Topic.PURCHASES, sales)
    # What the test expects of chain-1: N customers, V net revenue per customer.
    n = len(SPENT)
    revenue = sum(Decimal(a) for amounts in SPENT.values() for a in amounts)
    v = revenue / n
    async with run["analytics"].client(timeout=30) as client:

        async def counted() -> bool:
            found = (await client.get("/v1/kpis/summary")).json()
            issued = (await client.get("/v1/kpis/points")).json()
            return bool(found.get("purchases") == len(sales) and issued.get("issued", 0) > 0)

        await eventually(counted, timeout=60, what="analytics counted the purchases")

    await stack.produce(Topic.PURCHASES, [(b"till-9", POISON)])
    await eventually(lambda: at_least(stack.read_all("deadletter.points"), 1), what="points' dead letter")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM
        )
        try:
            page = await _sign_in(browser, site.url, "ada", ada)
            await expect(page).to_have_url(f"{site.url}/members")
            await page.goto(f"{site.url}/insight?chain=chain-1&lang=en")
            await expect(page.locator("[data-kpi=N] .figure")).to_have_text(str(n))
            await expect(page.locator("[data-kpi=V] .figure")).to_have_text(f"{v:,.0f}")
            await expect(page.locator("[data-kpi=net_revenue] .figure")).to_have_text(f"{revenue:,.0f}")
            # The chain filter: every chain counts chain-2's customer too.
            await page.select_option("select[name=days]", "90")
            await page.fill("input[name=chain]", "")
            await page.click("#filters button")
            await expect(page).to_have_url(re.compile(r"/insight\?days=90&"))
            await expect(page.locator("[data-kpi=N] .figure")).to_have_text(str(n + 1))
            await page.screenshot(path=str(SHOTS / "console-insight-en.png"), full_page=True)
            await page.goto(f"{site.url}/insight?chain=chain-1")
            # The CSV holds what the page shows.
            async with page.expect_download() as download:
                await page.click("a.export")
            saved = await (await download.value).path()
            rows = list(csv.reader(io.StringIO(await asyncio.to_thread(saved.read_text))))
            figures = {(section, key): value for section, key, value in rows[1:]}
            assert figures[("scope", "chain")] == "chain-1"
            assert int(figures[("summary", "N")]) == n
            assert Decimal(figures[("summary", "V")]) == v
            assert Decimal(figures[("summary", "net_revenue")]) == revenue
            assert ("points", "breakage_rate") in figures and ("segments", "true_friends") in figures
            issued = page.locator("[data-figure=issued]")
            await expect(issued).to_have_text(f"{int(figures[('points', 'issued')]):,}")

            await page.goto(f"{site.url}/insight?chain=chain-1&lang=fa")
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
            await expect(page.locator("[data-kpi=N] .figure")).to_have_text(fa_digits(str(n)))
            await page.goto(f"{site.url}/insight?days=90&lang=fa")
            await page.screenshot(path=str(SHOTS / "console-insight-fa.png"), full_page=True)

            # Operations: points' dead letter by its reason, re-driven with the button.
            await page.goto(f"{site.url}/operations?lang=en")
            letter = page.locator("#ops-points tr.dead-letter")
            await expect(letter.locator(".reason")).to_have_text("not a JSON object but list")
            await expect(letter.locator(".waiting")).to_have_text("1")
            await page.screenshot(path=str(SHOTS / "console-operations-en.png"), full_page=True)
            await letter.locator("form.redrive button").click()
            await expect(page.locator("#redriven")).to_have_text(
                "1 dead letters of points sent back where they came from."
            )
            await page.goto(f"{site.url}/audit?lang=en")
            entry = page.locator("tr.audit-entry").first
            await expect(entry).to_contain_text("operator:ada")
            await expect(entry).to_contain_text("ops.redrive")
            await expect(entry).to_contain_text("deadletters:points")
            await page.goto(f"{site.url}/operations?lang=fa")
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
            await page.screenshot(path=str(SHOTS / "console-operations-fa.png"), full_page=True)

            # A marketer reads Operations but has no re-drive; support has no Insight.
            marketer = await _sign_in(browser, site.url, "mina", mina)
            await marketer.goto(f"{site.url}/operations?lang=en")
            await expect(marketer.locator("#ops-points tr.dead-letter").first).to_be_visible()
            await expect(marketer.locator("form.redrive")).to_have_count(0)
            marketer_session = {c["name"]: c["value"] for c in await marketer.context.cookies()}
            support = await _sign_in(browser, site.url, "sam", sam)
            await expect(support).to_have_url(f"{site.url}/members")
            assert "Insight" not in await support.locator("header nav").inner_text()
            answer = await support.goto(f"{site.url}/insight")
            assert answer is not None and answer.status == 403
            await expect(support.locator("h1")).to_have_text("Not allowed")
        finally:
            await browser.close()

    # The record is back on its topic, marked as re-driven for points.
    back = [r for r in await stack.read_all(Topic.PURCHASES) if REDRIVEN_FROM in dict(r.headers)]
    assert [(r.value, dict(r.headers)[REDRIVEN_FOR]) for r in back] == [(POISON, b"points")]
    # Re-drive is the route's to refuse, not only the button's: the marketer's form, with its CSRF token.
    token = marketer_session[COOKIE]
    form = {
        "csrf": csrf_token(ConsoleSettings(), token),
        "service": "points",
        "reason": "not a JSON object but list",
    }
    async with httpx.AsyncClient(base_url=site.url, cookies=marketer_session, timeout=30) as client:
        refused = await client.post("/operations/redrive", data=form)
        assert refused.status_code == 403 and "Not allowed" in refused.text
    # And points' own API, with the marketer's token straight: 403; the audit names ada alone.
    async with run["points"].client(operator("mina", "marketer"), timeout=30) as client:
        refused = await client.post("/v1/ops/redrive", json={"reason": "not a JSON object but list"})
        assert refused.status_code == 403
    async with run["points"].client(timeout=30) as client:
        audit = (await client.get("/v1/audit", params={"action": "ops.redrive"})).json()["entries"]
        assert [(e["actor"], e["after"]["reason"]) for e in audit] == [
            ("operator:ada", "not a JSON object but list")
        ]
    letters = await stack.read_all("deadletter.points")
    assert dict(letters[0].headers)[REASON] == b"not a JSON object but list"
