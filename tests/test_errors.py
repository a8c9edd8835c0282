"""When a handler fails: the user hears about it, the admins get a report without the token, the bot goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.platform.ratelimit import AlertThrottle
from handlers.errors import error_kind
from tests.support.driver import Person, TestBed, text_of


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


async def fail_once(bed: TestBed, alice: Person, kind: str = "500") -> None:
    """Alice's next reply fails at Telegram, so handling her /start raises."""
    bed.emulator.inject("sendMessage", kind)
    await alice.send("/start")
    await alice.expect_message(contains="something went wrong")


async def test_the_same_error_reaches_the_admins_once_in_ten_minutes_then_with_a_count(
    bed_with_admin: TestBed,
) -> None:
    bed = bed_with_admin
    assert bed.services is not None
    admin = bed.person(9001, "Admin", "en")
    alice = bed.person(1010, "Alice", "en")
    await admin.send("/start")
    await admin.expect_message(contains="Hello, Admin")

    await fail_once(bed, alice)
    first = await admin.expect_message(contains="An error occurred while handling update")
    assert "held back" not in text_of(first)
    for _ in range(5):  # the same failure again and again: Alice hears each time, the admins do not
        await fail_once(bed, alice)
    await admin.expect_no_message(wait=1.0)

    await fail_once(bed, alice, "400")  # another kind of error is news
    other = await admin.expect_message(contains="BadRequest: Injected")
    assert "held back" not in text_of(other)

    await bed.services.advance_clock(timedelta(minutes=10, seconds=1))
    await fail_once(bed, alice)
    again = await admin.expect_message(contains="An error occurred while handling update")
    assert "NetworkError" in text_of(again)
    assert "5 more errors like it since the last alert were held back." in text_of(again)
    await admin.expect_no_message(wait=0.5)


def test_error_kinds_ignore_ids_and_quoted_input() -> None:
    assert error_kind("ValueError: invalid literal for int() with base 10: '²'") == error_kind(
        "ValueError: invalid literal for int() with base 10: 'x9'"
    )
    assert error_kind("KeyError: 'report 17'") == error_kind("KeyError: 'report 4242'")
    assert error_kind("BadRequest: Message is too long") != error_kind("BadRequest: Chat not found")


def test_many_kinds_of_error_still_cannot_flood_the_admins() -> None:
    throttle = AlertThrottle(window=600.0, budget=10)
    sent = [throttle.admit(f"kind {index}", now=1000.0 + index) for index in range(50)]
    assert sent[:10] == [0] * 10 and sent[10:] == [None] * 40  # ten alerts in ten minutes, whatever the kinds
    assert throttle.admit("kind 0", now=1599.0) is None  # its own quiet time is not over yet
    assert throttle.admit("kind 0", now=1600.0) == 1  # then it is sent, with what was held back
    assert throttle.admit("kind 42", now=1601.0) == 1  # a held kind is sent once there is room, with its count
