"""The PostgreSQL engine: an asyncpg pool behind the API of bot/platform/db.py.

The callers' SQL keeps SQLite's ``?`` and ``:name`` placeholders; each statement text is translated to ``$n`` once
and cached. Units of work queue behind one lock per process, as on SQLite, so the code keeps the single-writer
ordering it was written for (several instances sharing the work are a later step). The schema version is kept in the
``schema_migrations`` table; migrations run under an advisory lock so two processes starting at once apply each once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit

import aiosqlite
import asyncpg

from bot.platform.db_schema import (
    POSTGRES_MIGRATIONS_DIR,
    DatabaseError,
    DatabaseTooNew,
    DatabaseUnavailable,
    Migration,
    Params,
    Row,
    load_migrations,
)

_MIGRATIONS_LOCK = 7_216_001  # pg_advisory_xact_lock key: one migrating process at a time
_ROW_RETURNING = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW)\b|\bRETURNING\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, tuple[str, ...] | int, bool]:
    """SQLite placeholders to PostgreSQL's: ``?`` → ``$1, $2…``, ``:name`` → one ``$n`` per name; string literals,
    quoted names, comments and ``::`` casts are left alone. Returns the text, the names (or the count of ``?``) and
    whether the statement returns rows."""
    out: list[str] = []
    names: list[str] = []
    positional = 0
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif char == "?":
            positional += 1
            out.append(f"${positional}")
            i += 1
        elif char == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and (match := _WORD.match(sql, i + 1)):
            name = match.group()
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i = match.end()
        else:
            out.append(char)
            i += 1
    if names and positional:
        raise DatabaseError(f"a statement mixes ? and :name placeholders: {sql[:80]}")
    returns_rows = bool(_ROW_RETURNING.search(sql))
    return "".join(out), (tuple(names) if names else positional), returns_rows


def _arguments(sql: str, params: Params) -> tuple[str, list[Any], bool]:
    text, shape, returns_rows = translate(sql)
    if isinstance(params, dict):
        if isinstance(shape, int):
            raise DatabaseError(f"named parameters given to a statement with ? placeholders: {sql[:80]}")
        return text, [params[name] for name in shape], returns_rows
    args = list(params)
    if isinstance(shape, tuple):
        raise DatabaseError(f"positional parameters given to a statement with :name placeholders: {sql[:80]}")
    return text, args, returns_rows


def _count_of(status: str) -> int:
    """The rows a command touched, from its status: ``INSERT 0 1``, ``UPDATE 3``, ``DELETE 0``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _numeric(text: str) -> int | float:
    """SUM of integers is an integer and AVG a float, as SQLite answers (asyncpg would give a Decimal)."""
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


class PgCursor:
    """What ``execute()`` returns: the rows, if the statement returned any, and how many rows it touched."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount  # no lastrowid: inserts say RETURNING id, which both engines answer

    async def fetchone(self) -> asyncpg.Record | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[asyncpg.Record]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    async def close(self) -> None:
        """Nothing to release: the rows were read at once."""

    async def __aenter__(self) -> PgCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Pending:
    """``await conn.execute(…)`` and ``async with conn.execute(…) as cursor`` both work, as on aiosqlite."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self._cursor: PgCursor | None = None

    def __await__(self) -> Any:
        return self._run.__await__()

    async def __aenter__(self) -> PgCursor:
        self._cursor = cast(PgCursor, await self._run)
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgConnection:
    """One pooled connection inside a unit of work, answering the calls the code makes on an aiosqlite one."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Params = ()) -> _Pending:
        return _Pending(self._execute(sql, params))

    async def _execute(self, sql: str, params: Params) -> PgCursor:
        text, args, returns_rows = _arguments(sql, params)
        if returns_rows:
            rows = await self.raw.fetch(text, *args)
            return PgCursor(rows, len(rows) if sql.lstrip()[:6].upper() not in ("SELECT", "VALUES") else -1)
        return PgCursor([], _count_of(await self.raw.execute(text, *args)))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        text, args, _ = _arguments(sql, params)
        return list(await self.raw.fetch(text, *args))

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        rows = [_arguments(sql, one)[1] for one in params]
        if rows:
            await self.raw.executemany(translate(sql)[0], rows)


async def _setup_connection(conn: asyncpg.Connection) -> None:
    """Codecs that answer like SQLite: numbers in text columns are kept as their text, sums as int or float."""
    await conn.set_type_codec("numeric", schema="pg_catalog", encoder=str, decoder=_numeric, format="text")
    await conn.set_type_codec("text", schema="pg_catalog", encoder=str, decoder=str, format="text")


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


class PostgresDatabase:
    """An asyncpg pool; every write goes through :meth:`transaction`."""

    engine = "postgres"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self._write_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, migrations: list[Migration] | None = None) -> PostgresDatabase:
        """Opens a pool to the server named by DATABASE_URL and brings the schema up to date."""
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=10, init=_setup_connection, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, TimeoutError) as exc:
            raise DatabaseUnavailable(
                f"DATABASE_URL is unusable: cannot connect to {shown_url(url)} ({exc.__class__.__name__}: {exc})"
            ) from None
        db = cls(pool, url)
        try:
            await db.migrate(load_migrations(POSTGRES_MIGRATIONS_DIR) if migrations is None else migrations)
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        await self._pool.close()

    async def _ensure_version_table(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )

    async def user_version(self) -> int:
        async with self._pool.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def table_names(self) -> set[str]:
        rows = await self.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {str(row[0]) for row in rows}

    async def migrate(self, migrations: list[Migration]) -> None:
        """Applies every migration newer than the database, each in its own transaction, under an advisory lock (a
        process that started at the same time and got there first is not repeated)."""
        known = migrations[-1].version if migrations else 0
        version = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATIONS_LOCK)
                await self._ensure_version_table(conn)
                current = int(await conn.fetchval(version))
            if current > known:
                raise DatabaseTooNew(
                    f"the database {shown_url(self.url)} has schema version {current}, but this bot knows only up "
                    f"to {known}: upgrade the bot or use another DATABASE_URL"
                )
            for migration in migrations:
                if migration.version <= current:
                    continue
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATIONS_LOCK)
                    if int(await conn.fetchval(version)) >= migration.version:
                        continue
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One unit of work on one pooled connection: BEGIN … COMMIT, or ROLLBACK on any error."""
        async with self._write_lock, self._pool.acquire() as conn, conn.transaction():
            # The connection answers the calls the code makes on aiosqlite's (execute, execute_fetchall, …).
            yield cast(aiosqlite.Connection, PgConnection(conn))

    @asynccontextmanager
    async def read_snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads that see one committed state (REPEATABLE READ, read only), outside the writers' lock."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield cast(aiosqlite.Connection, PgConnection(conn))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, args, _ = _arguments(sql, params)
        return cast(list[Row], await self._pool.fetch(text, *args))

    async def execute(self, sql: str, params: Params = ()) -> None:
        text, args, _ = _arguments(sql, params)
        async with self._write_lock:
            await self._pool.execute(text, *args)

    async def integrity_check(self) -> str:
        """PostgreSQL checks its pages itself; this says the server answers and the schema is there."""
        await self.fetchone("SELECT 1 FROM schema_migrations LIMIT 1")
        return "ok"
