"""The member and opening-balance import's parts, pure: the console reading the CSV a chain uploads,
ingest judging its members as it judges a POS's enrolments, and points judging its balances (each bad
row named by its line, its column and why; a member enrolled once, credited once per program, whatever
file brings them again); and the import page in-process, in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.console.forms import words_of
from services.console.i18n import Words
from services.console.imports import MAX_ROWS, BadFile, read_csv
from services.console.main import create
from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from services.ingest import member_import
from services.points.domain.opening import judge
from shared.identity import operator
from sim.harness import DEV_KEYS, free_port

fa, en = Words("fa"), Words("en")


def test_a_spreadsheets_csv_is_read_row_by_row_with_its_line_numbers() -> None:
    content = (
        "\ufeffName;MEMBER_ID;Chain_ID;Phone;Points\n"  # the BOM a spreadsheet writes, a semicolon
        "Ali;m-1;c-1;+۹۸۹۱۲۱۲۳۴۵۶۷;۱۲۰۰\n"  # Persian digits
        "\n"  # a blank line is no row
        'Sara;" m-2 ";c-1;;\n'  # no phone, no opening balance
        "Reza;m-3;c-1\n"  # a short row: its phone and points are empty
    ).encode()
    upload = read_csv(content)
    assert upload.members == [
        {"row": 2, "member_id": "m-1", "chain_id": "c-1", "phone": "+989121234567"},
        {"row": 4, "member_id": "m-2", "chain_id": "c-1"},
        {"row": 5, "member_id": "m-3", "chain_id": "c-1"},
    ]
    assert upload.balances == [{"row": 2, "member_id": "m-1", "points": "1200"}]
    assert upload.import_id == read_csv(content).import_id and len(upload.import_id) == 64


@pytest.mark.parametrize(
    ("content", "key"),
    [(b"", "file_empty"), (b"member_id,chain_id\n\xff\xfe,1\n", "file_not_utf8"),
     (b"member_id,points\nm-1,5\n", "file_columns"), (b"member_id,chain_id\n\n", "file_no_rows"),
     (b"member_id,chain_id\n" + b"m,c\n" * (MAX_ROWS + 1), "file_too_many_rows")],
)  # fmt: skip
def test_a_file_points_could_not_judge_row_by_row_is_refused_saying_why(content: bytes, key: str) -> None:
    with pytest.raises(BadFile) as refused:
        read_csv(content)
    assert refused.value.key == key


def test_points_names_every_bad_row_and_credits_each_member_once() -> None:
    rows = [
        (2, "m-1", "500"),
        (3, "", "10"),
        (4, "m-2", "12.5"),
        (5, "m-3", "0"),
        (6, "m-1", "700"),  # m-1 again
        (7, "m-4", "300"),  # imported before with 300: done
        (8, "m-5", "90"),  # imported before with 80: refused
        (9, "m\x00x", ""),
        (10, "m-6\ud800", "5"),  # a lone surrogate: no text PostgreSQL stores
    ]
    judged = judge(rows, {"m-4": 300, "m-5": 80})
    assert [(o.row, o.member_id, o.points) for o in judged.to_credit] == [(2, "m-1", 500)]
    assert [o.row for o in judged.done] == [7] and judged.points == 500
    said = [(e.row, e.field, _english(e.rule, e.message)) for e in judged.errors]
    assert said == [
        (3, "member_id", "Required."),
        (4, "points", "A whole number."),
        (5, "points", "At least 1."),
        (6, "member_id", "The same member is on row 2 too."),
        (8, "points", "Already given an opening balance of 80 points: correct it with an adjustment."),
        (9, "member_id", "Printable characters only."),
        (9, "points", "Required."),
        (10, "member_id", "Printable characters only."),
    ]
    key, values = words_of("duplicate_member", "member m-1 is on row 12 too")
    assert fa(key, **values) == "همین عضو در ردیف ۱۲ هم آمده است."


def test_ingest_judges_each_member_as_a_pos_enrolment_and_enrols_a_member_once() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {
            "row": 2,
            "member_id": "m-1",
            "chain_id": "c-1",
            "phone": "+989121234567",
            "birth_date": "1990-05-17",
        },
        {"row": 3, "member_id": "m-2", "chain_id": "c-1", "phone": "09121234567"},  # not E.164
        {"row": 4, "member_id": "m-3", "chain_id": "c-1", "email": "nobody.example.com"},
        {"row": 5, "member_id": "m-1", "chain_id": "c-1"},  # m-1 again
        {"row": 6, "member_id": "m-4", "chain_id": "c-1", "locale": "de"},
        {"row": 7, "member_id": "m-5", "chain_id": "c-1", "email": "m5@example.com"},  # enrolled before
        {"row": 8, "member_id": "", "chain_id": "c-1"},
        {"row": 9, "member_id": "m-6", "chain_id": "c-1", "birth_date": "2027-01-01"},  # not born yet
    ]
    made = [(r["row"], member_import.enrolment(r, now, timedelta(minutes=5))) for r in rows]
    judged = member_import.judge(made, {"m-5"})
    assert [(row, item.member_id, item.phone, str(item.birth_date)) for row, item in judged.to_enrol] == [
        (2, "m-1", "+989121234567", "1990-05-17")
    ]
    assert judged.enrolled_before == ["m-5"]
    assert [(e.row, e.field, e.rule) for e in judged.errors] == [
        (3, "phone", "string_pattern_mismatch"),
        (4, "email", "string_pattern_mismatch"),
        (5, "member_id", "duplicate_member"),
        (6, "locale", "literal_error"),
        (8, "member_id", "string_too_short"),
        (9, "birth_date", "not_in_future"),
    ]


def _english(rule: str, message: str) -> str:
    key, values = words_of(rule, message)
    return en(key, **values)


@pytest.fixture
def site() -> Iterator[TestClient]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = ConsoleSettings(console_ingest_url=nowhere, console_points_url=nowhere)
    with TestClient(create(settings), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_the_import_page_says_what_is_wrong_with_a_file_and_that_points_is_away(
    site: TestClient, lang: str
) -> None:
    token = DEV_KEYS.issue(operator("sam", "support"), 600)
    site.cookies.set(COOKIE, token)
    csrf = csrf_token(ConsoleSettings(), token)
    words = Words(lang)  # type: ignore[arg-type]
    url = f"/imports?lang={lang}"
    bad = {"file": ("a.csv", b"id,points\n")}
    no_column = site.post(url, data={"csrf": csrf, "action": "check"}, files=bad)
    missing = words("file_columns", columns="member_id, chain_id")
    assert no_column.status_code == 422 and missing in no_column.text
    good = {"file": ("a.csv", b"member_id,chain_id,points\nm-1,c-1,5\n", "text/csv")}
    away = site.post(url, data={"csrf": csrf, "action": "import"}, files=good)
    assert away.status_code == 422
    assert words("service_down", service="ingest") in away.text
    # Without the session's CSRF token nothing is read, nothing sent.
    assert site.post(url, data={"csrf": "x"}, files=good).status_code == 403
