"""The import page in a real browser (Debian's Chromium, driven by Playwright) against real ingest and
points: a support operator uploads a chain's CSV of members (phone, email) and opening balances with good
and bad rows. The dry run lists exactly the bad rows of both services (line, column, why, in English and
in Persian) and changes nothing in either; the import enrols the good rows' members in ingest (found by
phone in the member search, told on the bus once each) and gives the balances the file says; uploading it
again enrols and credits nobody twice; each member's ledger says where the points came from, and both
audit logs name the operator. The import page's screenshots in the README are taken here."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from shared.contracts import MEMBER_ENROLLED
from shared.persian import fa_digits
from shared.topics import Topic
from tests.integration.test_console import SHOTS, _sign_in, chromium
from tests.support import ServiceProcess, Stack, console, decode, new_operator, running

# What the chain exported from its old program: a name column the import ignores, and bad rows.
CSV = """member_id,chain_id,name,phone,email,points
imp-ali,hyperstar,Ali Rezaei,+989121110001,ali@example.com,1200
imp-sara,hyperstar,Sara Ahmadi,+989121110002,,350
,hyperstar,Nobody,,,40
imp-reza,hyperstar,Reza Karimi,,,12.5
imp-ali,hyperstar,Ali (twice),,,90
imp-nika,hyperstar,Nika Jafari,,,0
imp-omid,hyperstar,Omid Sadeghi,+۹۸۹۱۲۱۱۱۰۰۰۳,,۷۵۰
imp-leila,hyperstar,Leila Amini,09121110004,,100
imp-hadi,hyperstar,Hadi Nouri,,hadi-at-example.com,200
imp-mina,hyperstar,Mina Karimi,+989121110005,,
"""
GOOD = {"imp-ali": 1200, "imp-sara": 350, "imp-omid": 750}
ENROLLED = {*GOOD, "imp-reza", "imp-nika", "imp-mina"}  # a bad balance is no bad member
NOT_ENROLLED = ("imp-leila", "imp-hadi")  # a bad phone, a bad email
# (line in the file, column, why): exactly these, and nothing of them enrolled or credited.
BAD_EN = [
    ("4", "member_id", "Required."),
    ("5", "points", "A whole number."),
    ("6", "member_id", "The same member is on row 2 too."),
    ("7", "points", "At least 1."),
    ("9", "phone", "A phone number with + and the country code, e.g. +989121234567."),
    ("10", "email", "An email address."),
]
BAD_FA = [
    ("۴", "member_id", "لازم است."),
    ("۵", "points", "یک عدد صحیح."),
    ("۶", "member_id", "همین عضو در ردیف ۲ هم آمده است."),
    ("۷", "points", "دست‌کم ۱."),
    ("۹", "phone", "شمارهٔ تلفن بین‌المللی: با + و کد کشور."),
    ("۱۰", "email", "یک نشانی ایمیل."),
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
        members = (*GOOD, "imp-reza", "imp-nika", *NOT_ENROLLED)
        async with points.client(timeout=30) as client:
            found = {m: await client.get(f"/v1/members/{m}/balance") for m in members}
        return {m: a.json()["balance"] if a.status_code == 200 else None for m, a in found.items()}

    async def by_phone(phone: str) -> list[str]:
        async with ingest.client(timeout=30) as client:
            found = await client.get("/v1/members/lookup", params={"phone": phone})
        assert found.status_code == 200, found.text
        members: list[str] = found.json()["members"]
        return members

    async def enrolments() -> list[str]:
        told = [decode(r) for r in await stack.read_all(Topic.MEMBERS)]
        return sorted(
            e["payload"]["member_id"]
            for e in told
            if e["type"] == MEMBER_ENROLLED.name and e["payload"]["member_id"].startswith("imp-")
        )

    nothing = {**dict.fromkeys(GOOD), "imp-reza": None, "imp-nika": None, **dict.fromkeys(NOT_ENROLLED)}
    async with chromium() as browser:
        page = await _sign_in(browser, site.url, "sam", sam)
        await page.click("header nav a[data-page=imports]")
        await expect(page).to_have_url(f"{site.url}/imports")

        # The dry run: every bad row of both services, and nothing else; nobody enrolled or credited.
        await upload(page, file, "check")
        await expect(page.locator("#report")).to_have_attribute("data-dry-run", "true")
        await expect(page.locator("#outcome")).to_have_text(
            "Dry run: nothing was changed. Importing this file would enrol 6 members and credit 3 members "
            "with 2,300 points."
        )
        assert await bad_rows(page) == BAD_EN
        await expect(page.locator("#report .figure.bad")).to_have_text("6")
        await page.screenshot(path=str(SHOTS / "console-import-check-en.png"), full_page=True)
        assert await balances() == nothing
        assert await by_phone("+989121110001") == []

        # In Persian: the same report, right to left, Persian digits.
        await page.goto(f"{site.url}/imports?lang=fa")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await upload(page, file, "check")
        assert await bad_rows(page) == BAD_FA
        await expect(page.locator("#report .figure.points")).to_have_text(fa_digits("2٬300"))
        await page.screenshot(path=str(SHOTS / "console-import-check-fa.png"), full_page=True)
        assert await balances() == nothing
        assert await enrolments() == []

        # The import: the good rows' members enrolled, their balances credited, the bad rows still listed.
        await page.goto(f"{site.url}/imports?lang=en")
        await upload(page, file, "import")
        await expect(page.locator("#report")).to_have_attribute("data-dry-run", "false")
        await expect(page.locator("#outcome")).to_have_text(
            "Imported: 6 members enrolled, 3 members credited with 2,300 points."
        )
        assert await bad_rows(page) == BAD_EN
        assert await balances() == {**nothing, **GOOD}
        assert await by_phone("+989121110004") == [] and await by_phone("+989121110001") == ["imp-ali"]

        # The same file again: nobody is enrolled or credited twice.
        await upload(page, file, "import")
        await expect(page.locator("#outcome")).to_have_text(
            "Imported: 0 members enrolled, 0 members credited with 0 points."
        )
        await expect(page.locator("#report .figure.already-enrolled")).to_have_text("6")
        await expect(page.locator("#report .figure.already")).to_have_text("3")
        assert await balances() == {**nothing, **GOOD}
        # Each member told to the other services once (ingest publishes with acks=all before answering).
        assert await enrolments() == sorted(ENROLLED)

        # The member search finds an imported member by the phone in the file (typed in Persian digits
        # there), with the balance brought from the old program.
        await page.click("header nav a[data-page=members]")
        await page.select_option("select[name=by]", "phone")
        await page.fill("input[name=q]", "+989121110003")
        await page.click("form.search button")
        await expect(page).to_have_url(f"{site.url}/members/imp-omid")
        await expect(page.locator("#balance .value")).to_have_text("750")
        # The member page says where the points came from.
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
            ("operator:sam", 0, 2),
            ("operator:sam", 3, 2),
        ]
    async with ingest.client(timeout=30) as client:
        audit = (await client.get("/v1/audit", params={"action": "members.import"})).json()
        assert [(e["actor"], e["after"]["enrolled"], e["after"]["bad_rows"]) for e in audit["entries"]] == [
            ("operator:sam", 0, 4),
            ("operator:sam", 6, 4),
        ]
