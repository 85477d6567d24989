"""Configuration a batch reads and an operator rarely changes (the loyalty programs, a program's rule
versions, its challenges), kept in memory across batches and read again only after a write to its
table has committed: one statement a batch instead of one per table, and no re-validation.

A statement-level trigger on each watched table (``watch``, run by a migration) stamps the table's row
in ``config_versions`` with a new random UUID, in the writing transaction. A consumer reads every stamp
in one statement when its batch starts (``stamps``), and a ``Cached`` value is reused while its tables
carry the stamps it was read under. A stamp is never handed out twice, in any database, even to a
transaction that rolled back, so a value read by a transaction that rolled back never matches again.

A transaction must not write a watched table after reading the stamps (the points batch writes none;
tiers writes its registry of programs first, then reads the stamps): a transaction that has written one
gets no stamps at all and reads every table fresh, but a write after the stamps would go unseen by the
values kept. HTTP requests and jobs pass no stamps and read the tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Stamps = Mapping[str, str]  # watched table -> its stamp, as this transaction sees it

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_WRITTEN = "vafa.config_written"  # set, local to the transaction, by the trigger


def create_config_versions_v1(*tables: str) -> None:
    """The migration that starts watching ``tables`` (more can be watched later with ``watch``)."""
    from alembic import op

    op.execute("CREATE TABLE config_versions (name text PRIMARY KEY, stamp uuid NOT NULL)")
    op.execute(
        "CREATE FUNCTION config_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO config_versions (name, stamp) VALUES (TG_TABLE_NAME, gen_random_uuid()) "
        "ON CONFLICT (name) DO UPDATE SET stamp = excluded.stamp; "
        f"PERFORM set_config('{_WRITTEN}', 'yes', true); "
        "RETURN NULL; END $$"
    )
    for table in tables:
        watch(table)


def watch(table: str) -> None:
    from alembic import op

    op.execute(
        f"CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION config_changed()"
    )
    op.execute(f"INSERT INTO config_versions (name, stamp) VALUES ('{table}', gen_random_uuid())")


async def stamps(conn: AsyncConnection) -> Stamps:
    """Every watched table's stamp (one statement); none when this transaction wrote one of them."""
    rows = (
        await conn.execute(
            text(f"SELECT name, stamp::text, current_setting('{_WRITTEN}', true) FROM config_versions")
        )
    ).all()
    return {} if any(written == "yes" for _, _, written in rows) else {name: stamp for name, stamp, _ in rows}


class Cached(Generic[K, V]):
    """Values read from ``tables``, one per key, reused while the tables' stamps are unchanged."""

    def __init__(self, *tables: str) -> None:
        self._tables = tables
        self._kept: dict[K, tuple[tuple[str, ...], V]] = {}

    async def get(
        self, conn: AsyncConnection, seen: Stamps | None, key: K, load: Callable[[], Awaitable[V]]
    ) -> V:
        """The value kept for ``key`` if its tables are as it was read, else ``load()`` (kept for next
        time unless this transaction wrote a watched table, which may still roll back)."""
        if not seen or any(t not in seen for t in self._tables):
            return await load()
        stamp = tuple(seen[t] for t in self._tables)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        value = await load()
        if await conn.scalar(text(f"SELECT current_setting('{_WRITTEN}', true)")) != "yes":
            self._kept[key] = (stamp, value)
        return value
