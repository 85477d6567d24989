"""Statements whose text does not grow with the batch.

``rows_insert``: many rows into a table in ONE statement, the rows one JSON parameter PostgreSQL turns
into rows in C (``INSERT ... SELECT ... FROM json_to_recordset($1) AS r(col type, ...)``; jsonb_ for a
table with a JSONB column), the statement built once per table and columns. SQLAlchemy's executemany
built every row's parameters in Python and PostgreSQL ran the statement once per row; one array
parameter per column (``unnest``) had asyncpg check every element's type in Python. The result is an
ordinary PostgreSQL ``Insert``: ``on_conflict_do_nothing``/``do_update`` and ``returning`` apply as usual.

``Writes``: a transaction's set-based writes to several tables sent as ONE statement, each write a
data-modifying ``WITH`` query: a batch that writes six tables makes one round trip to PostgreSQL instead
of six (each round trip is a wait for the server and, on a busy box, for a core).

``one_of``: ``column = ANY($1)`` in place of ``IN ($1, $2, ...)``: one statement text for any number
of values, so it is compiled and prepared once, not once per batch size.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from types import CodeType
from typing import Any, TypeVar, overload
from typing import cast as typed

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeEngine

S = TypeVar("S", bound=UpdateBase)


@overload
def rows_insert(
    table: Table, rows: Sequence[Mapping[str, Any]], param: str = ..., finish: None = None
) -> tuple[Insert, dict[str, Any]]: ...


@overload
def rows_insert(
    table: Table, rows: Sequence[Mapping[str, Any]], param: str = ..., *, finish: Callable[[Insert], S]
) -> tuple[S, dict[str, Any]]: ...


def rows_insert(
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    param: str = "rows__json",
    finish: Callable[[Insert], UpdateBase] | None = None,
) -> tuple[UpdateBase, dict[str, Any]]:
    """The statement inserting ``rows`` (every row with the same keys) and its parameters (the rows
    document is the parameter ``param``); ``finish`` adds to the statement (``ON CONFLICT ...``,
    ``RETURNING``), once per statement when it closes over nothing (see ``_finished``)."""
    columns = list(rows[0])
    if any(len(row) != len(columns) for row in rows):  # a key more would be dropped without a word
        raise ValueError(f"{table.name}: rows with different columns")
    missing = [c.name for c in table.c if c.default is not None and c.name not in columns]
    if missing:  # INSERT ... SELECT applies no Python-side default
        raise ValueError(f"{table.name}: no value for {missing}, which have Python-side defaults")
    document = orjson.dumps(
        [row if isinstance(row, dict) else dict(row) for row in rows],
        default=_as_json,
        option=orjson.OPT_NON_STR_KEYS,
    )
    statement = _statement(table, tuple(sorted(columns)), param)
    return _finished(statement, finish) if finish is not None else statement, {param: document.decode()}


def _as_it_is(statement: Insert) -> Insert:
    return statement


# Finished statements by (statement, the finishing code): a handful per service, kept for its life.
_FINISHED: dict[tuple[Insert, CodeType], UpdateBase] = {}


def _finished(statement: Insert, finish: Callable[[Insert], S]) -> S:
    """``finish(statement)``, built once. Building an ``ON CONFLICT`` clause and keying the new statement
    again on every batch was about a sixth of points' CPU at two records a batch (py-spy). A function
    that closes over nothing and has no defaults, positional or keyword, adds the same whatever call
    made it (a ``lambda`` written in a function is a new object each call, but its code is the same),
    so its code is the key; one that closes over a value is applied every time."""
    if (
        getattr(finish, "__closure__", True) is not None
        or getattr(finish, "__defaults__", None)
        or getattr(finish, "__kwdefaults__", None)
    ):
        return finish(statement)
    key = (statement, finish.__code__)
    built = _FINISHED.get(key)
    if built is None:
        built = _FINISHED[key] = finish(statement)
    return typed(S, built)


class Writes:
    """Inserts and upserts into several tables, sent as ONE statement by ``run`` (``WITH w0 AS (INSERT
    ...), w1 AS (INSERT ...) SELECT 1``). PostgreSQL runs every part to completion on one snapshot, so
    no part sees another's rows: each table may be written once (a second write of a table raises), and
    nothing that must see a part's rows may be in the same ``Writes``."""

    def __init__(self) -> None:
        self._parts: list[UpdateBase] = []
        self._tables: set[str] = set()
        self._values: dict[str, Any] = {}

    def insert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        finish: Callable[[Insert], UpdateBase] | None = None,
    ) -> None:
        """``rows`` into ``table`` when run; ``finish`` adds to the statement (``ON CONFLICT ...``)."""
        if not rows:
            return
        if table.name in self._tables:
            raise ValueError(f"{table.name} is written twice in one statement: merge the rows")
        param = f"rows__json_{len(self._parts)}"
        statement, values = rows_insert(table, rows, param, finish=finish or _as_it_is)
        self._parts.append(statement)
        self._tables.add(table.name)
        self._values.update(values)

    async def run(self, conn: AsyncConnection) -> None:
        """Every write so far, in one statement; then it is empty again."""
        parts, values = self._parts, self._values
        self._parts, self._tables, self._values = [], set(), {}
        if len(parts) == 1:
            await conn.execute(parts[0], values)
        elif parts:
            await conn.execute(_together(tuple(parts)), values)


@lru_cache(maxsize=256)
def _together(parts: tuple[UpdateBase, ...]) -> Select[tuple[Any]]:
    """The parts as one statement of data-modifying ``WITH`` queries, built once per combination."""
    return select(literal_column("1")).add_cte(*(part.cte(f"write_{i}") for i, part in enumerate(parts)))


@lru_cache(maxsize=256)
def _statement(table: Table, columns: tuple[str, ...], param: str) -> Insert:
    """Built once per table and columns. A statement executed as returned is keyed by SQLAlchemy once;
    one a caller extends (``ON CONFLICT``, ``RETURNING``) is a new object, keyed again each batch."""
    # The rows go as one JSON document that PostgreSQL turns into rows in C (json_to_recordset); an
    # array parameter per column had asyncpg check the type of every element in Python. Into a table
    # with a JSONB column the document is read as JSONB: json_to_recordset would hand each JSONB value
    # over as text to be parsed a second time (10-20% of the purchase history's and outbox's insert).
    binary = any(isinstance(table.c[name].type, JSONB) for name in columns)
    to_rows, kind = (func.jsonb_to_recordset, JSONB) if binary else (func.json_to_recordset, JSON)
    rows = (
        to_rows(cast(bindparam(param, type_=Text), kind))
        .table_valued(*(column(name, _carried(table.c[name].type)) for name in columns))
        .render_derived(with_types=True)
    )
    picked = [
        func.decode(rows.c[name], "base64") if isinstance(table.c[name].type, LargeBinary) else rows.c[name]
        for name in columns
    ]
    return insert(table).from_select(list(columns), select(*picked).select_from(rows))


def _carried(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    """How a column's values travel in the JSON document: bytes as base64 text, the rest as themselves."""
    return Text() if isinstance(kind, LargeBinary) else kind


def _as_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID (a value read back), which orjson does not know
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def any_of(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``one_of`` for a statement built once and run many times: the values are the parameter ``name``,
    given when it runs, so building it and SQLAlchemy's key of it are not paid on every batch."""
    kind = ARRAY(column.type)
    return column == any_(cast(bindparam(name, type_=kind), kind))


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY($1)``, the values one array parameter: unlike ``IN (...)`` the statement is the same
    text for any number of values, so it is compiled and prepared once, not once per batch size."""
    return column == any_(cast(bindparam(None, list(values)), ARRAY(column.type)))
