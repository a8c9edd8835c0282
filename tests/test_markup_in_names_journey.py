"""Markup in a Telegram name is only text: a user named ``<b>Boss`` or ``<a href="tg://user?id=1">Admin</a>`` gets
the menu and reads their name as they wrote it, wherever the bot shows it (greeting, staff card, /staff, joining)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.driver import Person, TestBed, keyboard_labels, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, start_staff_bed

NAMES = ["<b>Boss", '<a href="tg://user?id=1">Admin</a>', "Tom & <i>Jerry</i> &amp; co"]


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


def no_alarm(bed: TestBed, person: Person) -> None:
    for message in bed.emulator.inbox.get(person.id, []):
        assert "something went wrong" not in text_of(message)
    for message in bed.emulator.inbox.get(ADMIN_ID, []):
        assert "An error occurred" not in text_of(message)


@pytest.mark.parametrize("name", NAMES)
async def test_start_shows_the_menu_and_the_name_as_written(bed: TestBed, name: str) -> None:
    person = bed.person(6101, name, language_code="en")
    await person.send("/start")
    greeting = await person.expect_message()
    assert text_of(greeting).startswith(f"Hello, {name}! I am the city-service assistant")
    assert "📋 My reports" in keyboard_labels(greeting)
    await person.expect_no_message()
    no_alarm(bed, person)


async def test_staff_see_the_names_as_written(bed: TestBed) -> None:
    boss = bed.person(6102, NAMES[0], language_code="en")
    admin = bed.person(ADMIN_ID, "Admin", language_code="en")
    linker = bed.person(6103, NAMES[1], language_code="en")
    await boss.send("/start")
    await boss.expect_message()
    await linker.send("/start")
    await linker.expect_message()

    await enlist(bed, linker, "officer", "wuhan-edz")
    joined = await admin.expect_message(contains="has joined the staff")
    assert text_of(joined).startswith(f"🎟 {NAMES[1]} has joined the staff as")

    room = admin.in_group(bed.emulator.chats[STAFF_GROUP])
    report = await file_case(bed, boss.id, show_name=True)
    card = await card_of(room, report)
    assert f"Reporter: {NAMES[0]}" in text_of(card)

    await admin.send("/staff")
    listing = await admin.expect_message(contains="The staff")
    assert f"• {NAMES[1]} — field officer" in text_of(listing)
    no_alarm(bed, boss)
    no_alarm(bed, linker)
