"""Shared steps of the staff journeys: a staff group, colleagues with roles, cases filed behind the scenes."""

from __future__ import annotations

from typing import Any

from bot.cases import config, service
from bot.cases.drafts import Draft
from bot.cases.states import Report
from bot.people import staff
from bot.people.staff import Role
from tests.support.driver import DEFAULT_TIMEOUT, Person, TestBed, text_of

STAFF_GROUP = -100300400
ADMIN_ID = 9001
HOME = (30.48, 114.15)  # inside the sample city's Wuhan Economic Development Zone
DESCRIPTION = "Garbage bags piled up at the bus stop since Monday"


def staff_env(language: str = "en") -> dict[str, str]:
    return {"STAFF_CHAT_ID": str(STAFF_GROUP), "ADMIN_IDS": str(ADMIN_ID), "DEFAULT_LANGUAGE": language}


async def start_staff_bed(bed: TestBed, language: str = "en") -> TestBed:
    """The bot running with a staff group and an admin (who has written to it), in ``language``."""
    bed.env = staff_env(language)
    bed.group(STAFF_GROUP, "City management staff")
    bed.person(ADMIN_ID, "Admin", language)
    await bed.start()
    return bed


async def enlist(bed: TestBed, person: Person, role: str, district: str | None = None) -> None:
    """The admin invites the person, who joins with /join (in their own chat)."""
    assert bed.services is not None and bed.settings is not None
    services = bed.services
    invite = await staff.create_invite(
        services.db, ADMIN_ID, Role(role), district, services.clock.now(), bed.settings.admin_ids
    )
    await person.send(f"/join {invite.code}")
    await person.expect_message()
    person.read_all()


async def file_case(bed: TestBed, reporter: int, **changes: Any) -> Report:
    """A report filed through the core, as if the resident had just submitted the wizard."""
    assert bed.services is not None
    values: dict[str, Any] = {
        "category": "garbage",
        "lat": HOME[0],
        "lon": HOME[1],
        "district": "wuhan-edz",
        "description": DESCRIPTION,
        **changes,
    }
    services = bed.services
    policy = config.policy_from(
        services.settings, services.lang(services.settings.default_language), services.service_area
    )
    report = await service.submit(services.db, reporter, Draft(**values), services.clock.now(), policy)
    services.wake_outbox()
    return report


async def card_of(room: Person, report: Report, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The next card about the report in the room's chat (skipping the pins, photos and notes in between)."""
    while True:
        message = await room.expect_message(timeout=timeout)
        if report.public_no in text_of(message) and message.get("reply_markup") is not None:
            return message


async def wait_for_card(bed: TestBed, viewer: Person, card: dict[str, Any], text: str) -> dict[str, Any]:
    """Waits until the card (edited in place) shows ``text``; returns it as it is now."""
    await bed.emulator.wait_for(lambda: text in text_of(viewer.current(card)), 8)
    return viewer.current(card)


DESK_ROW = ("note:", "mod:")  # the notes and moderation buttons every card carries under its moves


def labels(message: dict[str, Any]) -> list[str]:
    """The card's move buttons (the desk row of notes and moderation left out: see desk_labels)."""
    markup = message.get("reply_markup") or {}
    return [
        button["text"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if not str(button.get("callback_data", "")).startswith(DESK_ROW)
    ]


def desk_labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [
        button["text"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if str(button.get("callback_data", "")).startswith(DESK_ROW)
    ]


async def next_with(person: Person, text: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The next message in the person's chat that contains ``text`` (pins and photos in between are skipped)."""
    while True:
        message = await person.expect_message(timeout=timeout)
        if text in text_of(message):
            return message
