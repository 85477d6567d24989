"""Statements whose text does not grow with the batch.

``rows_insert``: many rows into a table in ONE statement, each column's values one array parameter,
unnested by PostgreSQL (``INSERT ... SELECT unnest($1::t1[]), unnest($2::t2[]) ...``). SQLAlchemy's
executemany builds the parameters of every row in Python and PostgreSQL runs the statement once per
row; here Python builds one list per column and PostgreSQL runs one statement for the batch, with one
prepared statement for every batch size. The result is an ordinary PostgreSQL ``Insert``:
``on_conflict_do_nothing``/``do_update`` and ``returning`` apply as usual.

``one_of``: ``column = ANY($1)`` in place of ``IN ($1, $2, ...)``, for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, Table, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert

from shared.store.db import json_text


def rows_insert(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[Insert, dict[str, list[Any]]]:
    """The statement inserting ``rows`` (every row with the same keys) and its parameters."""
    columns = list(rows[0])
    if any(len(row) != len(columns) for row in rows):  # a key more would be dropped without a word
        raise ValueError(f"{table.name}: rows with different columns")
    missing = [c.name for c in table.c if c.default is not None and c.name not in columns]
    if missing:  # INSERT ... SELECT applies no Python-side default
        raise ValueError(f"{table.name}: no value for {missing}, which have Python-side defaults")
    values = {f"{name}__values": [row[name] for row in rows] for name in columns}
    source = select(*(_unnested(table.c[name], f"{name}__values", values) for name in columns))
    return insert(table).from_select(columns, source), values


def _unnested(column: Column[Any], parameter: str, values: dict[str, list[Any]]) -> Any:
    if isinstance(column.type, JSON):
        # asyncpg has no codec for an array of JSON: the documents go as text, each cast back.
        sql_null = column.type.none_as_null  # else None is JSON's null, as SQLAlchemy stores it
        values[parameter] = [None if v is None and sql_null else json_text(v) for v in values[parameter]]
        return cast(func.unnest(cast(bindparam(parameter), ARRAY(Text))), column.type)
    return func.unnest(cast(bindparam(parameter), ARRAY(column.type)))


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY($1)``, the values one array parameter: unlike ``IN (...)`` the statement is the same
    text for any number of values, so it is compiled and prepared once, not once per batch size."""
    return column == any_(cast(bindparam(None, list(values)), ARRAY(column.type)))
