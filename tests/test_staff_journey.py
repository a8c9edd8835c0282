"""Staff move a case through the 数字城管 workflow from Telegram: the card, its buttons, the officer, the resident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from bot.cases import config, service
from bot.cases.states import STATE_NAMES, ReportState
from bot.platform.i18n import get_lang
from tests.support.driver import Person, TestBed, text_of
from tests.support.report_steps import walk_to
from tests.support.staff_steps import (
    ADMIN_ID,
    STAFF_GROUP,
    card_of,
    enlist,
    file_case,
    labels,
    next_with,
    staff_env,
    start_staff_bed,
    wait_for_card,
)


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


async def colleague(bed: TestBed, user_id: int, name: str, role: str, district: str | None = None) -> Person:
    person = bed.person(user_id, name, "en")
    await enlist(bed, person, role, district)
    return person


def in_group(bed: TestBed, person: Person) -> Person:
    return person.in_group(bed.emulator.chats[STAFF_GROUP])


async def test_a_case_from_report_to_close(bed: TestBed) -> None:
    dana = await colleague(bed, 9101, "Dana", "dispatcher")
    li = await colleague(bed, 9201, "Li", "officer", "wuhan-edz")
    alice = bed.person(5001, "Alice", "en")
    await alice.send("/start")
    await alice.expect_message()
    room = in_group(bed, dana)

    photos = [bed.emulator.new_file("photo").file_id for _ in range(2)]
    report = await file_case(bed, alice.id, photos=photos, show_name=True)
    card = await card_of(room, report)
    text = text_of(card)
    for line in (
        "🆕 New report",
        "Exposed garbage",
        "Wuhan Economic Development Zone",
        "since Monday",
        "Photos: 2",
        "1 resident follows it",
        "Reporter: Alice",
        "State: submitted",
    ):
        assert line in text
    assert labels(card) == ["✅ Accept", "❌ Reject", "🔁 Duplicate of…", "↪️ Return"]
    pin, album = await room.expect_message(), await room.expect_message()
    assert pin["venue"]["title"].startswith(report.public_no) and pin["location"]["latitude"] == 30.48
    assert album["media_group_id"] and "Photos of case" in text_of(album)

    # 立案: accepted, the card is edited in place and the resident hears of it.
    answer = await room.expect_answer(await room.press(card, "Accept"))
    assert "now “accepted”" in answer["text"]
    card = await wait_for_card(bed, room, card, "State: accepted")
    assert "accepted — Dana" in text_of(card)
    assert labels(card) == ["👮 Dispatch", "🛠 Resolve", "🔁 Duplicate of…", "↪️ Return"]
    told = await alice.expect_message(contains=f"Your report {report.public_no}")
    assert "has been accepted" in text_of(told) and "Dana" not in text_of(told)

    # 派遣: the officers of the district are offered; the chosen one gets the case in a private message.
    await room.press(card, "Dispatch")
    await bed.emulator.wait_for(lambda: "👮 Li (Wuhan Economic Development Zone)" in labels(room.current(card)), 5)
    await room.press(room.current(card), "Li")
    card = await wait_for_card(bed, room, card, "State: sent to an officer")
    assert "Officer: Li" in text_of(card) and labels(card) == ["🛠 Resolve", "↪️ Return"]
    mine = await li.expect_message(contains="has been sent to you")
    assert labels(mine) == ["▶️ Start", "🛠 Resolve", "↪️ Return"]
    assert "Reporter: Alice" in text_of(mine)
    assert (await li.expect_message())["venue"]["title"].startswith(report.public_no)
    assert len(await li.expect_messages(2)) == 2  # the photos, as one album
    await alice.expect_message(contains="passed to a field officer")

    # 处置: the officer starts, then resolves with a note and an after-photo, from the private chat.
    await li.expect_answer(await li.press(mine, "Start"))
    card = await wait_for_card(bed, room, card, "State: being handled")
    mine = await wait_for_card(bed, li, mine, "State: being handled")
    assert labels(mine) == ["🛠 Resolve", "↪️ Return"]
    await li.press(mine, "Resolve")
    question = await li.expect_message(contains="what was done about case")
    assert question["_keyboard"]["force_reply"] is True
    after = await li.send_photo(caption="Bags removed and the stop swept clean", reply_to=question)
    await li.expect_message(contains="now “resolved”")
    card = await wait_for_card(bed, room, card, "State: resolved")
    assert "resolved — Li: Bags removed" in text_of(card) and labels(card) == ["🏁 Close"]
    news = await alice.expect_message(contains="has been handled")
    assert "Bags removed and the stop swept clean" in text_of(news)
    assert news["photo"][0]["file_id"] == after["photo"][0]["file_id"]

    await alice.expect_message(contains="Is it really fixed?")  # 核查, by the follow-ups

    # 结案: the dispatcher closes; nothing is left to press.
    await room.press(card, "Close")
    card = await wait_for_card(bed, room, card, "State: closed")
    assert labels(card) == []
    await alice.expect_message(contains="is now closed")

    events = await bed.db.fetchall(
        "SELECT to_state, actor_id, actor_role, note FROM report_events WHERE report_id = ? ORDER BY id", (report.id,)
    )
    assert [(e["to_state"], e["actor_id"], e["actor_role"]) for e in events] == [
        ("submitted", alice.id, "resident"),
        ("accepted", dana.id, "dispatcher"),
        ("dispatched", dana.id, "dispatcher"),
        ("in_progress", li.id, "officer"),
        ("resolved", li.id, "officer"),
        ("closed", dana.id, "dispatcher"),
    ]
    assert events[4]["note"] == "Bags removed and the stop swept clean"
    row = await bed.db.fetchone("SELECT state, assignee FROM reports WHERE id = ?", (report.id,))
    assert (row["state"], row["assignee"]) == ("closed", li.id)
    photo = await bed.db.fetchone(
        "SELECT file_id FROM report_photos WHERE report_id = ? AND kind = 'after'", (report.id,)
    )
    assert photo["file_id"] == after["photo"][0]["file_id"]
    assert await bed.db.fetchone("SELECT 1 FROM staff_prompts") is None
    assert ADMIN_ID not in (e["actor_id"] for e in events)


@pytest.mark.parametrize(
    ("button", "answer", "state", "resident_hears"),
    [
        ("Reject", "A photo of a private courtyard, not a public space", "rejected", "could not be taken on"),
        ("Return", "District housing authority (private estate)", "returned", "passed to the body responsible"),
    ],
)
async def test_reject_and_return_ask_a_reason_the_resident_reads(
    bed: TestBed, button: str, answer: str, state: str, resident_hears: str
) -> None:
    dana = await colleague(bed, 9102, "Dana", "dispatcher")
    bob = bed.person(5002, "Bob", "en")
    room = in_group(bed, dana)
    report = await file_case(bed, bob.id)
    card = await card_of(room, report)

    toast = await room.expect_answer(await room.press(card, button))
    assert "reply to my question" in toast["text"]
    question = await next_with(room, f"case {report.public_no}")
    assert '<a href="tg://user?id=9102">' not in text_of(question)  # the mention is rendered, not shown as HTML
    assert question["reply_to_message"]["message_id"] == card["message_id"]
    await room.send("x", reply_to=question)
    await room.expect_message(contains="between 2 and 500 characters")  # too short: asked again, nothing moved
    row = await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report.id,))
    assert row["state"] == "submitted"

    await room.send(answer, reply_to=question)
    await room.expect_message(contains=f"now “{reports_state_name(state)}”")
    card = await wait_for_card(bed, room, card, f"State: {reports_state_name(state)}")
    assert labels(card) == [] and answer in text_of(card)
    told = await bob.expect_message(contains=resident_hears)
    assert answer in text_of(told)
    event = await bed.db.fetchone("SELECT to_state, note, public FROM report_events ORDER BY id DESC LIMIT 1")
    assert (event["to_state"], event["note"], event["public"]) == (state, answer, 1)


def reports_state_name(state: str) -> str:
    return get_lang("en", ZoneInfo("Asia/Shanghai"))._(STATE_NAMES[ReportState(state)])


async def test_duplicate_asks_the_number_and_merges_the_followers(bed: TestBed) -> None:
    dana = await colleague(bed, 9103, "Dana", "dispatcher")
    first_reporter, second_reporter = bed.person(5003, "Chen", "en"), bed.person(5004, "Zhao", "en")
    room = in_group(bed, dana)
    original = await file_case(bed, first_reporter.id)
    await card_of(room, original)
    repeat = await file_case(bed, second_reporter.id)
    card = await card_of(room, repeat)

    await room.press(card, "Duplicate of")
    question = await next_with(room, "duplicate of")
    for wrong, hint in (
        ("R20990101-0001", "cannot find case R20990101-0001"),
        ("not a number", "cannot find case"),
        (repeat.public_no, "cannot be a duplicate of itself"),
    ):
        await room.send(wrong, reply_to=question)
        await room.expect_message(contains=hint)
    await room.send(original.public_no.lower(), reply_to=question)
    await room.expect_message(contains="now “merged with another report”")
    card = await wait_for_card(bed, room, card, f"Merged into case {original.public_no}")
    assert labels(card) == []
    told = await second_reporter.expect_message(contains=f"same problem as case {original.public_no}")
    assert repeat.public_no in text_of(told)

    followers = await bed.db.fetchall(
        "SELECT telegram_id FROM report_followers WHERE report_id = ? ORDER BY telegram_id", (original.id,)
    )
    assert [row["telegram_id"] for row in followers] == [5003, 5004]
    row = await bed.db.fetchone("SELECT state, duplicate_of FROM reports WHERE id = ?", (repeat.id,))
    assert (row["state"], row["duplicate_of"]) == ("duplicate", original.id)


async def test_two_dispatchers_press_accept_at_once_one_wins(bed: TestBed) -> None:
    dana = await colleague(bed, 9104, "Dana", "dispatcher")
    sam = await colleague(bed, 9105, "Sam", "supervisor")
    resident = bed.person(5005, "Gao", "en")
    dana_room, sam_room = in_group(bed, dana), in_group(bed, sam)
    report = await file_case(bed, resident.id)
    card = await card_of(dana_room, report)

    first = await dana_room.press(card, "Accept")
    second = await sam_room.press(card, "Accept")  # the same card, as Sam saw it before the edit
    answers = [await dana_room.expect_answer(first), await sam_room.expect_answer(second)]
    assert "now “accepted”" in answers[0]["text"]
    assert "Someone was quicker" in answers[1]["text"] and answers[1]["show_alert"]
    events = await bed.db.fetchall("SELECT actor_id FROM report_events WHERE to_state = 'accepted'")
    assert [row["actor_id"] for row in events] == [dana.id]
    await resident.expect_message(contains="has been accepted")
    await resident.expect_no_message()  # told once


async def test_added_information_reaches_the_cards_thread(bed: TestBed) -> None:
    dana = await colleague(bed, 9106, "Dana", "dispatcher")
    room = in_group(bed, dana)
    resident = bed.person(5006, "Hu", "en")
    report = await file_case(bed, resident.id)
    card = await card_of(room, report)
    room.read_all()

    assert bed.services is not None
    services = bed.services
    policy = config.policy_from(services.settings, services.lang("en"), services.service_area)
    await service.add_info(
        services.db, report.id, resident.id, services.clock.now(), policy, text="The pile is now blocking the ramp"
    )
    services.wake_outbox()
    note = await next_with(room, "blocking the ramp")
    assert note["reply_to_message"]["message_id"] == card["message_id"]
    assert "Hu" not in text_of(note)


@pytest.fixture
async def chinese_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env = staff_env("zh_Hans")
    idle_bed.group(STAFF_GROUP, "城管工作群")
    idle_bed.person(ADMIN_ID, "管理员", "zh-hans")
    await idle_bed.start()
    yield idle_bed


async def test_a_report_from_the_wizard_reaches_a_chinese_staff_group(chinese_bed: TestBed) -> None:
    bed = chinese_bed
    assert bed.services is not None
    zhang = bed.person(9301, "张伟", "zh-hans")
    await enlist(bed, zhang, "dispatcher")
    room = in_group(bed, zhang)
    alice = bed.person(5010, "Alice", "en")  # the resident writes in English; staff work in Chinese
    review = await walk_to(alice, "review")
    await alice.press(review, "Submit")
    thanks = await alice.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT id, public_no FROM reports")
    assert row["public_no"] in text_of(thanks)

    card = await next_with(room, row["public_no"])
    assert "🆕" in text_of(card) and "匿名" in text_of(card) and "Alice" not in text_of(card)
    assert labels(card) == ["✅ 受理", "❌ 不予受理", "🔁 重复案件…", "↪️ 退回"]
    answer = await room.expect_answer(await room.press(card, "受理"))
    assert answer["text"].startswith("好了：案件")
    card = await wait_for_card(bed, room, card, "— 张伟")
    told = await alice.expect_message(contains="has been accepted as a case")
    assert row["public_no"] in text_of(told)

    wang = bed.person(5011, "王芳", "zh-hans")  # a neighbour said "mine too": she hears each step in Chinese
    await service.follow(bed.db, row["id"], wang.id, bed.services.clock.now(), bed.desk)
    await room.press(card, "退回")
    question = await next_with(room, "应由哪个部门或单位负责")
    await room.send("区水务局（排水管道属于他们）", reply_to=question)
    await room.expect_message(contains="好了：案件")
    heard = await wang.expect_message(contains="不属于城管局的职责范围")
    assert "区水务局" in text_of(heard) and "张伟" not in text_of(heard)
    await alice.expect_message(contains="passed to the body responsible")
