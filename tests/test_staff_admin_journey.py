"""Admins build the staff with one-time invites and /staff; staff close, reopen and move vending spots with /spot."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.vending import search, spots, subscriptions
from bot.vending.reminders import Timing
from tests.support.driver import Person, TestBed, inline_buttons, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, next_with, staff_env
from tests.test_vendor_journey import set_local_time


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env = staff_env("en")
    idle_bed.group(STAFF_GROUP, "City management staff")
    await idle_bed.start()
    yield idle_bed


@pytest.fixture
def admin(bed: TestBed) -> Person:
    return bed.person(ADMIN_ID, "Admin", "en")


async def invite(admin: Person, command: str) -> str:
    await admin.send(command)
    message = await admin.expect_message(contains="Invite for a new")
    match = re.search(r"start=(join-[A-Za-z0-9_-]{12})", text_of(message))
    assert match, text_of(message)
    return match.group(1)


async def role_of(bed: TestBed, user_id: int) -> str | None:
    row = await bed.db.fetchone("SELECT role FROM users WHERE telegram_id = ?", (user_id,))
    return None if row is None else str(row["role"])


async def test_an_officer_joins_by_deep_link_and_the_code_works_once(bed: TestBed, admin: Person) -> None:
    code = await invite(admin, "/invite officer wuhan-edz")
    link_message = admin.emulator.inbox[ADMIN_ID][-1]
    assert "in Wuhan Economic Development Zone" in text_of(link_message)
    assert f"https://t.me/city_service_bot?start={code}" in text_of(link_message)

    li = bed.person(6001, "Li", "en")
    await li.send(f"/start {code}")
    welcome = await li.expect_message(contains="Welcome to the team, Li! Your role: field officer.")
    assert "Your district: Wuhan Economic Development Zone." in text_of(welcome)
    await admin.expect_message(contains="Li has joined the staff as field officer.")
    assert await role_of(bed, li.id) == "officer"
    districts = await bed.db.fetchall("SELECT district FROM staff_districts WHERE telegram_id = ?", (li.id,))
    assert [row["district"] for row in districts] == ["wuhan-edz"]

    mallory = bed.person(6002, "Mallory", "en")
    await mallory.send(f"/join {code}")
    await mallory.expect_message(contains="already been used")
    assert await role_of(bed, mallory.id) == "resident"


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("expired", "This invite code expired on"),
        ("unknown", "This invite code is not valid."),
        ("empty", "Please send /join followed by the invite code"),
    ],
)
async def test_bad_invite_codes_get_a_clear_answer(bed: TestBed, admin: Person, how: str, expected: str) -> None:
    code = await invite(admin, "/invite dispatcher")
    assert bed.services is not None
    if how == "expired":
        bed.services.clock.advance(timedelta(days=2, seconds=1))
    command = {"expired": f"/join {code}", "unknown": "/join join-AAAAAAAAAAAA", "empty": "/join"}[how]
    newcomer = bed.person(6101, "Xu", "en")
    await newcomer.send(command)
    await newcomer.expect_message(contains=expected)
    assert await role_of(bed, newcomer.id) == "resident"


async def test_invite_usage_is_explained(bed: TestBed, admin: Person) -> None:
    for command in ("/invite", "/invite mayor", "/invite officer atlantis"):
        await admin.send(command)
        await admin.expect_message(contains="How to use /invite")
    assert await bed.db.fetchone("SELECT 1 FROM staff_invites") is None


async def test_chinese_role_names_work_too(bed: TestBed, admin: Person) -> None:
    await invite(admin, "/invite 调度员")
    row = await bed.db.fetchone("SELECT role FROM staff_invites")
    assert row["role"] == "dispatcher"


async def test_admin_lists_changes_and_removes_staff(bed: TestBed, admin: Person) -> None:
    li, wu = bed.person(6201, "Li", "en"), bed.person(6202, "Wu", "en")
    await enlist(bed, li, "officer", "wuhan-edz")
    await enlist(bed, wu, "dispatcher")
    await admin.send("/staff")
    listing = await next_with(admin, "The staff (3)")  # after the news of each colleague joining
    text = text_of(listing)
    assert "• Admin — administrator" in text and "• Wu — dispatcher" in text
    assert "• Li — field officer (Wuhan Economic Development Zone)" in text
    assert [b["text"] for b in inline_buttons(listing)] == ["Wu", "Li"]  # the configured admin is not changeable

    await admin.press(listing, "Li")
    await bed.emulator.wait_for(lambda: "Give them another role" in text_of(admin.current(listing)), 5)
    answer = await admin.expect_answer(await admin.press(admin.current(listing), "supervisor"))
    assert answer["text"] == "Li is now supervisor."
    assert await role_of(bed, li.id) == "supervisor"

    await bed.emulator.wait_for(lambda: "Li — supervisor" in text_of(admin.current(listing)), 5)
    await admin.press(admin.current(listing), "Remove from the staff")
    await bed.emulator.wait_for(lambda: "Remove Li from the staff?" in text_of(admin.current(listing)), 5)
    await admin.press(admin.current(listing), "Yes, remove Li")
    await bed.emulator.wait_for(lambda: "The staff (2)" in text_of(admin.current(listing)), 5)
    assert await role_of(bed, li.id) == "resident"
    assert await bed.db.fetchone("SELECT 1 FROM staff_districts WHERE telegram_id = ?", (li.id,)) is None

    # Removed now means refused now: Li's old buttons no longer work.
    report = await file_case(bed, 6203)
    room = li.in_group(bed.emulator.chats[STAFF_GROUP])
    card = await card_of(room, report)
    answer = await room.expect_answer(await room.press(card, "Accept"))
    assert answer["text"] == "Sorry, only city staff can do this."


async def test_admin_cannot_change_the_configured_admin_or_themselves(bed: TestBed, admin: Person) -> None:
    await admin.send("/staff")
    listing = await admin.expect_message(contains="The staff (1)")
    answer = await admin.expect_answer(await admin.press_data(listing, f"staff:role:{ADMIN_ID}:officer"))
    assert "set in the bot's settings" in answer["text"]


async def test_staff_close_reopen_and_move_spots_and_subscribers_hear_at_once(bed: TestBed, admin: Person) -> None:
    assert bed.services is not None
    services = bed.services
    dana = bed.person(6301, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    vendor = bed.person(6302, "Vendor", "en")
    first, second = await services.db.fetchall("SELECT id FROM spots WHERE status = 'open' ORDER BY id LIMIT 2")
    await subscriptions.subscribe(
        services.db, vendor.id, first["id"], "en", services.clock.now(), Timing.of(services.settings)
    )

    await dana.send(f"/spot close {first['id']} 3h road works")
    reply = await dana.expect_message(contains="is closed until")
    assert "1 subscribed vendor has been told." in text_of(reply)
    news = await vendor.expect_message(contains="is closed for now")
    assert "road works" in text_of(news)
    row = await services.db.fetchone("SELECT status, status_reason FROM spots WHERE id = ?", (first["id"],))
    assert (row["status"], row["status_reason"]) == ("closed_temporarily", "road works")

    await dana.send(f"/spot open {first['id']}")
    await dana.expect_message(contains="is open again")
    await vendor.expect_message(contains="is open again")

    await dana.send(f"/spot move {first['id']} {second['id']}")
    await dana.expect_message(contains="has moved to")
    await vendor.expect_message(contains="has moved to")
    row = await services.db.fetchone("SELECT status, relocated_to FROM spots WHERE id = ?", (first["id"],))
    assert (row["status"], row["relocated_to"]) == ("relocated", second["id"])


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/spot", "How to use /spot"),
        ("/spot paint 1", "How to use /spot"),
        ("/spot move 1", "How to use /spot"),
        ("/spot close 999999", "There is no vending spot with that number"),
        ("/spot close {first} 2000-01-01", "The closure must end in the future."),
        ("/spot close {first} 9999-12-31 r", "That date is out of range: dates go from Jan 1, 1970 to Dec 31, 2100."),
        ("/spot close {first} 0001-01-01T00:00 r", "That date is out of range"),
        ("/spot move {first} {first}", "A spot cannot move to itself."),
    ],
)
async def test_spot_command_mistakes(bed: TestBed, admin: Person, command: str, expected: str) -> None:
    row = await bed.db.fetchone("SELECT id FROM spots ORDER BY id LIMIT 1")
    await admin.send(command.format(first=row["id"]))
    await admin.expect_message(contains=expected)
    status = await bed.db.fetchone("SELECT status FROM spots WHERE id = ?", (row["id"],))
    assert status["status"] == "open"


async def test_a_closure_tells_subscribers_where_selling_could_start_soonest(bed: TestBed, admin: Person) -> None:
    """Monday 16:00: the Junshan St point (10.2 km) opens first, at 16:30, but on foot the vendor is there at 18:16;
    at Dongfeng Ave (2.8 km) selling can start at 17:00."""
    set_local_time(bed, 2026, 11, 23, 16, 0)
    assert bed.services is not None
    services = bed.services
    vendor = bed.person(6303, "摊主", "zh-hans")
    wh_001 = await spots.find_spot(services.db, "wh-001", services.clock.now(), services.timezone)
    await subscriptions.subscribe(
        services.db, vendor.id, wh_001.id, "zh_Hans", services.clock.now(), Timing.of(services.settings)
    )

    await admin.send("/spot close wh-001 2d 道路施工")
    await admin.expect_message(contains="1 subscribed vendor has been told.")
    news = text_of(await vendor.expect_message(contains="暂停开放"))
    assert "原因：道路施工" in news
    assert "附近最快能摆上摊的地方：东风大道水果疏导点，相距2.8公里（步行约38分钟）" in news
    assert "开放（11月23日 17:00）" in news
    assert "军山街" not in news and "最近" not in news


async def test_a_stall_card_offers_the_nearest_legal_spots(bed: TestBed, admin: Person) -> None:
    assert bed.services is not None
    services = bed.services
    room = admin.in_group(bed.emulator.chats[STAFF_GROUP])
    report = await file_case(bed, 6401, category="stall", description="A fruit stall blocks the crossing")
    card = await card_of(room, report)
    nearest = await search.nearest_open_spots(
        services.db, 30.48, 114.15, services.clock.now(), services.timezone, limit=3
    )
    text = text_of(card)
    if nearest.spots:
        assert "Legal vending spots to offer the vendor:" in text
        assert nearest.spots[0].spot.title("en") in text
    else:
        assert "No legal vending spot is known near this place." in text
