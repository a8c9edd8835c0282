"""``python -m bot db copy --to postgresql://…``: a SQLite install filled by real journeys moves to PostgreSQL, and the
bot started there carries on — the same case under 📋 My reports, a half-filed report continued, new ids after the
copied ones; every table's rows counted on both sides; a target holding data, a file of another schema version and a
copy failing half-way change nothing."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest

from bot.platform.db import load_migrations
from bot.platform.db_copy import INSTANCE_TABLES
from devtools.emulator import BotAPIEmulator
from tests.support.driver import TestBed, text_of
from tests.support.report_steps import STAFF_CHAT, walk_to
from tests.test_process import bot_env
from tests.test_spots_import import spot_feature, write_geojson, zone_feature

TOKEN = "123456:" + "A" * 30
VERSION = len(load_migrations())  # this bot's schema version


@pytest.fixture
async def target(new_pg_database: Callable[[], Awaitable[str]]) -> str:
    """A new, empty PostgreSQL database."""
    return await new_pg_database()


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot …`` as an operator runs it, in a clean environment."""
    values = {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=bot_env(**values),
        capture_output=True,
        text=True,
        timeout=300,
    )


def make_sqlite_file(tmp_path: Path) -> None:
    """An empty install's file (schema up to date, no rows): what any command creates on first use."""
    made = run_bot(tmp_path, "spots", "export", str(tmp_path / "out.geojson"))
    assert made.returncode == 0, made.stderr


def sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


async def postgres_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0]: await conn.fetchval(f'SELECT count(*) FROM "{row[0]}"') for row in names}
    finally:
        await conn.close()


def printed_counts(stdout: str) -> dict[str, int]:
    """The command's lines ``  name: N rows``."""
    return {name: int(rows) for name, rows in re.findall(r"^  (\w+): (\d+) rows?$", stdout, re.MULTILINE)}


async def fill_by_journeys(emulator: BotAPIEmulator, tmp_path: Path) -> tuple[TestBed, str]:
    """On SQLite: spots imported with the command, a report filed through the bot, another left at its description
    step. Returns the stopped bed and the filed report's number."""
    spots = write_geojson(
        tmp_path / "spots.geojson",
        spot_feature(id="old-corner", name="旧街角", status="relocated", relocated_to="new-corner"),
        spot_feature(id="new-corner", name="新街角", lat=30.5020),
        zone_feature(),
    )
    imported = run_bot(tmp_path, "spots", "import", str(spots))
    assert imported.returncode == 0, imported.stderr
    bed = TestBed(emulator, tmp_path / "bot.sqlite3", env={"STAFF_CHAT_ID": str(STAFF_CHAT)})
    bed.group(STAFF_CHAT)
    await bed.start()
    alice = bed.person(7001, "Alice", language_code="en")
    review = await walk_to(alice, "review")
    await alice.press(review, "Submit")
    thanks = await alice.expect_message(contains="Your report number is")
    number = re.search(r"R\d[\d-]*\d", text_of(thanks))
    assert number is not None
    bob = bed.person(7002, "Bob", language_code="en")
    await walk_to(bob, "description", category="Street light")
    await bed.stop()  # a graceful stop writes the conversations to the database
    return bed, number.group()


async def test_a_sqlite_install_moves_to_postgresql_and_carries_on(
    emulator: BotAPIEmulator, tmp_path: Path, target: str
) -> None:
    bed, number = await fill_by_journeys(emulator, tmp_path)
    before = sqlite_counts(tmp_path / "bot.sqlite3")
    for table in ("reports", "report_events", "outbox", "reminders", "spots", "zones", "spot_changes"):
        assert before[table] > 0, table
    assert before["ptb_conversations"] > 0 and before["report_drafts"] == 1

    copied = run_bot(tmp_path, "db", "copy", "--to", target)
    assert copied.returncode == 0, copied.stderr
    after = await postgres_counts(target)
    printed = printed_counts(copied.stdout)
    assert set(printed) == set(after) - {"schema_migrations"} - INSTANCE_TABLES  # running instances' own
    for table, rows in printed.items():
        assert rows == after[table] == before[table], table
    assert "spots_rtree: not copied (a view of spots on PostgreSQL" in copied.stdout
    assert copied.stdout.splitlines()[0].startswith(f"copied {tmp_path / 'bot.sqlite3'} (schema {VERSION}) to ")
    conn = await asyncpg.connect(target)
    try:
        relocated = await conn.fetchrow(
            "SELECT old.relocated_to, new.id FROM spots old JOIN spots new ON new.name = '新街角' "
            "WHERE old.name = '旧街角'"
        )
        assert relocated is not None and relocated[0] == relocated[1]
    finally:
        await conn.close()

    moved = TestBed(emulator, tmp_path / "unused.sqlite3", env={"STAFF_CHAT_ID": str(STAFF_CHAT)}, database_url=target)
    await moved.start()
    try:
        assert moved.db.engine == "postgres"
        alice, bob = moved.person(7001, "Alice", "en"), moved.person(7002, "Bob", "en")
        alice.cursor, bob.cursor = len(emulator.inbox[7001]), len(emulator.inbox[7002])
        await alice.send("📋 My reports")
        listing = await alice.expect_message(contains="Your reports (1)")
        assert number in str(listing["reply_markup"])

        await bob.send("The street light at the corner is out")  # the step he stopped at on SQLite
        skip = await bob.expect_message(contains="A photo helps")
        await bob.press(skip, "Skip")
        review = await bob.expect_message(contains="Please check your report")
        await bob.press(review, "Submit")
        await bob.expect_message(contains="Your report number is")
        ids = await moved.db.fetchall("SELECT id, reporter_id FROM reports ORDER BY id")
        assert [row["reporter_id"] for row in ids] == [7001, 7002]  # the new case after the copied one
        assert (not (tmp_path / "unused.sqlite3").exists()) and await moved.db.fetchone(
            "SELECT 1 FROM report_drafts WHERE telegram_id = 7002"
        ) is None
    finally:
        await moved.stop()
    assert bed.application is None


async def test_a_target_holding_data_is_refused(tmp_path: Path, target: str) -> None:
    make_sqlite_file(tmp_path)
    first = run_bot(tmp_path, "db", "copy", "--to", target)
    assert first.returncode == 0, first.stderr
    conn = await asyncpg.connect(target)
    try:
        await conn.execute("INSERT INTO users (telegram_id, created_at, updated_at) VALUES (1, 'x', 'x')")
    finally:
        await conn.close()
    again = run_bot(tmp_path, "db", "copy", "--to", target)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        f"error: {target} already holds data (users): db copy fills an empty database only; "
        "create a new one (createdb) and copy into it"
    ]
    assert (await postgres_counts(target))["users"] == 1


async def test_a_file_of_another_schema_version_is_refused(tmp_path: Path, target: str) -> None:
    make_sqlite_file(tmp_path)
    with closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn:
        conn.execute(f"PRAGMA user_version = {VERSION - 1}")
    refused = run_bot(tmp_path, "db", "copy", "--to", target)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"bot.sqlite3 has schema version {VERSION - 1}, this bot's is {VERSION}" in refused.stderr
    assert await postgres_counts(target) == {}  # not even the migrations ran


async def test_a_copy_failing_half_way_leaves_the_target_empty(tmp_path: Path, target: str) -> None:
    make_sqlite_file(tmp_path)
    with closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn, conn:  # foreign keys off: a photo of no report
        conn.execute("INSERT INTO users (telegram_id, created_at, updated_at) VALUES (5, 'x', 'x')")
        conn.execute("INSERT INTO report_photos (report_id, file_id, created_at) VALUES (999, 'f', 'x')")
    failed = run_bot(tmp_path, "db", "copy", "--to", target)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "rolled back" in failed.stderr and "report_photos" in failed.stderr
    counts = await postgres_counts(target)
    assert counts["schema_migrations"] == VERSION == sum(counts.values())  # migrated, no row copied


@pytest.mark.parametrize(
    ("env", "to", "says"),
    [
        ({}, "mysql://bot@db/city", "error: --to must be a postgresql:// URL, not 'mysql://bot@db/city'"),
        (
            {"DATABASE_URL": "postgresql://bot@127.0.0.1:1/city"},
            "postgresql://bot@127.0.0.1:1/other",
            "error: DATABASE_URL selects PostgreSQL: db copy reads the SQLite file (DATABASE_PATH)",
        ),
        ({}, "postgresql://bot:secret@127.0.0.1:1/city", "error: --to is unusable: cannot connect to "),
    ],
)
def test_wrong_settings_are_one_line_and_exit_2(tmp_path: Path, env: dict[str, str], to: str, says: str) -> None:
    if "DATABASE_URL" not in env:
        make_sqlite_file(tmp_path)
    result = run_bot(tmp_path, "db", "copy", "--to", to, **env)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "secret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(says)
