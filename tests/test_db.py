"""The database on either engine (TEST_DATABASE_URL selects PostgreSQL): migrations, refusal of a newer schema,
transactions that leave all or nothing, and the two engines' migrations kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.platform.db import (
    MIGRATIONS_DIR,
    POSTGRES_MIGRATIONS_DIR,
    Database,
    DatabaseError,
    DatabaseTooNew,
    Migration,
    load_migrations,
    split_sql,
)
from bot.platform.db_postgres import translate


def migrations_of(db: Database) -> list[Migration]:
    return load_migrations(POSTGRES_MIGRATIONS_DIR if db.engine == "postgres" else MIGRATIONS_DIR)


async def test_a_new_database_gets_every_migration(db: Database) -> None:
    assert await db.user_version() == len(migrations_of(db)) == len(load_migrations())
    assert {"users", "ptb_conversations", "ptb_user_data", "outbox", "reminders"} <= await db.table_names()


async def test_a_sqlite_file_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "pragmas.sqlite3")
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    await db.close()


async def test_reopening_applies_nothing_twice(tmp_path: Path, database_url: str | None) -> None:
    target = database_url or tmp_path / "again.sqlite3"
    first = await Database.open(target)
    await first.close()
    second = await Database.open(target)
    assert await second.user_version() == len(load_migrations())
    await second.close()


async def test_a_newer_database_refuses_to_start(tmp_path: Path, database_url: str | None) -> None:
    target = database_url or tmp_path / "future.sqlite3"
    db = await Database.open(target)
    if db.engine == "postgres":
        await db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future')")
    else:
        await db.execute("PRAGMA user_version = 999")
    await db.close()
    with pytest.raises(DatabaseTooNew, match="schema version 999"):
        await Database.open(target)


async def test_a_failing_migration_leaves_the_schema_untouched(tmp_path: Path, database_url: str | None) -> None:
    good = Migration(1, "0001_good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_bad", "CREATE TABLE b (x INTEGER);\nINSERT INTO missing VALUES (1);")
    db = await Database.open(database_url or tmp_path / "m.sqlite3", migrations=[good])
    with pytest.raises(Exception, match="missing"):
        await db.migrate([good, bad])
    assert await db.user_version() == 1
    assert "a" in await db.table_names() and "b" not in await db.table_names()
    await db.close()


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (telegram_id, created_at, updated_at) VALUES (1, 'x', 'x')")
            raise RuntimeError("boom")
    assert await db.fetchone("SELECT * FROM users WHERE telegram_id = 1") is None


def test_split_sql_keeps_triggers_whole() -> None:
    script = """-- a comment
CREATE TABLE t (x);
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
    UPDATE t SET x = 1;
END;
"""
    assert len(split_sql(script)) == 2
    with pytest.raises(DatabaseError):
        split_sql("CREATE TABLE t (x")


def test_migration_files_are_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(DatabaseError, match="should be numbered 0002"):
        load_migrations(tmp_path)


def schema_of(directory: Path) -> dict[str, set[str]]:
    """Tables and their columns as the migration files declare them (CREATE TABLE and ALTER TABLE … ADD COLUMN)."""
    tables: dict[str, set[str]] = {}
    for migration in load_migrations(directory):
        sql = re.sub(r"--[^\n]*", "", migration.sql)
        for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\)", sql, re.S):
            columns = {line.split()[0] for line in body.splitlines() if line.strip()}
            tables[name] = columns - {"PRIMARY", "CHECK", "UNIQUE", "FOREIGN"}
        for name, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", sql):
            tables[name].add(column)
    return tables


def test_both_engines_have_the_same_migrations_tables_and_columns() -> None:
    sqlite, postgres = load_migrations(MIGRATIONS_DIR), load_migrations(POSTGRES_MIGRATIONS_DIR)
    assert [m.name for m in sqlite] == [m.name for m in postgres]
    assert schema_of(MIGRATIONS_DIR) == schema_of(POSTGRES_MIGRATIONS_DIR)
    assert len(schema_of(MIGRATIONS_DIR)) > 20


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", ("SELECT * FROM t WHERE a = $1 AND b = $2", 2, True)),
        (
            "UPDATE t SET a = :x WHERE b = :y OR c = :x",
            ("UPDATE t SET a = $1 WHERE b = $2 OR c = $1", ("x", "y"), False),
        ),
        (
            "SELECT 'it''s :no ?', x::text FROM t WHERE y = ?",
            ("SELECT 'it''s :no ?', x::text FROM t WHERE y = $1", 1, True),
        ),
        (
            "INSERT INTO t (a) VALUES (?) RETURNING id -- ?",
            ("INSERT INTO t (a) VALUES ($1) RETURNING id -- ?", 1, True),
        ),
    ],
)
def test_placeholders_are_translated_for_postgresql(sql: str, expected: tuple[str, object, bool]) -> None:
    assert translate(sql) == expected
