"""The file a chain moving from another program uploads: a CSV of its members (read into the rows
ingest's member import takes, ``POST /v1/imports/members``) and, optionally, their opening balances
(the rows points' import takes, ``POST /v1/imports/opening-balances``). Pure.

The console reads the file (its encoding, delimiter, header, Persian digits); ingest and points judge
each row (a phone, an email, a birth date; points, a member twice, one already imported) and say which
field of which row is wrong, so the report an operator reads comes from the same rules the import applies.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from shared.web.pages import typed

COLUMNS = ("member_id", "chain_id")  # required
# Optional: what ingest keeps of a member (an empty cell: not given), and the opening balance.
MEMBER_COLUMNS = ("email", "phone", "card_no", "locale", "birth_date")
POINTS = "points"
MAX_BYTES = 2_000_000
MAX_ROWS = 5_000  # points' limit for one import
# What of a cell is sent: longer than any valid value, short enough that points judges the row rather
# than refusing the file.
_CELL = 200


class BadFile(Exception):
    """The file is not one points could judge row by row (a word key and its values)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


@dataclass(frozen=True)
class Upload:
    import_id: str  # the file's SHA-256: the import's name in points' audit log and ledger
    members: list[dict[str, Any]]  # {"row": its line in the file, "member_id", "chain_id", ...}
    balances: list[dict[str, Any]]  # {"row", "member_id", "points"}: the rows with an opening balance


def read_csv(content: bytes) -> Upload:
    """The rows of a CSV with ``member_id`` and ``chain_id`` columns, optionally the member's
    ``MEMBER_COLUMNS`` and ``points`` (other columns are ignored), its delimiter a comma, a semicolon
    or a tab, UTF-8 (with or without the BOM a spreadsheet writes)."""
    if not content.strip():
        raise BadFile("file_empty")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("file_not_utf8") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise BadFile("file_columns", columns=", ".join(missing))
        at = {c: header.index(c) for c in (*COLUMNS, *MEMBER_COLUMNS, POINTS) if c in header}
        members: list[dict[str, Any]] = []
        balances: list[dict[str, Any]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(members) == MAX_ROWS:
                raise BadFile("file_too_many_rows", limit=MAX_ROWS)
            value = {c: typed((cells[i] if i < len(cells) else "")[:_CELL]) for c, i in at.items()}
            row = {"row": reader.line_num, "member_id": value["member_id"], "chain_id": value["chain_id"]}
            members.append(row | {c: value[c] for c in MEMBER_COLUMNS if value.get(c)})
            if value.get(POINTS):
                balances.append({"row": row["row"], "member_id": row["member_id"], "points": value[POINTS]})
    except csv.Error as error:
        raise BadFile("file_not_csv", why=str(error)) from None
    if not members:
        raise BadFile("file_no_rows")
    return Upload(hashlib.sha256(content).hexdigest(), members, balances)
