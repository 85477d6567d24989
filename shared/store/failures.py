"""How a database failure is met, wherever it happens (a consumer's batch, the relay, a job, a
request): classified by SQLSTATE class, not by the driver's exception class.

No connection is tested before it is used (``shared.store.db``): a connection the server dropped fails
the statement that finds it gone, SQLAlchemy then discards every pooled connection as old as it, and
the failure is BUSY here: a batch or a round is tried again on a new connection, a request answered
503 with Retry-After."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

# How a failure is met (classified by SQLSTATE class, not by the driver's exception class, which
# asyncpg and SQLAlchemy wrap inconsistently: a NUL in a string arrives as a plain DBAPIError):
# - WRONG: the event or the code is wrong (data 22, integrity 23, syntax/undefined 42, ...); retrying
#   cannot help, so the event is isolated and dead-lettered at once.
# - BUSY: the database is away or busy for reasons no event causes (a connection lost or refused,
#   shutdown, too many connections, a lock held past the lock timeout by a migration or an operator).
#   Retried for as long as it lasts, never counted: an outage must never dead-letter a good event. It
#   shows as a stalled consumer (``vafa_consumer_stalled_seconds``, ``/readyz``) instead.
# - RETRY: anything else (deadlock, serialization failure, an unknown error): retried, but at most
#   ``consumer_max_attempts`` times, then isolated like WRONG, so no record can retry forever.
WRONG, BUSY, RETRY = "wrong", "busy", "retry"
_WRONG_SQLSTATE_CLASSES = {"0A", "21", "22", "23", "2B", "2F", "42", "44"}
_BUSY_SQLSTATE_CLASSES = {"08", "53", "57", "58"}
_BUSY_SQLSTATES = {"55P03", "55000"}  # lock not available; object not ready (database starting up)
_RETRY_SQLSTATES = {"40001", "40P01", "57014"}  # serialization, deadlock, statement cancelled by timeout
_CONNECTION_ERRORS = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    OSError,
    TimeoutError,
)


def sqlstate(error: BaseException) -> str:
    return str(
        getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", "") or ""
    )


def classify(error: BaseException) -> str:
    """WRONG, BUSY or RETRY (see above)."""
    state = sqlstate(error)
    if state in _RETRY_SQLSTATES:
        return RETRY
    if state in _BUSY_SQLSTATES or state[:2] in _BUSY_SQLSTATE_CLASSES:
        return BUSY
    if state[:2] in _WRONG_SQLSTATE_CLASSES:
        return WRONG
    cause = getattr(getattr(error, "orig", None), "__cause__", None) or error
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return BUSY
    if isinstance(cause, asyncpg.DataError) and not isinstance(cause, _CONNECTION_ERRORS):
        return WRONG  # asyncpg refused a parameter before sending it (out of range, not encodable)
    if isinstance(cause, _CONNECTION_ERRORS) or isinstance(error, _CONNECTION_ERRORS):
        return BUSY
    if isinstance(error, sa_exc.DBAPIError):
        return RETRY
    return WRONG  # not the database's: a handler bug or a refused value


def is_transient(error: BaseException) -> bool:
    """Whether trying again may help (BUSY or RETRY)."""
    return classify(error) != WRONG


def why(error: BaseException) -> str:
    """A dead letter's reason for a failure: the SQLSTATE when the database refused, never parameters."""
    state = sqlstate(error)
    first = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else ""
    if state:
        return f"database refused it (SQLSTATE {state}): {first}"
    return f"{type(error).__name__}: {first}"
