"""``python -m bot db copy --to postgresql://…``: an existing SQLite install moved into an empty PostgreSQL database.

The PostgreSQL migrations are run on the target first; then every table is copied in one transaction, parents
before children (from the foreign keys), ids kept, and each identity sequence set past the highest id the file ever
gave out (SQLite's ``sqlite_sequence`` remembers ids of deleted rows too). The file is read in one read transaction,
so the copy is the database as of one moment.

The rows are copied as they are: the target's own triggers are switched off during the copy (in the same
transaction), or the outbox trigger would rewrite a copied message and the spot triggers would log every spot as a
fresh change on top of the copied ``spot_changes`` log. SQLite's R*Tree tables are not copied: on PostgreSQL
``spots_rtree`` and ``zones_rtree`` are views of the spots and zones themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import asyncpg

from bot.platform.db_postgres import PostgresDatabase, shown_url
from bot.platform.db_schema import DatabaseError, DatabaseUnavailable, load_migrations

_BATCH = 5000  # rows read from the file and sent with COPY at a time
_KEPT_OUT = "schema_migrations"  # the target's own: filled by its migrations


class CopyRefused(DatabaseError):
    """The copy was not started, or was rolled back: nothing was written to the target's tables."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


@dataclass(frozen=True)
class CopyResult:
    schema_version: int
    tables: list[CopiedTable]
    skipped: dict[str, str]  # SQLite table → why it was not copied


@dataclass(frozen=True)
class _Table:
    """A target table: its columns with their types, its key, and the columns that point at its own rows."""

    name: str
    columns: list[tuple[str, str]]
    key: str | None
    self_references: list[str]
    identity: str | None


async def copy_to_postgres(source: Path, url: str) -> CopyResult:
    """Copies the SQLite file at ``source`` into the empty PostgreSQL database at ``url``; CopyRefused (nothing
    written) when the file's schema is not this bot's or the target already holds data."""
    reader = _open_source(source)
    try:
        version = _source_version(reader, source)
        conn = await _connect(url)
        try:
            await _refuse_data(conn, url)
            try:  # the PostgreSQL migrations, under their lock
                await (await PostgresDatabase.connect(url)).close()
            except asyncpg.PostgresError as exc:  # e.g. a table of another application in the way
                raise CopyRefused(f"the migrations failed on {shown_url(url)}: {exc}") from None
            return await _copy_all(reader, conn, url, version)
        finally:
            await conn.close()
    finally:
        reader.close()


def _open_source(source: Path) -> sqlite3.Connection:
    if not source.is_file():
        raise CopyRefused(f"no SQLite database at {source} (set DATABASE_PATH, or DATABASE_URL=sqlite:///path)")
    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        reader.execute("BEGIN")  # one read transaction: every table as of one moment, the bot may keep writing
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise CopyRefused(f"cannot read {source}: {exc}") from None
    return reader


def _source_version(reader: sqlite3.Connection, source: Path) -> int:
    version = int(reader.execute("PRAGMA user_version").fetchone()[0])
    known = load_migrations()[-1].version
    if version != known:
        raise CopyRefused(
            f"{source} has schema version {version}, this bot's is {known}: run the bot of the same version as "
            "the file's (start it once on the file to bring it up to date), then copy"
        )
    return version


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, TimeoutError) as exc:
        raise DatabaseUnavailable(
            f"--to is unusable: cannot connect to {shown_url(url)} ({exc.__class__.__name__}: {exc})"
        ) from None


async def _refuse_data(conn: asyncpg.Connection, url: str) -> None:
    """CopyRefused when any table of the target (other than the migrations' own) has a row."""
    names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    holding = [
        row[0]
        for row in names
        if row[0] != _KEPT_OUT and await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{row[0]}")')
    ]
    if holding:
        shown = ", ".join(holding[:5]) + (", …" if len(holding) > 5 else "")
        raise CopyRefused(
            f"{shown_url(url)} already holds data ({shown}): db copy fills an empty database only; "
            "create a new one (createdb) and copy into it"
        )


async def _copy_all(reader: sqlite3.Connection, conn: asyncpg.Connection, url: str, version: int) -> CopyResult:
    source_tables, skipped = _source_tables(reader)
    tables = {name: table for name, table in (await _target_tables(conn)).items() if name not in INSTANCE_TABLES}
    missing = sorted(set(tables) - source_tables)
    extra = sorted(source_tables - set(tables))
    if missing or extra:
        raise CopyRefused(f"the schemas differ: missing from the file {missing}, not in PostgreSQL {extra}")
    try:
        copied = await _copy_in_one_transaction(reader, conn, url, tables)
    except asyncpg.PostgresError as exc:
        raise CopyRefused(f"the copy failed and was rolled back, nothing was copied: {exc}") from None
    return CopyResult(version, copied, skipped)


async def _copy_in_one_transaction(
    reader: sqlite3.Connection, conn: asyncpg.Connection, url: str, tables: dict[str, _Table]
) -> list[CopiedTable]:
    used = _used_ids(reader)
    copied: list[CopiedTable] = []
    async with conn.transaction():
        names = ", ".join(f'"{name}"' for name in tables)
        await conn.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")  # no bot writes into it meanwhile
        await _refuse_data(conn, url)
        triggered = await _tables_with_triggers(conn)
        for name in triggered:
            await conn.execute(f'ALTER TABLE "{name}" DISABLE TRIGGER USER')
        for name in _parents_first(tables, await _references(conn)):
            table = tables[name]
            try:
                rows = await _copy_table(reader, conn, table)
            except asyncpg.PostgresError as exc:
                problem = getattr(exc, "message", None) or str(exc)
                raise CopyRefused(f"{name} could not be copied, so the copy was rolled back: {problem}") from None
            await _set_identity(conn, table, used.get(name, 0))
            count = int(await conn.fetchval(f'SELECT count(*) FROM "{name}"'))
            if count != rows:
                raise CopyRefused(f"{name}: {rows} rows read but {count} in PostgreSQL; nothing was copied")
            copied.append(CopiedTable(name, rows))
        for name in triggered:
            await conn.execute(f'ALTER TABLE "{name}" ENABLE TRIGGER USER')
    return copied


async def _target_tables(conn: asyncpg.Connection) -> dict[str, _Table]:
    columns = await conn.fetch(
        "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name IN "
        "(SELECT tablename FROM pg_tables WHERE schemaname = current_schema()) ORDER BY table_name, ordinal_position"
    )
    keys = dict(
        await conn.fetch(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'p' AND cardinality(c.conkey) = 1 AND c.connamespace = current_schema()::regnamespace"
        )
    )
    self_refs: dict[str, list[str]] = {}
    for table, column in await conn.fetch(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
        "WHERE c.contype = 'f' AND c.conrelid = c.confrelid AND c.connamespace = current_schema()::regnamespace"
    ):
        self_refs.setdefault(table, []).append(column)
    tables: dict[str, _Table] = {}
    for row in columns:
        name = row["table_name"]
        if name == _KEPT_OUT:
            continue
        table = tables.setdefault(name, _Table(name, [], keys.get(name), self_refs.get(name, []), None))
        table.columns.append((row["column_name"], row["data_type"]))
        if row["is_identity"] == "YES":
            tables[name] = _Table(name, table.columns, table.key, table.self_references, row["column_name"])
    return tables


# Migrations 0012 and 0013: the updates, chat leases, heartbeats and chat paces of running instances; empty on SQLite.
INSTANCE_TABLES = frozenset({"inbound_updates", "chat_leases", "instances", "chat_pace"})


def _source_tables(reader: sqlite3.Connection) -> tuple[set[str], dict[str, str]]:
    """The file's tables to copy, and those left out with the reason (R*Tree indexes and their shadow tables)."""
    rows = reader.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    rtrees = {name for name, sql in rows if sql and "USING RTREE" in sql.upper()}
    shadows = {f"{rtree}_{part}" for rtree in rtrees for part in ("node", "parent", "rowid")}
    skipped = {rtree: f"a view of {rtree.removesuffix('_rtree')} on PostgreSQL, nothing to copy" for rtree in rtrees}
    names = {name for name, _ in rows}
    skipped |= {name: "what running instances share, empty on SQLite" for name in INSTANCE_TABLES & names}
    tables = {
        name for name in names if not name.startswith("sqlite_") and name not in rtrees | shadows | INSTANCE_TABLES
    }
    return tables, dict(sorted(skipped.items()))


def _used_ids(reader: sqlite3.Connection) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table ever handed out (rows since deleted included)."""
    exists = reader.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone()
    if exists is None:
        return {}
    return {str(name): int(seq) for name, seq in reader.execute("SELECT name, seq FROM sqlite_sequence")}


async def _tables_with_triggers(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
    )
    return [row[0] for row in rows]


async def _references(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    )
    return [(row[0], row[1]) for row in rows]


def _parents_first(tables: dict[str, _Table], references: list[tuple[str, str]]) -> list[str]:
    """Every table after the tables it references (a table referencing itself is filled in two passes)."""
    graph: dict[str, set[str]] = {name: set() for name in sorted(tables)}
    for child, parent in references:
        if child != parent and child in graph and parent in graph:
            graph[child].add(parent)
    order: list[str] = []
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready())  # the same order on every run
        order.extend(ready)
        sorter.done(*ready)
    return order


async def _copy_table(reader: sqlite3.Connection, conn: asyncpg.Connection, table: _Table) -> int:
    """Sends the table's rows with COPY, in batches; a table whose rows point at each other (a spot relocated to
    another, a report marked a duplicate of another) is sent in one go, every row after the rows it points at."""
    names = [name for name, _ in table.columns]
    converters = [_converter(kind) for _, kind in table.columns]
    quoted = ", ".join(f'"{name}"' for name in names)
    cursor = reader.execute(f'SELECT {quoted} FROM "{table.name}"')
    batches: Iterator[list[tuple[Any, ...]]] = iter(lambda: cursor.fetchmany(_BATCH), [])
    if table.self_references:
        if table.key is None:
            raise CopyRefused(f"{table.name} references itself but has no single-column key")
        pointers = [names.index(column) for column in table.self_references]
        batches = iter([_pointed_at_first(cursor.fetchall(), names.index(table.key), pointers)])
    total = 0
    for batch in batches:
        records = [tuple(convert(value) for convert, value in zip(converters, row, strict=True)) for row in batch]
        await conn.copy_records_to_table(table.name, records=records, columns=names)
        total += len(records)
    return total


def _pointed_at_first(rows: list[tuple[Any, ...]], key: int, pointers: list[int]) -> list[tuple[Any, ...]]:
    """The rows ordered so that each comes after the rows of the same table it points at (the check constraints
    hold from the first row, so a pointer cannot be filled in afterwards)."""
    graph = {row[key]: {row[i] for i in pointers if row[i] is not None and row[i] != row[key]} for row in rows}
    by_key = {row[key]: row for row in rows}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise CopyRefused(f"rows pointing at each other in a circle: {exc.args[1]}") from None
    return [by_key[row_key] for row_key in order if row_key in by_key]


async def _set_identity(conn: asyncpg.Connection, table: _Table, used: int) -> None:
    """The table's sequence continues after the highest id copied or ever used, so new rows never reuse one."""
    if table.identity is None:
        return
    highest = max(int(await conn.fetchval(f'SELECT COALESCE(max("{table.identity}"), 0) FROM "{table.name}"')), used)
    sequence = "pg_get_serial_sequence($1, $2)"
    if highest > 0:
        await conn.execute(f"SELECT setval({sequence}, $3, true)", table.name, table.identity, highest)
    else:
        await conn.execute(f"SELECT setval({sequence}, 1, false)", table.name, table.identity)


def _converter(kind: str) -> Callable[[Any], Any]:
    """A SQLite value as the PostgreSQL column's type wants it (SQLite's affinity lets a column hold any type)."""

    def whole(value: Any) -> Any:
        return None if value is None else int(value)

    def real(value: Any) -> Any:
        return None if value is None else float(value)

    def text(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    if kind in ("bigint", "integer", "smallint"):
        return whole
    if kind in ("double precision", "real"):
        return real
    if kind == "text":
        return text
    raise CopyRefused(f"a PostgreSQL column of type {kind} has no copy rule")
