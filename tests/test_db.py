"""The database: migrations, refusal of a newer file, transactions that leave all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.platform.db import Database, DatabaseError, DatabaseTooNew, Migration, load_migrations, split_sql


async def test_a_new_file_gets_every_migration(db: Database) -> None:
    assert await db.user_version() == len(load_migrations())
    tables = {row["name"] for row in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "ptb_conversations", "ptb_user_data", "outbox", "reminders"} <= tables
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    first = await Database.open(path)
    await first.close()
    second = await Database.open(path)
    assert await second.user_version() == len(load_migrations())
    await second.close()


async def test_a_newer_database_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    db = await Database.open(path)
    await db.execute("SELECT 1")
    await db._conn.execute("PRAGMA user_version = 999")
    await db.close()
    with pytest.raises(DatabaseTooNew, match="schema version 999"):
        await Database.open(path)


async def test_a_failing_migration_leaves_the_schema_untouched(tmp_path: Path) -> None:
    good = Migration(1, "0001_good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_bad", "CREATE TABLE b (x INTEGER);\nINSERT INTO missing VALUES (1);")
    db = await Database.open(tmp_path / "m.sqlite3", migrations=[good])
    with pytest.raises(Exception, match="missing"):
        await db.migrate([good, bad])
    assert await db.user_version() == 1
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'b'") is None
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
