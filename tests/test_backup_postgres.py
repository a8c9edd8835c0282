"""``python -m bot backup FILE`` on PostgreSQL: pg_dump's custom format, one consistent snapshot while the bot
writes, restored with pg_restore into a fresh database with every table's rows; pg_dump missing or failing is one
line and exit 2, with nothing left at FILE."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.platform.db import Database
from tests.support.pg import with_database
from tests.test_backup import write_pairs
from tests.test_db_copy import TOKEN, VERSION, postgres_counts
from tests.test_process import bot_env


@pytest.fixture
async def source(new_pg_database: Callable[[], Awaitable[str]]) -> str:
    return await new_pg_database()


@pytest.fixture
async def fresh(new_pg_database: Callable[[], Awaitable[str]]) -> str:
    return await new_pg_database()


async def backup(tmp_path: Path, url: str, file: Path, **env: str) -> tuple[int, str, str]:
    """The command as cron runs it, as a process of its own (the test's own loop keeps writing meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "backup",
        str(file),
        cwd=tmp_path,
        env=bot_env(BOT_TOKEN=TOKEN, DATABASE_URL=url, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def restore(file: Path, url: str) -> None:
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={url}", str(file)], check=True, timeout=120)


async def test_a_backup_while_the_bot_writes_restores_into_a_fresh_database(
    tmp_path: Path, source: str, fresh: str, new_pg_database: Callable[[], Awaitable[str]]
) -> None:
    db = await Database.open(source)
    stop = asyncio.Event()
    writer = asyncio.create_task(write_pairs(db, stop))
    try:
        await asyncio.sleep(0.2)
        code, out, err = await backup(tmp_path, source, tmp_path / "during.dump")
    finally:
        stop.set()
        written = await writer
    assert code == 0, err
    assert out.startswith(f"backup written: {tmp_path / 'during.dump'} (")
    assert f"schema {VERSION}, pg_restore --list ok" in out
    assert (tmp_path / "during.dump").stat().st_mode & 0o077 == 0  # readable by its owner only
    restore(tmp_path / "during.dump", fresh)
    during = await postgres_counts(fresh)
    assert 0 < during["outbox"] == during["reminders"] <= written  # one snapshot: both rows of a pair, or neither

    code, out, err = await backup(tmp_path, source, tmp_path / "after.dump")
    assert code == 0, err
    again = await new_pg_database()
    restore(tmp_path / "after.dump", again)
    assert await postgres_counts(again) == await postgres_counts(source)
    restored = await Database.open(again)  # the bot starts on it: schema current, sequences past the ids
    await a_new_row_gets_a_new_id(restored)
    await restored.close()
    await db.close()
    left = sorted(path.name for path in await asyncio.to_thread(lambda: list(tmp_path.iterdir())))
    assert left == ["after.dump", "during.dump"]  # no partial file, no lock file


async def a_new_row_gets_a_new_id(db: Database) -> None:
    """A new outbox row on the restored database gets an id past the restored ones."""
    row = await db.fetchone("SELECT max(id) FROM outbox")
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO outbox (chat_id, method, params, next_attempt_at, created_at) "
            "VALUES (1, 'sendMessage', '{}', 'x', 'x') RETURNING id"
        )
        new = await cursor.fetchone()
    assert row is not None and new is not None and new[0] > row[0]


async def test_pg_dump_missing_is_one_line_and_exit_2(tmp_path: Path, source: str) -> None:
    await (await Database.open(source)).close()
    bare = tmp_path / "bin"
    bare.mkdir()
    code, out, err = await backup(tmp_path, source, tmp_path / "x.dump", PATH=str(bare))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: pg_dump and pg_restore are needed for a PostgreSQL backup: install postgresql-client"
    ]
    assert not (tmp_path / "x.dump").exists()


async def test_pg_dump_failing_is_one_line_and_exit_2(tmp_path: Path, pg_server: str) -> None:
    assert shutil.which("pg_dump") is not None
    missing = with_database(pg_server, "no_such_database")
    code, out, err = await backup(tmp_path, missing, tmp_path / "x.dump")
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: pg_dump failed: ")
    assert "no_such_database" in err
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # neither the file nor a partial one
