"""The bot as a real process: clear configuration errors, and a clean start with only two settings."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.emulator import BotAPIEmulator
from tests.support.driver import Person

ROOT = Path(__file__).resolve().parent.parent


def bot_env(**values: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks into the process."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(values)
    return env


def test_missing_token_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=bot_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "BOT_TOKEN is missing" in result.stderr and "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    env = bot_env(BOT_TOKEN="123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345", TIMEZONE="Nowhere/Land")
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "TIMEZONE is invalid" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://bot@db/city", "DATABASE_URL is invalid: write postgresql://"),
        (
            "postgresql://bot@127.0.0.1:1/city",
            "DATABASE_URL is unusable: cannot connect to postgresql://bot@127.0.0.1:1",
        ),
        ("postgresql://bot:secret@127.0.0.1:1/city", "cannot connect to postgresql://bot:***@127.0.0.1:1/city"),
    ],
)
def test_a_wrong_or_unreachable_database_url_is_one_clear_line_and_exit_2(tmp_path: Path, url: str, says: str) -> None:
    env = bot_env(BOT_TOKEN="123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345", DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert says in result.stderr and "secret" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()  # no SQLite file made instead


async def test_starts_with_only_token_and_base_url_and_answers(emulator: BotAPIEmulator, tmp_path: Path) -> None:
    env = bot_env(BOT_TOKEN=emulator.token, BOT_API_BASE_URL=emulator.base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await emulator.wait_for(lambda: emulator.calls_of("setMyCommands"), timeout=30)
        user = emulator.add_user(501, "Li", "zh-CN")
        li = Person(emulator, user, emulator.chats[501])
        await li.send("/start")
        await li.expect_message(contains="您好，Li", timeout=15)
        assert (tmp_path / "data" / "bot.sqlite3").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert emulator.token not in stderr.decode()


LOG_LINE = re.compile(
    r'^ts=\S+ level=[A-Z]+ logger=\S+ msg=(?:"(?:[^"\\]|\\.)*"|\S+)(?: [a-z_]+=(?:"(?:[^"\\]|\\.)*"|\S*))*$'
)


async def test_every_line_on_stderr_is_a_key_value_log_record(emulator: BotAPIEmulator, tmp_path: Path) -> None:
    """No raw warnings (PTB's per_message notice was three of them) between the structured log lines."""
    env = bot_env(BOT_TOKEN=emulator.token, BOT_API_BASE_URL=emulator.base_url, LOG_LEVEL="INFO")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await emulator.wait_for(lambda: emulator.calls_of("setMyCommands"), timeout=30)
        li = Person(emulator, emulator.add_user(502, "Li", "zh-CN"), emulator.chats[502])
        await li.send("/start")
        await li.expect_message(contains="您好，Li", timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    lines = stderr.decode().splitlines()
    assert lines, "the bot logs its start at INFO"
    assert "PTBUserWarning" not in stderr.decode()
    assert [line for line in lines if not LOG_LINE.match(line)] == []
    assert stdout == b""
