"""When a handler fails: the user hears about it, the admins get a report without the token, the bot goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.driver import TestBed, text_of


@pytest.fixture
async def bed_with_admin(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env["ADMIN_IDS"] = "9001"
    idle_bed.emulator.add_user(9001, "Admin", "en")
    await idle_bed.start()
    yield idle_bed


async def test_a_failing_reply_is_reported_and_the_bot_keeps_running(bed_with_admin: TestBed) -> None:
    bed = bed_with_admin
    admin = bed.person(9001, "Admin", "en")
    alice = bed.person(1010, "Alice", "en")
    await admin.send("/start")  # the admin's Telegram language is known once they have written
    await admin.expect_message(contains="Hello, Admin")
    bed.emulator.inject("sendMessage", "500")
    await alice.send("/start")
    apology = await alice.expect_message(contains="something went wrong")
    assert "your data is safe" in text_of(apology)
    report = await admin.expect_message(contains="An error occurred while handling update")
    assert bed.emulator.token not in text_of(report)
    assert "NetworkError" in text_of(report)

    await alice.send("/start")
    await alice.expect_message(contains="Hello, Alice!")
