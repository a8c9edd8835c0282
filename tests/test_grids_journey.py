"""Grids route cases to the right officer, in each AUTO_DISPATCH mode: the card names the case's grid; `off` leaves
dispatching as it was, `suggest` proposes the grid's officer first, `on` sends an accepted case straight to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.people import staff
from bot.people.staff import Role
from bot.platform.config import load_settings
from tests.support.driver import Person, TestBed, text_of
from tests.support.grid_steps import east_of, load_grids, two_grids
from tests.support.staff_steps import (
    ADMIN_ID,
    HOME,
    STAFF_GROUP,
    card_of,
    enlist,
    file_case,
    labels,
    staff_env,
    wait_for_card,
)
from tests.test_process import bot_env


async def start_desk(bed: TestBed, tmp_path: Path, mode: str, language: str = "en") -> dict[str, Person]:
    """The bot with AUTO_DISPATCH=mode; a dispatcher, two officers of the district (Li answers for both grids,
    named in the grids file by his @username) and a resident."""
    bed.env = {**staff_env(language), "AUTO_DISPATCH": mode}
    bed.group(STAFF_GROUP, "City management staff")
    bed.person(ADMIN_ID, "Admin", language)
    await bed.start()
    code = "zh-hans" if language == "zh_Hans" else "en"
    dana = bed.person(9101, "Dana", code)
    await enlist(bed, dana, "dispatcher")
    li_user = bed.emulator.add_user(9201, "Li", code, username="li_grid")
    li = Person(bed.emulator, li_user, bed.emulator.chats[9201])
    await enlist(bed, li, "officer", "wuhan-edz")
    adam = bed.person(9202, "Adam", code)  # first by name among the district's officers
    await enlist(bed, adam, "officer", "wuhan-edz")
    await load_grids(bed.db, tmp_path, *two_grids())  # what `python -m bot grids import` does
    alice_user = bed.emulator.add_user(5001, "Alice", code, username="alice_w")
    alice = Person(bed.emulator, alice_user, bed.emulator.chats[5001])
    await alice.send("/start")
    await alice.expect_message()
    alice.read_all()
    return {"room": dana.in_group(bed.emulator.chats[STAFF_GROUP]), "li": li, "adam": adam, "alice": alice}


async def events_of(bed: TestBed, report_id: int) -> list[tuple[str, int | None, str, int]]:
    rows = await bed.db.fetchall(
        "SELECT to_state, actor_id, actor_role, public FROM report_events WHERE report_id = ? ORDER BY id",
        (report_id,),
    )
    return [(row["to_state"], row["actor_id"], row["actor_role"], row["public"]) for row in rows]


async def test_off_dispatching_is_as_before(idle_bed: TestBed, tmp_path: Path) -> None:
    bed = idle_bed
    people = await start_desk(bed, tmp_path, "off")
    room, li = people["room"], people["li"]
    report = await file_case(bed, people["alice"].id)
    card = await card_of(room, report)
    assert "Grid: 沌口网格" in text_of(card)  # the card names the grid whatever the mode
    await room.expect_answer(await room.press(card, "Accept"))
    card = await wait_for_card(bed, room, card, "State: accepted")
    await room.press(card, "Dispatch")
    await bed.emulator.wait_for(lambda: "👮 Li (Wuhan Economic Development Zone)" in labels(room.current(card)), 5)
    offered = labels(room.current(card))
    assert offered[0].startswith("👮 Adam") and not any("⭐" in label for label in offered)
    await li.expect_no_message(wait=0.3)
    row = await bed.db.fetchone("SELECT state, assignee, grid FROM reports WHERE id = ?", (report.id,))
    assert (row["state"], row["assignee"], row["grid"]) == ("accepted", None, "edz-01")
    # Only staff's @usernames are kept (the grids file names officers by them); a resident's never is.
    usernames = await bed.db.fetchall("SELECT telegram_id, username FROM users WHERE telegram_id IN (5001, 9201)")
    assert {row["telegram_id"]: row["username"] for row in usernames} == {5001: None, 9201: "li_grid"}


async def test_suggest_proposes_the_grids_officer_first(idle_bed: TestBed, tmp_path: Path) -> None:
    bed = idle_bed
    people = await start_desk(bed, tmp_path, "suggest", "zh_Hans")
    room, li, adam = people["room"], people["li"], people["adam"]
    report = await file_case(bed, people["alice"].id)
    card = await card_of(room, report)
    assert "网格：沌口网格" in text_of(card)
    await room.expect_answer(await room.press(card, "受理"))
    card = await wait_for_card(bed, room, card, "已受理")
    await li.expect_no_message(wait=0.3)  # nothing is sent before someone chooses
    await room.press(card, "派遣")
    await bed.emulator.wait_for(lambda: "⭐ Li（本网格网格员）" in labels(room.current(card)), 5)
    offered = labels(room.current(card))
    assert offered[0] == "⭐ Li（本网格网格员）" and offered[1].startswith("👮 Adam")
    await room.press(room.current(card), "⭐ Li")
    await wait_for_card(bed, room, card, "处置队员：Li")
    mine = await li.expect_message(contains=report.public_no)
    assert "网格：沌口网格" in text_of(mine)
    await adam.expect_no_message(wait=0.3)
    assert await events_of(bed, report.id) == [
        ("submitted", people["alice"].id, "resident", 1),
        ("accepted", 9101, "dispatcher", 1),
        ("dispatched", 9101, "dispatcher", 1),  # chosen by the dispatcher, not by the system
    ]


async def test_on_sends_an_accepted_case_straight_to_the_grids_officer(idle_bed: TestBed, tmp_path: Path) -> None:
    bed = idle_bed
    people = await start_desk(bed, tmp_path, "on")
    room, li, adam, alice = people["room"], people["li"], people["adam"], people["alice"]
    report = await file_case(bed, alice.id)
    card = await card_of(room, report)
    assert "Grid: 沌口网格" in text_of(card) and "State: submitted" in text_of(card)

    answer = await room.expect_answer(await room.press(card, "Accept"))
    assert "sent to an officer" in answer["text"]
    card = await wait_for_card(bed, room, card, "State: sent to an officer")
    assert "Officer: Li" in text_of(card)
    assert "the system: Sent automatically to the officer of grid 沌口网格." in text_of(card)
    mine = await li.expect_message(contains="has been sent to you")  # told privately, with his buttons
    assert labels(mine) == ["▶️ Start", "🛠 Resolve", "↪️ Return"] and "Grid: 沌口网格" in text_of(mine)
    await alice.expect_message(contains="has been accepted")
    told = await alice.expect_message(contains="passed to a field officer")
    assert "Sent automatically" not in text_of(told) and "沌口" not in text_of(told)
    await adam.expect_no_message(wait=0.3)
    row = await bed.db.fetchone("SELECT state, assignee FROM reports WHERE id = ?", (report.id,))
    assert (row["state"], row["assignee"]) == ("dispatched", li.id)
    assert await events_of(bed, report.id) == [
        ("submitted", alice.id, "resident", 1),
        ("accepted", 9101, "dispatcher", 1),
        ("dispatched", None, "system", 0),  # audited: the system did it, and its note is for staff only
    ]

    # The officer carries on from his private copy, as with any dispatched case.
    await li.expect_answer(await li.press(mine, "Start"))
    await wait_for_card(bed, room, card, "State: being handled")


async def test_on_leaves_a_case_without_a_grid_officer_to_the_dispatcher(idle_bed: TestBed, tmp_path: Path) -> None:
    bed = idle_bed
    people = await start_desk(bed, tmp_path, "on")
    room, li = people["room"], people["li"]
    lat, lon = east_of((30.48, 114.16), 480)  # 480 m from both grids: in none
    outside = await file_case(bed, people["alice"].id, lat=lat, lon=lon)
    card = await card_of(room, outside)
    assert "Grid:" not in text_of(card)
    await room.expect_answer(await room.press(card, "Accept"))
    card = await wait_for_card(bed, room, card, "State: accepted")
    assert labels(card)[0] == "👮 Dispatch"

    # Li is no longer a field officer: a case in his grid waits for the dispatcher too.
    await staff.set_role(bed.db, ADMIN_ID, li.id, Role.DISPATCHER, bed.services.clock.now(), frozenset({ADMIN_ID}))  # type: ignore[union-attr]
    inside = await file_case(bed, people["alice"].id, lat=HOME[0], lon=HOME[1])
    card = await card_of(room, inside)
    await room.expect_answer(await room.press(card, "Accept"))
    card = await wait_for_card(bed, room, card, "State: accepted")
    await li.expect_no_message(wait=0.3)
    rows = await bed.db.fetchall("SELECT state, assignee FROM reports ORDER BY id")
    assert [(row["state"], row["assignee"]) for row in rows] == [("accepted", None), ("accepted", None)]


def test_auto_dispatch_defaults_to_suggest_and_a_wrong_value_is_one_clear_line(tmp_path: Path) -> None:
    token = "123456:" + "A" * 30
    assert load_settings({"BOT_TOKEN": token}, env_file=None).auto_dispatch == "suggest"
    assert load_settings({"BOT_TOKEN": token, "AUTO_DISPATCH": " ON "}, env_file=None).auto_dispatch == "on"
    env = bot_env(BOT_TOKEN=token, DATABASE_PATH=str(tmp_path / "bot.sqlite3"), AUTO_DISPATCH="sometimes")
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: AUTO_DISPATCH is invalid: 'sometimes' is not a dispatch mode; use off, suggest or on"
    )
