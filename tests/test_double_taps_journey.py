"""A button pressed twice quickly: the second press finds its message already edited ("message is not modified"),
which is not an error: nothing visible happens, nothing is logged at ERROR, no admin is alerted."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.support.driver import TestBed, text_of

ADMIN = 9801


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env = {"ADMIN_IDS": str(ADMIN)}
    await idle_bed.start()
    yield idle_bed


async def test_pressing_a_language_twice_quickly_shows_it_once(bed: TestBed, caplog: pytest.LogCaptureFixture) -> None:
    admin = bed.person(ADMIN, "Admin", language_code="en")
    await admin.send("/start")
    await admin.expect_message(contains="Hello, Admin")
    mei = bed.person(9802, "Mei", language_code="en")
    await mei.send("/language")
    choices = await mei.expect_message(contains="Choose your language")

    with caplog.at_level(logging.INFO):
        first = await mei.press(choices, "中文")
        second = await mei.press(choices, "中文")  # the same message, before the bot has edited it
        await mei.expect_answer(first)
        await mei.expect_answer(second)
        await mei.expect_message(contains="菜单")
        await mei.expect_no_message(wait=1.5)

    assert "中文" in text_of(mei.current(choices)) and not mei.current(choices).get("reply_markup")
    assert [m for m in mei.read_all() if "出了点问题" in text_of(m)] == []
    await admin.expect_no_message(wait=0.5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    row = await bed.db.fetchone("SELECT language FROM users WHERE telegram_id = 9802")
    assert row["language"] == "zh_Hans"
