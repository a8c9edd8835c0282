"""Every staff action is checked against the person's role at that moment: the refused attempts, one by one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.people import staff
from tests.support.driver import Person, TestBed, text_of
from tests.support.staff_steps import (
    ADMIN_ID,
    STAFF_GROUP,
    card_of,
    enlist,
    file_case,
    labels,
    next_with,
    start_staff_bed,
    wait_for_card,
)


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


def in_group(bed: TestBed, person: Person) -> Person:
    return person.in_group(bed.emulator.chats[STAFF_GROUP])


async def state_of(bed: TestBed, report_id: int) -> str:
    row = await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report_id,))
    return str(row["state"])


async def test_a_resident_in_the_group_cannot_press_staff_buttons(
    bed: TestBed, caplog: pytest.LogCaptureFixture
) -> None:
    nosy = in_group(bed, bed.person(5101, "Nosy", "en"))
    report = await file_case(bed, 5102)
    card = await card_of(nosy, report)
    with caplog.at_level(logging.WARNING, logger="bot.people.staff"):
        answer = await nosy.expect_answer(await nosy.press(card, "Accept"))
    assert answer == {"text": "Sorry, only city staff can do this.", "show_alert": True}
    assert await state_of(bed, report.id) == "submitted"
    assert any("user 5101" in r.getMessage() and "accept" in r.getMessage() for r in caplog.records)


async def test_an_officer_cannot_accept_or_close(bed: TestBed) -> None:
    li = bed.person(5201, "Li", "en")
    await enlist(bed, li, "officer")
    room = in_group(bed, li)
    report = await file_case(bed, 5202)
    card = await card_of(room, report)
    for button in ("Accept", "Reject"):
        answer = await room.expect_answer(await room.press(card, button))
        assert answer["text"] == "Sorry, your role (field officer) cannot do this."
    assert await state_of(bed, report.id) == "submitted"
    assert await bed.db.fetchone("SELECT 1 FROM staff_prompts") is None  # no question was asked


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("case:accept:999999:submitted", "This button is not valid"),
        # data the bot never makes (bot.wire refuses it): the stale-button answer
        ("case:explode:{id}:submitted", "This button is no longer active"),
        ("case:accept:{id}:no_such_state", "This button is no longer active"),
        ("case:accept:abc:submitted", "This button is no longer active"),
        ("case:to:{id}:submitted", "This button is no longer active"),
        ("case:accept:{id}:submitted:extra", "This button is no longer active"),
        ("case:close:{id}:accepted", "Someone was quicker"),
        ("case:close:{id}:submitted", "cannot be done while case"),
        ("case:to:{id}:submitted:5301", "no longer a field officer"),
    ],
)
async def test_forged_case_buttons_are_refused(bed: TestBed, data: str, expected: str) -> None:
    dana = bed.person(5301, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    room = in_group(bed, dana)
    report = await file_case(bed, 5302)
    card = await card_of(room, report)
    answer = await room.expect_answer(await room.press_data(card, data.format(id=report.id)))
    assert expected in answer["text"] and answer["show_alert"]
    assert await state_of(bed, report.id) == "submitted"


async def test_an_old_button_after_a_restart_is_told_the_case_moved_on(bed: TestBed) -> None:
    dana = bed.person(5401, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    room = in_group(bed, dana)
    report = await file_case(bed, 5402)
    card = await card_of(room, report)
    stale_copy = dict(card)  # the card as another client still shows it
    await room.expect_answer(await room.press(card, "Accept"))
    await wait_for_card(bed, room, card, "State: accepted")

    await bed.restart()
    answer = await room.expect_answer(await room.press(stale_copy, "Reject"))
    assert "Someone was quicker" in answer["text"] and "already “accepted”" in answer["text"]
    assert await state_of(bed, report.id) == "accepted"


async def test_a_question_survives_a_restart_and_only_the_asked_person_answers(bed: TestBed) -> None:
    dana, sam = bed.person(5501, "Dana", "en"), bed.person(5502, "Sam", "en")
    await enlist(bed, dana, "dispatcher")
    await enlist(bed, sam, "dispatcher")
    dana_room, sam_room = in_group(bed, dana), in_group(bed, sam)
    report = await file_case(bed, 5503)
    card = await card_of(dana_room, report)
    await dana_room.press(card, "Reject")
    question = await next_with(dana_room, "why is case")

    await bed.restart()
    sam_room.read_all()
    await sam_room.send("Not our job at all", reply_to=question)
    refused = await sam_room.expect_message(contains="This question is for the colleague who pressed the button")
    assert refused["reply_to_message"]["from"]["id"] == sam.id
    assert await state_of(bed, report.id) == "submitted"

    dana_room.read_all()
    await dana_room.send("Reported twice by mistake", reply_to=question)
    await dana_room.expect_message(contains="now “not accepted”")
    assert await state_of(bed, report.id) == "rejected"


async def test_a_role_taken_away_between_question_and_answer_counts(bed: TestBed) -> None:
    dana = bed.person(5601, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    room = in_group(bed, dana)
    report = await file_case(bed, 5602)
    card = await card_of(room, report)
    await room.press(card, "Return")
    question = await next_with(room, "which department")
    assert bed.services is not None and bed.settings is not None
    await staff.remove_member(bed.db, ADMIN_ID, dana.id, bed.services.clock.now(), bed.settings.admin_ids)

    await room.send("Water company", reply_to=question)
    await room.expect_message(contains="Sorry, only city staff can do this.")
    assert await state_of(bed, report.id) == "submitted"
    assert await bed.db.fetchone("SELECT 1 FROM staff_prompts") is None


async def test_only_the_assigned_officer_may_work_the_case(bed: TestBed) -> None:
    dana, li, wu = bed.person(5701, "Dana", "en"), bed.person(5702, "Li", "en"), bed.person(5703, "Wu", "en")
    await enlist(bed, dana, "dispatcher")
    await enlist(bed, li, "officer")
    await enlist(bed, wu, "officer")
    room = in_group(bed, dana)
    report = await file_case(bed, 5704)
    card = await card_of(room, report)
    await room.press(card, "Accept")
    card = await wait_for_card(bed, room, card, "State: accepted")
    await room.press(card, "Dispatch")
    await bed.emulator.wait_for(lambda: "👮 Li" in labels(room.current(card)), 5)
    await room.press(room.current(card), "Li")
    mine = await li.expect_message(contains="has been sent to you")

    wu.read_all()
    answer = await wu.expect_answer(await wu.press_data(mine, f"case:start:{report.id}:dispatched"))
    assert answer["text"] == "Sorry, only the officer this case was sent to can do this."
    answer = await li.expect_answer(await li.press(mine, "Start"))
    assert "now “being handled”" in answer["text"]
    assert await state_of(bed, report.id) == "in_progress"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/invite officer", "Sorry, only city staff can do this."),
        ("/staff", "Sorry, only city staff can do this."),
        ("/spot close 1 2h roadworks", "Sorry, only city staff can do this."),
    ],
)
async def test_staff_commands_refuse_residents(bed: TestBed, command: str, expected: str) -> None:
    resident = bed.person(5801, "Mei", "en")
    await resident.send(command)
    assert text_of(await resident.expect_message()) == expected
    assert await bed.db.fetchone("SELECT 1 FROM staff_invites") is None


async def test_a_dispatcher_cannot_invite_or_manage_staff(bed: TestBed) -> None:
    dana = bed.person(5901, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    await dana.send("/invite officer")
    await dana.expect_message(contains="Sorry, your role (dispatcher) cannot do this.")
    await dana.send("/staff")
    refused = await dana.expect_message(contains="Sorry, your role (dispatcher) cannot do this.")
    answer = await dana.expect_answer(await dana.press_data(refused, f"staff:role:{dana.id}:admin"))
    assert answer["text"] == "Sorry, your role (dispatcher) cannot do this."
    row = await bed.db.fetchone("SELECT role FROM users WHERE telegram_id = ?", (dana.id,))
    assert row["role"] == "dispatcher"
