"""Which failures the consumer retries (the database is away) and which it isolates (the event or
the code is wrong): a database outage must never dead-letter a good event."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc

from shared.consumer import is_transient


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        exc.OperationalError("connect", {}, _Orig("08006")),
        exc.InterfaceError("connection is closed", {}, _Orig("")),
        exc.DBAPIError("database is not accepting connections", {}, _Orig("55000")),
        exc.ProgrammingError("deadlock", {}, _Orig("40P01")),
        exc.TimeoutError("pool exhausted"),
        asyncpg.CannotConnectNowError("starting up"),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
def test_database_unavailability_is_retried(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        exc.IntegrityError("duplicate key", {}, _Orig("23505")),
        exc.DataError("numeric overflow", {}, _Orig("22003")),
        exc.ProgrammingError("no such column", {}, _Orig("42703")),
        KeyError("member"),
        ValueError("bad rule"),
    ],
)
def test_wrong_data_or_code_is_isolated(error: BaseException) -> None:
    assert not is_transient(error)
