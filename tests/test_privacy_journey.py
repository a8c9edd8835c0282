"""/forget and the retention job leave nothing behind: every table and column of the SQLite file is searched;
and the logs name cases, never the people who filed them.

The story: a resident files a report with their name shown, then an anonymous one, follows a vending spot, leaves
a third report unfinished and sends /forget. Afterwards no row anywhere (domain tables, reminders, the outbox,
python-telegram-bot's persistence) holds their Telegram id (as a number or inside any text or JSON), their first
name or their username, and the card already posted in the staff group reads "anonymous".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.cases import service, states
from bot.cases.states import ReportState
from bot.platform.db import Database
from bot.platform.logs import KeyValueFormatter
from tests.support.driver import Person, TestBed, eventually, inline_buttons, text_of
from tests.support.report_steps import walk_to
from tests.support.staff_steps import STAFF_GROUP, card_of, start_staff_bed, wait_for_card

RESIDENT_ID = 7951203411  # long enough that its digits cannot turn up by chance inside other values
NAME = "Zhaoyunxi"
USERNAME = "zyx_street_watch"


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


async def traces(db: Database, telegram_id: int, *words: str) -> list[str]:
    """Every table, column and row of the database that holds the id (as an integer or inside text) or a word."""
    needles = [str(telegram_id), *(word.casefold() for word in words)]
    found = []
    tables = await db.table_names()
    for table in sorted(tables):
        for row in await db.fetchall(f'SELECT * FROM "{table}"'):
            for column in row.keys():
                value = row[column]
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                hit = value == telegram_id if isinstance(value, int | float) else False
                if isinstance(value, str):
                    hit = any(needle in value.casefold() for needle in needles)
                if hit:
                    found.append(f"{table}.{column} = {value!r}")
    assert {"users", "ptb_conversations", "outbox"} <= tables  # the scan saw them
    return found


async def file_through_the_wizard(resident: Person, category: str, *, show_name: bool) -> None:
    card = await walk_to(resident, "review", category)
    if show_name:
        await resident.press(card, "Show my name to staff: no")
        card = await resident.expect_edit(card, "Your name is shown to staff.")
    await resident.press(card, "Submit")
    await resident.expect_message(contains="Your report number is")


async def follow_a_spot(resident: Person) -> None:
    await resident.send("🛒 Where can I sell?")
    choices = await resident.expect_message()
    await resident.press(choices, "Find a spot by name or street")
    await resident.expect_message(contains="Type part of a spot's name")
    await resident.send("Zhuankou night")
    listing = await resident.expect_message_among("Zhuankou night market point")
    await resident.press(listing, "Zhuankou night market point")
    page = await resident.expect_message()
    while not any("Remind me" in button["text"] for button in inline_buttons(page)):
        page = await resident.expect_message()  # the pin comes first
    await resident.expect_answer(await resident.press(page, "Remind me before it opens"))


async def test_forget_leaves_no_trace_in_any_table_and_the_posted_card_turns_anonymous(bed: TestBed) -> None:
    resident = bed.person(RESIDENT_ID, NAME, "en")
    resident.user["username"] = USERNAME
    room = bed.person(9001, "Admin", "en").in_group(bed.emulator.chats[STAFF_GROUP])

    await file_through_the_wizard(resident, "Exposed garbage", show_name=True)
    named = await bed.db.fetchone("SELECT id FROM reports WHERE anonymous = 0")
    card = await card_of(room, await states.get_report(bed.db, named["id"]))
    assert f"Reporter: {NAME}" in text_of(card)
    await file_through_the_wizard(resident, "Street light, road", show_name=False)
    await follow_a_spot(resident)
    # An unfinished report: a draft, its nudge and a conversation state.
    await walk_to(resident, "description", "Noise or cooking fumes")
    assert await bed.db.fetchone("SELECT 1 FROM subscriptions WHERE user_id = ?", (RESIDENT_ID,))
    assert await traces(bed.db, RESIDENT_ID, NAME, USERNAME)  # the scan finds them before

    await resident.send("/forget")
    question = await resident.expect_message(contains="Do you want us to delete your data?")
    await resident.expect_answer(await resident.press(question, "Yes, delete my data"))
    await resident.expect_edit(question, "your data has been deleted")

    card = await wait_for_card(bed, room, card, "Reporter: anonymous")
    assert NAME not in text_of(card)
    # Persistence writes every 0.2 s and the courier sends the edit: wait for both, then insist.
    await eventually(lambda: _clean(bed), timeout=8)
    await asyncio.sleep(0.6)  # three persistence rounds later, nothing has been written back
    assert await traces(bed.db, RESIDENT_ID, NAME, USERNAME) == []
    row = await bed.db.fetchone("SELECT COUNT(*) FROM reports WHERE reporter_id = 0 AND anonymous = 1")
    assert row[0] == 2  # the cases stay, anonymous, for the statistics


async def _clean(bed: TestBed) -> bool:
    return not await traces(bed.db, RESIDENT_ID, NAME, USERNAME)


ACCOUNT = {"users", "ptb_user_data", "ptb_chat_data", "ptb_conversations"}


async def test_retention_leaves_no_trace_of_the_person_in_old_cases(bed: TestBed) -> None:
    assert bed.services is not None and bed.settings is not None
    resident = bed.person(RESIDENT_ID, NAME, "en")
    resident.user["username"] = USERNAME
    room = bed.person(9001, "Admin", "en").in_group(bed.emulator.chats[STAFF_GROUP])
    await file_through_the_wizard(resident, "Exposed garbage", show_name=True)
    named = await states.get_report(bed.db, (await bed.db.fetchone("SELECT id FROM reports"))["id"])
    card = await card_of(room, named)
    async with bed.db.transaction() as conn:
        await service.apply_move(
            conn,
            named.id,
            RESIDENT_ID,
            ReportState.WITHDRAWN,
            "",
            bed.services.clock.now(),
            bed.desk,
            actor_role="resident",
        )
    card = await wait_for_card(bed, room, card, "State: withdrawn")

    await bed.services.advance_clock(timedelta(days=bed.settings.retention_days + 1))

    card = await wait_for_card(bed, room, card, "Reporter: anonymous")
    assert NAME not in text_of(card)

    async def only_the_account_is_left() -> bool:
        tables = {found.split(".")[0] for found in await traces(bed.db, RESIDENT_ID, NAME, USERNAME)}
        return tables <= ACCOUNT

    await eventually(only_the_account_is_left, timeout=8)
    left = await traces(bed.db, RESIDENT_ID, NAME, USERNAME)
    assert {found.split(".")[0] for found in left} <= ACCOUNT, left  # they still use the bot: only their account


async def test_info_logs_name_the_case_never_the_person(bed: TestBed, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    resident = bed.person(RESIDENT_ID, NAME, "en")
    await file_through_the_wizard(resident, "Exposed garbage", show_name=True)
    await file_through_the_wizard(resident, "Street light, road", show_name=False)
    await resident.send("/forget")
    question = await resident.expect_message(contains="Do you want us to delete your data?")
    await resident.expect_answer(await resident.press(question, "Yes, delete my data"))
    await resident.expect_edit(question, "your data has been deleted")

    numbers = [row["public_no"] for row in await bed.db.fetchall("SELECT public_no FROM reports ORDER BY id")]
    formatter = KeyValueFormatter()
    lines = [formatter.format(record) for record in caplog.records if record.levelno >= logging.INFO]
    assert all(any(number in line for line in lines) for number in numbers)  # the cases are logged
    assert [line for line in lines if str(RESIDENT_ID) in line or NAME in line] == []
    # The capture is not blind: at DEBUG the libraries log whole updates, id included.
    assert any(str(RESIDENT_ID) in formatter.format(record) for record in caplog.records)
