"""The SQLite engine: one file, one aiosqlite connection, the database's ``PRAGMA user_version`` as the number of
the last migration applied (see bot/platform/db.py for the API both engines share)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.platform.db_schema import DatabaseTooNew, Migration, Params, Row, load_migrations, split_sql


class SqliteDatabase:
    """One aiosqlite connection; every write goes through :meth:`transaction`."""

    engine = "sqlite"

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._conn = connection
        self.path = path
        # One writer at a time: a second BEGIN IMMEDIATE on the same connection would fail, so queue them.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open_file(cls, path: str | Path, migrations: list[Migration] | None = None) -> SqliteDatabase:
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

    async def table_names(self) -> set[str]:
        rows = await self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row["name"]) for row in rows}

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

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row; for queries of one row (a key, an aggregate, LIMIT 1): one trip, like fetchall."""
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        # One trip to aiosqlite's thread instead of three (execute, fetch, close): it dominates small queries.
        return list(await self._conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> None:
        """A single write statement, atomic on its own (autocommit): one trip instead of BEGIN, it, COMMIT. The
        writers' lock still keeps it out of another unit of work's open transaction on this connection."""
        async with self._write_lock:
            await self._conn.execute(sql, params)

    async def integrity_check(self) -> str:
        row = await self.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"
