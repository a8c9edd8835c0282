"""Fixtures: a fresh database file per test, the Bot API emulator, and the bot running against both."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.platform.db import Database
from devtools.emulator import BotAPIEmulator
from tests.support.driver import TestBed
from tests.support.pg import TEST_DATABASE_URL, create_database, drop_database
from tests.support.pg_server import postgres_server

logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database's URL when TEST_DATABASE_URL is set; None on SQLite (the tests use a file)."""
    if TEST_DATABASE_URL is None:
        yield None
        return
    url = await create_database(TEST_DATABASE_URL)
    yield url
    await drop_database(TEST_DATABASE_URL, url)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """For the tests about PostgreSQL itself, whatever the run's engine: TEST_DATABASE_URL's server, or a throwaway
    one for the module."""
    with postgres_server() as url:
        yield url


@pytest.fixture
async def new_pg_database(pg_server: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes new, empty databases on :func:`pg_server`, each dropped after the test."""
    made: list[str] = []

    async def make() -> str:
        made.append(await create_database(pg_server))
        return made[-1]

    yield make
    for url in made:
        await drop_database(pg_server, url)


@pytest.fixture
async def db(tmp_path: Path, database_url: str | None) -> AsyncIterator[Database]:
    database = await Database.open(database_url or tmp_path / "test.sqlite3")
    yield database
    await database.close()


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    server = BotAPIEmulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def idle_bed(emulator: BotAPIEmulator, tmp_path: Path, database_url: str | None) -> AsyncIterator[TestBed]:
    """A test bed whose bot the test starts itself (after choosing settings)."""
    bed = TestBed(emulator, tmp_path / "bot.sqlite3", database_url=database_url)
    yield bed
    await bed.stop()


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    """The bot running against the emulator with default settings."""
    await idle_bed.start()
    yield idle_bed
