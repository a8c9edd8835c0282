"""The database: one API for both engines, so callers never ask which one runs.

SQLite (bot/platform/db_sqlite.py) is one file at ``DATABASE_PATH``; PostgreSQL (bot/platform/db_postgres.py) is
chosen by ``DATABASE_URL=postgresql://…``. Both take the same SQL with ``?`` (or ``:name``) placeholders, yield a
connection from :meth:`Database.transaction` whose ``execute()`` returns a cursor (``fetchone``, ``fetchall``,
``rowcount``), and return rows that index by position and by column name.

Migrations are numbered files, the same numbers for both engines: ``migrations/NNNN_name.sql`` for SQLite and
``migrations/postgres/NNNN_name.sql`` for PostgreSQL. Each is applied in its own transaction; a database whose
schema is newer than the code is refused.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.platform.db_postgres import PgConnection, PostgresDatabase
from bot.platform.db_schema import (
    MIGRATIONS_DIR,
    POSTGRES_MIGRATIONS_DIR,
    POSTGRES_SCHEMES,
    DatabaseError,
    DatabaseTooNew,
    DatabaseUnavailable,
    Migration,
    Params,
    Row,
    load_migrations,
    split_sql,
)
from bot.platform.db_sqlite import SqliteDatabase

__all__ = [
    "MIGRATIONS_DIR",
    "POSTGRES_MIGRATIONS_DIR",
    "Database",
    "DatabaseError",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "Migration",
    "Params",
    "Reader",
    "Row",
    "load_migrations",
    "read_rows",
    "returned_id",
    "split_sql",
]


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


class Database:
    """What every caller uses, in front of one engine; :meth:`open` picks it from the target (a file path or a
    postgresql:// URL)."""

    def __init__(self, engine: SqliteDatabase | PostgresDatabase) -> None:
        self._engine = engine
        self.engine = engine.engine  # "sqlite" or "postgres"
        self.path = engine.path if isinstance(engine, SqliteDatabase) else None  # the SQLite file

    @classmethod
    async def open(cls, target: str | Path, migrations: list[Migration] | None = None) -> Database:
        """Opens the database (creating the file or the tables when needed) and brings its schema up to date."""
        if is_postgres_url(target):
            return cls(await PostgresDatabase.connect(str(target), migrations))
        return cls(await SqliteDatabase.open_file(target, migrations))

    async def close(self) -> None:
        await self._engine.close()

    async def user_version(self) -> int:
        """The number of the last migration applied."""
        return await self._engine.user_version()

    async def table_names(self) -> set[str]:
        return await self._engine.table_names()

    async def migrate(self, migrations: list[Migration]) -> None:
        await self._engine.migrate(migrations)

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """One unit of work: all of it is committed, or none of it on any error."""
        return self._engine.transaction()

    def read_snapshot(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """PostgreSQL: reads that all see one committed state, on a pooled connection beside the units of work.
        (A SQLite reader opens the file itself, as bot.vending.spot_index does: its one connection is the writer's.)
        """
        if isinstance(self._engine, SqliteDatabase):
            raise DatabaseError("read_snapshot() is PostgreSQL's: open the SQLite file for a reader of its own")
        return self._engine.read_snapshot()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row; for queries of one row (a key, an aggregate, LIMIT 1)."""
        return await self._engine.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._engine.fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> None:
        """A single write statement, atomic on its own."""
        await self._engine.execute(sql, params)

    async def integrity_check(self) -> str:
        return await self._engine.integrity_check()


Reader = Database | aiosqlite.Connection


async def read_rows(source: Reader, sql: str, params: Params = ()) -> list[Row]:
    """The one read helper: rows through the Database, or through the connection of a caller's transaction."""
    if isinstance(source, Database):
        return await source.fetchall(sql, params)
    return list(await source.execute_fetchall(sql, params))


async def take_turns(conn: Any, key: int) -> None:
    """Makes instances sharing a PostgreSQL database run this unit of work one at a time: the lock ``key`` is held
    until the caller's transaction ends (SQLite has one writer at a time already)."""
    if isinstance(conn, PgConnection):
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (key,))


async def returned_id(cursor: Any) -> int | None:
    """The id an ``INSERT … RETURNING id`` gave back (both engines); None when ON CONFLICT DO NOTHING skipped it."""
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else None
