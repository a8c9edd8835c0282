"""Online backups: a consistent copy while another task keeps writing, and the command that makes one."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.backup import BackupError, backup_database
from bot.clock import to_db
from bot.db import Database


async def write_pairs(db: Database, stop: asyncio.Event) -> int:
    """Each transaction adds one outbox row and one reminder: a consistent copy always holds as many of each."""
    written = 0
    while not stop.is_set():
        now = to_db(datetime.now(UTC))
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO outbox (chat_id, method, params, next_attempt_at, created_at) "
                "VALUES (1, 'sendMessage', '{}', ?, ?)",
                (now, now),
            )
            await conn.execute(
                "INSERT INTO reminders (kind, target, due_at, created_at) VALUES ('digest', ?, ?, ?)",
                (f"pair:{written}", now, now),
            )
        written += 1
        await asyncio.sleep(0)
    return written


async def test_backup_while_the_bot_writes(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    stop = asyncio.Event()
    writer = asyncio.create_task(write_pairs(db, stop))
    try:
        await asyncio.sleep(0.05)
        copies = []
        for number in range(3):
            target = tmp_path / f"copy-{number}.sqlite3"
            result = await asyncio.to_thread(backup_database, db.path, target)
            copies.append(result)
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        written = await writer
        await db.close()

    counts = []
    for result in copies:
        assert result.schema_version >= 6 and result.size_bytes > 0
        assert not result.path.with_name(result.path.name + ".partial").exists()
        with sqlite3.connect(result.path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            outbox = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            reminders = copy.execute("SELECT COUNT(*) FROM reminders").fetchone()[0]
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert outbox == reminders  # never half a transaction
        counts.append(outbox)
    assert counts == sorted(counts) and 0 < counts[0] and counts[-1] <= written
    assert written > counts[0]  # the writer really ran on while copies were made


def test_a_backup_never_overwrites_the_database(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    sqlite3.connect(database).close()
    with pytest.raises(BackupError, match="must not overwrite"):
        backup_database(database, database)
    with pytest.raises(BackupError, match="no database"):
        backup_database(tmp_path / "missing.sqlite3", tmp_path / "copy.sqlite3")


async def test_the_backup_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "bot.sqlite3"
    await (await Database.open(database)).close()  # creates and migrates the file
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123456:backup-test-token-aaaaaaaaaaaa")
    monkeypatch.setenv("DATABASE_PATH", str(database))
    assert await asyncio.to_thread(main, ["backup", str(tmp_path / "backups" / "today.sqlite3")]) == 0
    assert "checked ok" in capsys.readouterr().out
    assert (tmp_path / "backups" / "today.sqlite3").is_file()
