"""The import page in a real browser (Debian's Chromium, driven by Playwright) against real ingest and
points: a support operator uploads a chain's CSV of members and opening balances with good and bad rows.
The dry run lists exactly the bad rows (line, column, why, in English and in Persian) and changes no
balance; the import gives the balances the file says; uploading it again credits nobody twice; each
member's ledger says where the points came from, and the audit log names the operator. The import
page's screenshots in the README are taken here."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from shared.persian import fa_digits
from tests.integration.test_console import SHOTS, _sign_in, chromium
from tests.support import ServiceProcess, Stack, console, new_operator, running

# What the chain exported from its old program: a name column the import ignores, and bad rows.
CSV = """member_id,name,points
imp-ali,Ali Rezaei,1200
imp-sara,Sara Ahmadi,350
,Nobody,40
imp-reza,Reza Karimi,12.5
imp-ali,Ali (twice),90
imp-nika,Nika Jafari,0
imp-omid,Omid Sadeghi,۷۵۰
"""
GOOD = {"imp-ali": 1200, "imp-sara": 350, "imp-omid": 750}
# (line in the file, column, why): exactly these, and nothing of them credited.
BAD_EN = [
    ("4", "member_id", "Required."),
    ("5", "points", "A whole number."),
    ("6", "member_id", "The same member is on row 2 too."),
    ("7", "points", "At least 1."),
]
BAD_FA = [
    ("۴", "member_id", "لازم است."),
    ("۵", "points", "یک عدد صحیح."),
    ("۶", "member_id", "همین عضو در ردیف ۲ هم آمده است."),
    ("۷", "points", "دست‌کم ۱."),
]


async def upload(page: Page, file: Path, button: str) -> None:
    await page.set_input_files("input[name=file]", str(file))
    await page.click(f"#{button}-button")
    await expect(page.locator("#report")).to_be_visible()


async def bad_rows(page: Page) -> list[tuple[str, str, str]]:
    rows = page.locator("#bad-rows tr.bad-row")
    return [
        tuple(t.strip() for t in await row.locator("td").all_inner_texts())  # type: ignore[misc]
        for row in await rows.all()
    ]


async def test_an_operator_checks_a_chains_file_imports_its_good_rows_and_a_second_upload_changes_nothing(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, tmp_path: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points")
    site = await console(services, log_dir, {"ingest": ingest, "points": points})
    sam = new_operator(stack, "sam", "support")
    file = tmp_path / "members-from-old-program.csv"
    file.write_text(CSV, encoding="utf-8")

    async def balances() -> dict[str, int | None]:
        async with points.client(timeout=30) as client:
            found = {m: await client.get(f"/v1/members/{m}/balance") for m in (*GOOD, "imp-reza", "imp-nika")}
        return {m: a.json()["balance"] if a.status_code == 200 else None for m, a in found.items()}

    async with chromium() as browser:
        page = await _sign_in(browser, site.url, "sam", sam)
        await page.click("header nav a[data-page=imports]")
        await expect(page).to_have_url(f"{site.url}/imports")

        # The dry run: every bad row, and nothing else, and no balance changed.
        await upload(page, file, "check")
        await expect(page.locator("#report")).to_have_attribute("data-dry-run", "true")
        await expect(page.locator("#outcome")).to_have_text(
            "Dry run: nothing was changed. Importing this file would credit 3 members with 2,300 points."
        )
        assert await bad_rows(page) == BAD_EN
        await expect(page.locator("#report .figure.bad")).to_have_text("4")
        await page.screenshot(path=str(SHOTS / "console-import-check-en.png"), full_page=True)
        assert set((await balances()).values()) == {None}

        # In Persian: the same report, right to left, Persian digits.
        await page.goto(f"{site.url}/imports?lang=fa")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await upload(page, file, "check")
        assert await bad_rows(page) == BAD_FA
        await expect(page.locator("#report .figure.points")).to_have_text(fa_digits("2٬300"))
        await page.screenshot(path=str(SHOTS / "console-import-check-fa.png"), full_page=True)
        assert set((await balances()).values()) == {None}

        # The import: the good rows credited, the bad ones still listed.
        await page.goto(f"{site.url}/imports?lang=en")
        await upload(page, file, "import")
        await expect(page.locator("#report")).to_have_attribute("data-dry-run", "false")
        await expect(page.locator("#outcome")).to_have_text("Imported: 3 members credited with 2,300 points.")
        assert await bad_rows(page) == BAD_EN
        assert await balances() == {**GOOD, "imp-reza": None, "imp-nika": None}

        # The same file again: nobody is credited twice.
        await upload(page, file, "import")
        await expect(page.locator("#outcome")).to_have_text("Imported: 0 members credited with 0 points.")
        await expect(page.locator("#report .figure.already")).to_have_text("3")
        assert await balances() == {**GOOD, "imp-reza": None, "imp-nika": None}

        # The member page says where the points came from.
        await page.goto(f"{site.url}/members/imp-omid")
        entry = page.locator("#ledger tr.kind-opening_balance")
        await expect(entry).to_have_count(1)
        await expect(entry.locator("td.num")).to_have_text("+750")
        await expect(entry.locator(".why")).to_contain_text("Brought from the previous program")
        await expect(entry.locator(".why")).to_contain_text("row 8, by operator:sam")

    async with points.client(timeout=30) as client:
        ledger = (await client.get("/v1/members/imp-ali/ledger")).json()["entries"]
        assert [(e["kind"], e["points"]) for e in ledger] == [("opening_balance", 1200)]
        audit = (await client.get("/v1/audit", params={"action": "opening_balances.import"})).json()
        # Both imports (not the dry runs), under the operator's own name, with what each did.
        assert [(e["actor"], e["after"]["credited"], e["after"]["bad_rows"]) for e in audit["entries"]] == [
            ("operator:sam", 0, 4),
            ("operator:sam", 3, 4),
        ]
