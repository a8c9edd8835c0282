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

import re
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
POSTGRES_MIGRATIONS_DIR = MIGRATIONS_DIR / "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# A row indexes by position and by name on both engines (sqlite3.Row, asyncpg.Record); typed as SQLite's.
Row = sqlite3.Row
Params = Iterable[Any] | dict[str, Any]


class DatabaseError(Exception):
    """The database cannot be used as it is."""


class DatabaseTooNew(DatabaseError):
    """The file was written by a newer version of the bot."""


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached or refuses us; the message names the setting to check."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Reads the migration files in order; their numbers must run 1, 2, 3… without gaps or repeats."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise DatabaseError(f"badly named migration file: {path.name}")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise DatabaseError(f"migration {migration.name} should be numbered {expected:04d}")
    return migrations


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


class Database:
    """What every caller uses; :meth:`open` picks the engine from the target (a file path or a postgresql:// URL)."""

    engine: ClassVar[str]

    @classmethod
    async def open(cls, target: str | Path, migrations: list[Migration] | None = None) -> Database:
        """Opens the database (creating the file or the tables when needed) and brings its schema up to date."""
        if is_postgres_url(target):
            from bot.platform.db_postgres import PostgresDatabase

            return await PostgresDatabase.connect(str(target), migrations)
        from bot.platform.db_sqlite import SqliteDatabase

        return await SqliteDatabase.open_file(target, migrations)

    async def close(self) -> None:
        raise NotImplementedError

    async def user_version(self) -> int:
        """The number of the last migration applied."""
        raise NotImplementedError

    async def table_names(self) -> set[str]:
        raise NotImplementedError

    async def migrate(self, migrations: list[Migration]) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """One unit of work: all of it is committed, or none of it on any error."""
        raise NotImplementedError

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        raise NotImplementedError

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    async def execute(self, sql: str, params: Params = ()) -> None:
        """A single write statement, atomic on its own."""
        raise NotImplementedError

    async def integrity_check(self) -> str:
        raise NotImplementedError


Reader = Database | aiosqlite.Connection


async def read_rows(source: Reader, sql: str, params: Params = ()) -> list[Row]:
    """The one read helper: rows through the Database, or through the connection of a caller's transaction."""
    if isinstance(source, Database):
        return await source.fetchall(sql, params)
    return list(await source.execute_fetchall(sql, params))


async def returned_id(cursor: Any) -> int | None:
    """The id an ``INSERT … RETURNING id`` gave back (both engines); None when ON CONFLICT DO NOTHING skipped it."""
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else None


def split_sql(script: str) -> list[str]:
    """Splits a migration script into complete statements (sqlite3.complete_statement knows about triggers)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
    return statements
