"""Every staff action and staff command, tried by people who may not: residents, staff of a lower role, officers
the case was not sent to, and replayed buttons after a role was taken away. Each is refused with a clear answer,
logged as refused, and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.cases import config, moves, service
from bot.cases.card import button_data
from bot.cases.states import ReportState
from bot.people import staff
from bot.people.staff import Action
from tests.support.driver import Person, TestBed, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, start_staff_bed

NOT_STAFF = "Sorry, only city staff can do this."
OFFICER_ROLE = "Sorry, your role (field officer) cannot do this."
DISPATCHER_ROLE = "Sorry, your role (dispatcher) cannot do this."
NOT_ASSIGNEE = "Sorry, only the officer this case was sent to can do this."
RESIDENT, OFFICER, OTHER_OFFICER, DISPATCHER = 6201, 6202, 6203, 6204


@dataclass(frozen=True)
class Attempt:
    """Who tries what: a case button (``press``, with the state the case is in) or a command (``send``)."""

    who: int
    press: str = ""  # the case button's action, made as the bot makes it
    case_state: str = "submitted"  # submitted, or dispatched to OFFICER
    send: str = ""
    expected: str = NOT_STAFF


CASE_BUTTONS = [
    *(Attempt(RESIDENT, press=a) for a in ("accept", "reject", "duplicate", "return", "dispatch", "close")),
    *(Attempt(OFFICER, press=a, expected=OFFICER_ROLE) for a in ("accept", "reject", "duplicate", "dispatch")),
    Attempt(OFFICER, press="to", expected=OFFICER_ROLE),
    *(
        Attempt(OTHER_OFFICER, press=a, case_state="dispatched", expected=NOT_ASSIGNEE)
        for a in ("start", "resolve", "return")
    ),
    *(Attempt(RESIDENT, press=a, case_state="dispatched") for a in ("start", "resolve")),
]
COMMANDS = [
    Attempt(RESIDENT, send="/invite officer"),
    Attempt(OFFICER, send="/invite officer", expected=OFFICER_ROLE),
    Attempt(DISPATCHER, send="/invite admin", expected=DISPATCHER_ROLE),
    Attempt(RESIDENT, send="/staff"),
    Attempt(OFFICER, send="/staff", expected=OFFICER_ROLE),
    Attempt(DISPATCHER, send="/staff", expected=DISPATCHER_ROLE),
    Attempt(RESIDENT, send="/spot close 1 2h road works"),
    Attempt(RESIDENT, send="/spot open 1"),
    Attempt(RESIDENT, send="/spot move 1 2"),
    Attempt(RESIDENT, send="/stats"),
    Attempt(RESIDENT, send="/export"),
]
STAFF_BUTTONS = [  # the /staff list's buttons, pressed by someone who is not an admin (data forged or replayed)
    Attempt(DISPATCHER, press="staff:role:6202:admin", expected=DISPATCHER_ROLE),
    Attempt(OFFICER, press="staff:removed:6204", expected=OFFICER_ROLE),
    Attempt(RESIDENT, press="staff:show:6202"),
    Attempt(RESIDENT, press="staff:list"),
]


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    for user_id, name, role in ((OFFICER, "Li", "officer"), (OTHER_OFFICER, "Ma", "officer")):
        await enlist(idle_bed, idle_bed.person(user_id, name, "en"), role)
    await enlist(idle_bed, idle_bed.person(DISPATCHER, "Dana", "en"), "dispatcher")
    idle_bed.person(RESIDENT, "Nosy", "en")
    yield idle_bed


def person(bed: TestBed, user_id: int) -> Person:
    return Person(bed.emulator, bed.emulator.users[user_id], bed.emulator.chats[user_id])


async def snapshot(bed: TestBed) -> tuple[object, ...]:
    """Everything a refused attempt must leave as it was."""
    cases = await bed.db.fetchall("SELECT id, state, assignee FROM reports ORDER BY id")
    roles = await bed.db.fetchall("SELECT telegram_id, role FROM users WHERE role <> 'resident' ORDER BY telegram_id")
    invites = await bed.db.fetchone("SELECT COUNT(*) FROM staff_invites")
    spots = await bed.db.fetchall("SELECT id, status FROM spots ORDER BY id")
    events = await bed.db.fetchone("SELECT COUNT(*) FROM report_events")
    return tuple(map(tuple, cases)), tuple(map(tuple, roles)), invites[0], tuple(map(tuple, spots)), events[0]


def refused_in_log(caplog: pytest.LogCaptureFixture, user_id: int) -> bool:
    return any("refused" in r.getMessage() and str(user_id) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("attempt", CASE_BUTTONS, ids=lambda a: f"{a.who}-{a.press}-{a.case_state}")
async def test_case_buttons_are_refused(bed: TestBed, attempt: Attempt, caplog: pytest.LogCaptureFixture) -> None:
    report = await file_case(bed, 6299)
    room = person(bed, attempt.who).in_group(bed.emulator.chats[STAFF_GROUP])
    card = await card_of(room, report)
    state = ReportState(attempt.case_state)
    if state == ReportState.DISPATCHED:
        assert bed.services is not None and bed.settings is not None
        desk = config.desk_from(bed.settings, bed.services.service_area)
        now = bed.services.clock.now()
        await service.move(bed.db, ADMIN_ID, Action.ACCEPT, report.id, ReportState.SUBMITTED, now, desk)
        await service.move(
            bed.db, ADMIN_ID, Action.DISPATCH, report.id, ReportState.ACCEPTED, now, desk, officer_id=OFFICER
        )
    extra = (OFFICER,) if attempt.press == "to" else ()
    data = button_data(attempt.press, report.id, state, *extra)
    before = await snapshot(bed)
    with caplog.at_level(logging.WARNING):
        answer = await room.expect_answer(await room.press_data(card, data))
    assert answer == {"text": attempt.expected, "show_alert": True}
    assert await snapshot(bed) == before
    assert await bed.db.fetchone("SELECT 1 FROM staff_prompts") is None  # no question was even asked
    assert refused_in_log(caplog, attempt.who)


@pytest.mark.parametrize("attempt", COMMANDS, ids=lambda a: f"{a.who}-{a.send}")
async def test_staff_commands_are_refused(bed: TestBed, attempt: Attempt, caplog: pytest.LogCaptureFixture) -> None:
    someone = person(bed, attempt.who)
    someone.read_all()
    before = await snapshot(bed)
    with caplog.at_level(logging.WARNING):
        await someone.send(attempt.send)
        reply = await someone.expect_message()
    assert text_of(reply) == attempt.expected
    assert await snapshot(bed) == before
    assert not bed.emulator.calls_of("sendDocument")  # no export slipped out
    assert refused_in_log(caplog, attempt.who)


@pytest.mark.parametrize("attempt", STAFF_BUTTONS, ids=lambda a: f"{a.who}-{a.press}")
async def test_staff_list_buttons_are_refused(bed: TestBed, attempt: Attempt, caplog: pytest.LogCaptureFixture) -> None:
    someone = person(bed, attempt.who)
    await someone.send("/help")
    message = await someone.expect_message()
    before = await snapshot(bed)
    with caplog.at_level(logging.WARNING):
        answer = await someone.expect_answer(await someone.press_data(message, attempt.press))
    assert answer == {"text": attempt.expected, "show_alert": True}
    assert await snapshot(bed) == before
    assert refused_in_log(caplog, attempt.who)


async def test_a_button_replayed_after_the_role_was_taken_away_is_refused(
    bed: TestBed, caplog: pytest.LogCaptureFixture
) -> None:
    report = await file_case(bed, 6298)
    room = person(bed, DISPATCHER).in_group(bed.emulator.chats[STAFF_GROUP])
    card = await card_of(room, report)
    assert bed.services is not None and bed.settings is not None
    await staff.remove_member(bed.db, ADMIN_ID, DISPATCHER, bed.services.clock.now(), bed.settings.admin_ids)
    with caplog.at_level(logging.WARNING):
        answer = await room.expect_answer(await room.press(card, "Accept"))  # the button is still on their screen
    assert answer["text"] == NOT_STAFF
    row = await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report.id,))
    assert row["state"] == "submitted"
    assert refused_in_log(caplog, DISPATCHER)


def test_the_table_covers_every_staff_action() -> None:
    tried = {attempt.press for attempt in CASE_BUTTONS}
    assert {action.value for action in moves.CASE_ACTIONS} <= tried | {"to"}
    commands = {attempt.send.split()[0] for attempt in COMMANDS}
    assert commands == {"/invite", "/staff", "/spot", "/stats", "/export"}
    assert {Action.INVITE, Action.MANAGE_STAFF, Action.MANAGE_SPOTS} <= set(staff.PERMISSIONS)
