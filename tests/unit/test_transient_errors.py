"""Which failures the consumer retries (the database is away) and which it isolates (the event or
the code is wrong): a database outage must never dead-letter a good event."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc

from shared.store.failures import BUSY, RETRY, WRONG, classify, is_transient, why


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


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # What PostgreSQL says of a value it cannot hold arrives as a plain DBAPIError: the SQLSTATE
        # class decides, so a NUL in a string or an overflowing number never retries forever.
        (exc.DBAPIError("invalid byte sequence for encoding UTF8: 0x00", {}, _Orig("22021")), WRONG),
        (exc.DBAPIError("unsupported Unicode escape sequence", {}, _Orig("22P05")), WRONG),
        (exc.DBAPIError("integer out of range", {}, _Orig("22003")), WRONG),
        (exc.DBAPIError("value out of int64 range", {}, _Orig("22000")), WRONG),
        (exc.DBAPIError("relation does not exist", {}, _Orig("42P01")), WRONG),
        (exc.DBAPIError("lock timeout", {}, _Orig("55P03")), BUSY),
        (exc.DBAPIError("terminating connection due to administrator command", {}, _Orig("57P01")), BUSY),
        (exc.DBAPIError("too many connections", {}, _Orig("53300")), BUSY),
        (exc.OperationalError("connect", {}, _Orig("08006")), BUSY),
        (ConnectionResetError(), BUSY),
        (exc.DBAPIError("deadlock detected", {}, _Orig("40P01")), RETRY),
        (exc.DBAPIError("could not serialize access", {}, _Orig("40001")), RETRY),
        (exc.DBAPIError("canceling statement due to statement timeout", {}, _Orig("57014")), RETRY),
        (exc.DBAPIError("internal error", {}, _Orig("XX000")), RETRY),
        (exc.DBAPIError("no state", {}, _Orig("")), RETRY),
    ],
)
def test_failures_are_classified_by_sqlstate(error: BaseException, kind: str) -> None:
    assert classify(error) == kind


def test_a_refused_parameter_is_wrong_even_without_a_sqlstate() -> None:
    class Adapted(Exception):
        sqlstate = None

    orig = Adapted("invalid input for query argument $1")
    orig.__cause__ = asyncpg.DataError("value out of int64 range")
    assert classify(exc.DBAPIError("insert", {}, orig)) == WRONG
    assert why(exc.DBAPIError("insert", {}, orig)) == "DBAPIError: invalid input for query argument $1"
