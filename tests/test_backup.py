"""Online backups: a consistent copy while another task keeps writing, and the command that makes one."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.platform.backup import BackupBusy, BackupError, _exclusive, backup_database
from bot.platform.clock import to_db
from bot.platform.db import Database


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
        assert [name for name in os.listdir(tmp_path) if name.startswith(f".{result.path.name}")] == []
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


def a_big_database(path: Path) -> int:
    """A migrated database with ~40 MB of rows, so that one backup takes long enough for another to overlap it."""

    async def migrate() -> None:
        await (await Database.open(path)).close()

    asyncio.run(migrate())
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)")
        conn.executemany("INSERT INTO filler (data) VALUES (?)", ((os.urandom(4000),) for _ in range(10_000)))
    return 10_000


def test_two_backup_commands_at_once_to_the_same_file(tmp_path: Path) -> None:
    """Both succeed, or one says clearly that the other is writing; the file is sound, nothing is left beside it."""
    database = tmp_path / "bot.sqlite3"
    rows = a_big_database(database)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "HOME": str(tmp_path),
        "BOT_TOKEN": "123456:backup-test-token-aaaaaaaaaaaa",
        "DATABASE_PATH": str(database),
    }
    folder = tmp_path / "backups"
    target = folder / "same.sqlite3"
    busy = f"error: another backup is writing {target} right now; wait for it to finish, or choose another file"
    for _ in range(2):
        command = [sys.executable, "-m", "bot", "backup", str(target)]
        processes = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        results = [(process.wait(timeout=120), *process.communicate()) for process in processes]
        assert sorted(code for code, _, _ in results) in ([0, 0], [0, 2]), results
        for code, out, err in results:
            assert ("checked ok" in out and err == "") if code == 0 else err.strip() == busy
        assert sorted(os.listdir(folder)) == ["same.sqlite3"]  # no temporary file, no lock file
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("SELECT COUNT(*) FROM filler").fetchone()[0] == rows
            assert copy.execute("PRAGMA user_version").fetchone()[0] >= 6


def test_a_backup_in_progress_is_named_and_a_dead_ones_lock_is_no_obstacle(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x)")
    target = tmp_path / "copy.sqlite3"
    with _exclusive(target), pytest.raises(BackupBusy, match="another backup is writing"):
        backup_database(database, target)
    assert not target.exists()
    (tmp_path / ".copy.sqlite3.lock").write_text("")  # left by a backup that was killed: no one holds it
    assert backup_database(database, target).tables == 1
    assert sorted(os.listdir(tmp_path)) == ["bot.sqlite3", "copy.sqlite3"]


def test_a_target_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    sqlite3.connect(database).close()
    (tmp_path / "folder.sqlite3").mkdir()
    with pytest.raises(BackupError, match="cannot write"):
        backup_database(database, tmp_path / "folder.sqlite3")
    assert sorted(os.listdir(tmp_path)) == ["bot.sqlite3", "folder.sqlite3"]
