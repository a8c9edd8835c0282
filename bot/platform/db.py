"""The one SQLite file: connection, transactions and schema migrations.

Migrations are the numbered ``bot/migrations/NNNN_name.sql`` files; the database's ``PRAGMA user_version``
is the number of the last one applied. Each is applied in its own transaction.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(Exception):
    """The database cannot be used as it is."""


class DatabaseTooNew(DatabaseError):
    """The file was written by a newer version of the bot."""


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


class Database:
    """One aiosqlite connection; every write goes through :meth:`transaction`."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._conn = connection
        self.path = path
        # One writer at a time: a second BEGIN IMMEDIATE on the same connection would fail, so queue them.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, migrations: list[Migration] | None = None) -> Database:
        """Opens (creating if needed) the database file and brings its schema up to date."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=NORMAL")
            # Memory-mapped reads: spatial lookups touch scattered pages, and a read() per page costs more.
            await conn.execute("PRAGMA mmap_size=268435456")
            await db.migrate(load_migrations() if migrations is None else migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._conn.close()

    async def user_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration]) -> None:
        """Applies every migration newer than the file, each in its own transaction."""
        current = await self.user_version()
        known = migrations[-1].version if migrations else 0
        if current > known:
            raise DatabaseTooNew(
                f"the database {self.path} has schema version {current}, but this bot knows only up to "
                f"{known}: upgrade the bot or use another DATABASE_PATH"
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction() as conn:
                for statement in split_sql(migration.sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {migration.version}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One unit of work: BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error."""
        async with self._write_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row; for queries of one row (a key, an aggregate, LIMIT 1): one trip, like fetchall."""
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        # One trip to aiosqlite's thread instead of three (execute, fetch, close): it dominates small queries.
        return list(await self._conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> None:
        """A single write statement, atomic on its own (autocommit): one trip instead of BEGIN, it, COMMIT. The
        writers' lock still keeps it out of another unit of work's open transaction on this connection."""
        async with self._write_lock:
            await self._conn.execute(sql, params)

    async def integrity_check(self) -> str:
        row = await self.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"


Reader = Database | aiosqlite.Connection


async def read_rows(source: Reader, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
    """The one read helper: rows through the Database, or through the connection of a caller's transaction."""
    if isinstance(source, Database):
        return await source.fetchall(sql, params)
    return list(await source.execute_fetchall(sql, params))


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
