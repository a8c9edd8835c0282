"""Staff write internal notes and public replies on a case, and supervisors moderate: hide, show, block, unblock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.cases import service
from bot.cases.states import Report
from bot.web import Metrics, WebServer
from tests.support.driver import Person, TestBed, inline_buttons, text_of
from tests.support.report_steps import count_rows
from tests.support.staff_steps import (
    STAFF_GROUP,
    card_of,
    desk_labels,
    enlist,
    file_case,
    labels,
    next_with,
    start_staff_bed,
    wait_for_card,
)

NOTE = "Caller is the shop owner next door; he complains weekly"
REPLY = "A sanitation crew is booked for tomorrow morning"
REPLY_ZH = "环卫队已安排明天上午清运"


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


@pytest.fixture
async def open311(bed: TestBed) -> AsyncIterator[str]:
    """The bot's own HTTP server (Open311) on the same database."""
    assert bed.services is not None
    server = WebServer(bed.services, Metrics())
    port = await server.start("127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}/open311/v2"
    await server.stop()


async def colleague(bed: TestBed, user_id: int, name: str, role: str) -> Person:
    person = bed.person(user_id, name, "en")
    await enlist(bed, person, role)
    return person.in_group(bed.emulator.chats[STAFF_GROUP])


async def resident(bed: TestBed, user_id: int, name: str, language: str) -> Person:
    person = bed.person(user_id, name, language)
    await person.send("/start")
    await person.expect_message()
    person.read_all()
    return person


async def follow(bed: TestBed, report: Report, person: Person) -> None:
    assert bed.services is not None
    await service.follow(bed.db, report.id, person.id, bed.services.clock.now(), bed.desk)


async def published(base: str, report: Report) -> dict[str, Any]:
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{base}/requests/{report.public_no}.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()[0]
    return found


async def my_report(person: Person, report: Report, bed: TestBed) -> str:
    """What the person reads about the case in "my reports"."""
    await person.send("/myreports")
    listing = await person.expect_message()
    await person.press(listing, report.public_no)
    await bed.emulator.wait_for(
        lambda: (
            report.public_no in text_of(person.current(listing))
            and any("mine:page" in b["callback_data"] for b in inline_buttons(person.current(listing)))
        ),
        5,
    )
    return text_of(person.current(listing))


async def ask_and_answer(room: Person, card: dict[str, Any], button: str, report: Report, answer: str) -> str:
    """Presses a desk button, answers the question it asks, and returns the bot's reply."""
    toast = await room.expect_answer(await room.press(card, button))
    assert "reply to my question" in toast["text"]
    question = await next_with(room, "this message")  # the question (the case's photos come before it)
    assert report.public_no in text_of(question)
    assert question["reply_to_message"]["message_id"] == card["message_id"]
    await room.send(answer, reply_to=question)
    return text_of(await next_with(room, "Done"))


# ------------------------------------------------------------------ notes and replies
async def test_an_internal_note_never_reaches_a_resident(bed: TestBed, open311: str) -> None:
    dana = await colleague(bed, 9101, "Dana", "dispatcher")
    alice = await resident(bed, 5001, "Alice", "en")
    wang = await resident(bed, 5002, "Wang", "zh-hans")
    report = await file_case(bed, alice.id)
    await follow(bed, report, wang)
    card = await card_of(dana, report)
    assert desk_labels(card) == ["📝 Internal note", "💬 Public reply", "🛡 Moderate"]
    sent_before = (await bed.db.fetchone("SELECT MAX(id) FROM outbox"))[0]

    done = await ask_and_answer(dana, card, "📝 Internal note", report, NOTE)
    assert f"internal note is on case {report.public_no}" in done
    card = await wait_for_card(bed, dana, card, NOTE)
    assert "🔒 internal note — Dana: " + NOTE in text_of(card)

    await alice.expect_no_message()
    await wang.expect_no_message()
    residents = await bed.db.fetchall(
        "SELECT chat_id FROM outbox WHERE id > ? AND chat_id IN (?, ?)", (sent_before, alice.id, wang.id)
    )
    assert residents == []
    event = await bed.db.fetchone("SELECT kind, public, note, actor_role FROM report_events ORDER BY id DESC")
    assert tuple(event) == ("note", 0, NOTE, "dispatcher")
    assert NOTE not in await my_report(alice, report, bed)
    assert NOTE not in await my_report(wang, report, bed)
    assert NOTE not in str(await published(open311, report))


async def test_a_public_reply_reaches_each_follower_in_their_language(bed: TestBed, open311: str) -> None:
    dana = await colleague(bed, 9102, "Dana", "dispatcher")
    alice = await resident(bed, 5011, "Alice", "en")
    wang = await resident(bed, 5012, "Wang", "zh-hans")
    report = await file_case(bed, alice.id)
    await follow(bed, report, wang)
    card = await card_of(dana, report)

    done = await ask_and_answer(dana, card, "💬 Public reply", report, REPLY_ZH)
    assert "goes to 2 residents" in done
    told_alice = await alice.expect_message(contains=report.public_no)
    assert "City staff about your report" in text_of(told_alice) and REPLY_ZH in text_of(told_alice)
    told_wang = await wang.expect_message(contains=report.public_no)
    assert "城管工作人员" in text_of(told_wang) and REPLY_ZH in text_of(told_wang)
    card = await wait_for_card(bed, dana, card, REPLY_ZH)
    assert "💬 public reply — Dana: " + REPLY_ZH in text_of(card)

    assert (await published(open311, report))["status_notes"] == REPLY_ZH
    assert REPLY_ZH in await my_report(alice, report, bed)
    assert REPLY_ZH in await my_report(wang, report, bed)
    event = await bed.db.fetchone("SELECT kind, public, note FROM report_events ORDER BY id DESC")
    assert tuple(event) == ("reply", 1, REPLY_ZH)


async def test_a_note_too_short_is_asked_again_and_another_colleague_cannot_answer(bed: TestBed) -> None:
    dana = await colleague(bed, 9103, "Dana", "dispatcher")
    eve = await colleague(bed, 9104, "Eve", "dispatcher")
    report = await file_case(bed, 5021)
    card = await card_of(dana, report)
    await dana.expect_answer(await dana.press(card, "📝 Internal note"))
    question = await next_with(dana, f"case {report.public_no}")
    await eve.send("I will write it instead", reply_to=question)
    await next_with(eve, "for the colleague who pressed")
    await dana.send("x", reply_to=question)
    await next_with(dana, "between 2 and 500 characters")
    assert await bed.db.fetchone("SELECT 1 FROM report_events WHERE kind = 'note'") is None
    await dana.send(NOTE, reply_to=question)
    await next_with(dana, "internal note is on case")


# ------------------------------------------------------------------ hiding
async def test_a_hidden_description_is_absent_from_open311_and_followers_until_shown(
    bed: TestBed, open311: str
) -> None:
    sam = await colleague(bed, 9201, "Sam", "supervisor")
    wang = await resident(bed, 5031, "Wang", "en")
    description = "The man at number 12, Zhang Wei, phone 13800001111, dumps it"
    report = await file_case(bed, 5030, description=description)
    await follow(bed, report, wang)
    card = await card_of(sam, report)
    card = await wait_for_card(bed, sam, card, "2 residents follow it")  # Wang's, even if the card was on its way
    assert (await published(open311, report))["description"] == description

    await sam.expect_answer(await sam.press(card, "🛡 Moderate"))
    await bed.emulator.wait_for(lambda: "🙈 Hide the description" in str(sam.current(card)), 5)
    done = await ask_and_answer(sam, sam.current(card), "🙈 Hide the description", report, "names a private person")
    assert "hidden from the public" in done
    card = await wait_for_card(bed, sam, card, "Description (hidden from the public)")
    assert description in text_of(card)  # staff still read it
    assert "names a private person" in text_of(card)  # the reason, in the card's history

    assert (await published(open311, report))["description"] == ""
    seen = await my_report(wang, report, bed)
    assert "Zhang Wei" not in seen and "(hidden by a moderator)" in seen
    event = await bed.db.fetchone("SELECT kind, public, note, actor_role FROM report_events ORDER BY id DESC")
    assert tuple(event) == (
        "moderation",
        0,
        "The description is hidden from the public: names a private person",
        "supervisor",
    )

    await sam.expect_answer(await sam.press(card, "🛡 Moderate"))
    await bed.emulator.wait_for(lambda: "👁 Show the description" in str(sam.current(card)), 5)
    answer = await sam.expect_answer(await sam.press(sam.current(card), "👁 Show the description"))
    assert "public again" in answer["text"]
    await wait_for_card(bed, sam, card, f"Description: {description}")
    assert (await published(open311, report))["description"] == description
    assert "Zhang Wei" in await my_report(wang, report, bed)
    event = await bed.db.fetchone("SELECT kind, note FROM report_events ORDER BY id DESC")
    assert tuple(event) == ("moderation", "The description is public again.")


async def test_a_photo_is_hidden_and_shown_by_command(bed: TestBed) -> None:
    sam = await colleague(bed, 9202, "Sam", "supervisor")
    photos = [bed.emulator.new_file("photo").file_id for _ in range(2)]
    report = await file_case(bed, 5040, photos=photos)
    await card_of(sam, report)
    await sam.send(f"/hide {report.public_no} photo 2 a face can be recognised")
    await next_with(sam, "hidden from the public")
    rows = await bed.db.fetchall("SELECT hidden FROM report_photos WHERE report_id = ? ORDER BY id", (report.id,))
    assert [row["hidden"] for row in rows] == [0, 1]
    await sam.send(f"/hide {report.public_no} photo 7 no such photo")
    await next_with(sam, "not on this case")
    await sam.send(f"/unhide {report.public_no} photo 2")
    await next_with(sam, "public again")
    rows = await bed.db.fetchall("SELECT hidden FROM report_photos WHERE report_id = ? ORDER BY id", (report.id,))
    assert [row["hidden"] for row in rows] == [0, 0]


# ------------------------------------------------------------------ blocking
async def test_a_blocked_person_is_answered_politely_and_nothing_is_filed(bed: TestBed) -> None:
    sam = await colleague(bed, 9301, "Sam", "supervisor")
    alice = await resident(bed, 5051, "Alice", "en")
    report = await file_case(bed, alice.id)
    await card_of(sam, report)

    await sam.send(f"/block {report.public_no} 30d insulting messages to staff")
    await next_with(sam, "Done: blocked as number")
    await sam.send("/blocked")
    listing = await next_with(sam, "1 person is blocked")
    assert f"the reporter of {report.public_no}" in text_of(listing)
    assert "insulting messages to staff" in text_of(listing) and "Sam" in text_of(listing)

    reports_before = await count_rows(bed, "reports")
    await alice.send("/report")
    answer = text_of(await alice.expect_message(contains="Sorry, you cannot send new reports"))
    assert "insulting messages to staff" in answer and "12345" in answer and "This lasts until" in answer
    await alice.send("📝 Report a problem")
    await alice.expect_message(contains="Sorry, you cannot send new reports")
    await alice.send("/myreports")  # her existing case stays hers to read
    listing = await alice.expect_message(contains="Your reports (1)")
    await alice.press(listing, report.public_no)
    await bed.emulator.wait_for(lambda: "Add information" in str(alice.current(listing)), 5)
    await alice.press(alice.current(listing), "Add information")
    await alice.expect_message(contains="Sorry, you cannot send new reports")
    await alice.send("It is getting worse, please hurry")  # no "add information" step was opened
    await alice.expect_message(contains="did not understand")
    assert await count_rows(bed, "reports") == reports_before
    assert await bed.db.fetchone("SELECT 1 FROM report_events WHERE kind = 'info'") is None
    assert await bed.db.fetchone("SELECT 1 FROM report_drafts WHERE telegram_id = ?", (alice.id,)) is None
    assert (await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report.id,)))["state"] == "submitted"

    await sam.send("/unblock 1")
    await next_with(sam, "Done: unblocked")
    await sam.send("/blocked")
    await next_with(sam, "Nobody is blocked")
    await alice.send("/report")
    await alice.expect_message(contains="What kind of problem")
    events = await bed.db.fetchall(
        "SELECT note FROM report_events WHERE report_id = ? AND kind = 'moderation' ORDER BY id", (report.id,)
    )
    assert [row["note"] for row in events][-1] == "The reporter is unblocked."
    assert "insulting messages to staff" in events[0]["note"]


async def test_the_cards_block_asks_a_reason_with_an_optional_end(bed: TestBed) -> None:
    sam = await colleague(bed, 9302, "Sam", "supervisor")
    bob = await resident(bed, 5061, "Bob", "en")
    report = await file_case(bed, bob.id)
    card = await card_of(sam, report)
    await sam.expect_answer(await sam.press(card, "🛡 Moderate"))
    await bed.emulator.wait_for(lambda: "🚫 Block the reporter" in str(sam.current(card)), 5)
    await sam.expect_answer(await sam.press(sam.current(card), "🚫 Block the reporter"))
    question = await next_with(sam, f"case {report.public_no}")
    await sam.send("2020-01-01 spam", reply_to=question)
    await next_with(sam, "already past")
    await sam.send("spam, forty reports of the same lamp", reply_to=question)
    await next_with(sam, "the reporter is blocked")
    row = await bed.db.fetchone("SELECT telegram_id, reason, until FROM blocked_people")
    assert tuple(row) == (bob.id, "spam, forty reports of the same lamp", None)
    await bob.send("/report")
    answer = text_of(await bob.expect_message(contains="Sorry"))
    assert "until staff lift it" in answer


async def test_an_officer_is_refused_moderation(bed: TestBed) -> None:
    li = await colleague(bed, 9401, "Li", "officer")
    dana = await colleague(bed, 9402, "Dana", "dispatcher")
    report = await file_case(bed, 5071)
    card = await card_of(li, report)
    for person in (li, dana):
        answer = await person.expect_answer(await person.press(card, "🛡 Moderate"))
        assert "cannot do this" in answer["text"]
        await person.send(f"/block {report.public_no} spam")
        await next_with(person, "cannot do this")
        await person.send(f"/hide {report.public_no} rude words")
        await next_with(person, "cannot do this")
        await person.send("/blocked")
        await next_with(person, "cannot do this")
    assert await count_rows(bed, "blocked_people") == 0
    assert (await bed.db.fetchone("SELECT description_hidden FROM reports"))["description_hidden"] == 0
    assert labels(li.current(card)) == ["✅ Accept", "❌ Reject", "🔁 Duplicate of…", "↪️ Return"]


async def test_moderation_commands_say_why_they_cannot_be_done(bed: TestBed) -> None:
    sam = await colleague(bed, 9311, "Sam", "supervisor")
    dana = await colleague(bed, 9312, "Dana", "dispatcher")
    report = await file_case(bed, 5101)
    await card_of(sam, report)
    for command, answer in (
        (f"/block {report.public_no} 30d", "How to moderate"),  # an end but no reason
        (f"/block {report.public_no} 2001-01-01 spam", "That end is already past"),
        (f"/block {sam.id} too many messages", "You cannot block yourself."),
        (f"/block {dana.id} too many messages", "Staff members cannot be blocked."),
        (f"/hide {report.public_no} photo 3 a face", "That photo is not on this case any more."),
        ("/unblock 99", "This person is not blocked."),
    ):
        await sam.send(command)
        await next_with(sam, answer)
    assert await count_rows(bed, "blocked_people") == 0
    assert (await bed.db.fetchone("SELECT description_hidden FROM reports"))["description_hidden"] == 0


async def test_forgetting_keeps_the_block_but_unlinks_it_from_the_case(bed: TestBed) -> None:
    sam = await colleague(bed, 9303, "Sam", "supervisor")
    carol = await resident(bed, 5081, "Carol", "en")
    report = await file_case(bed, carol.id)
    await card_of(sam, report)
    await sam.send(f"/block {report.public_no} threats against an officer")
    await next_with(sam, "Done: blocked")

    await carol.send("/forget")
    question = await carol.expect_message(contains="Do you want us to delete your data?")
    await carol.expect_answer(await carol.press(question, "Yes, delete my data"))
    await carol.expect_edit(question, "your data has been deleted")
    row = await bed.db.fetchone("SELECT telegram_id, report_id FROM blocked_people")
    assert tuple(row) == (carol.id, None)  # no longer says which case she filed
    await carol.send("/report")
    await carol.expect_message(contains="Sorry, you cannot send new reports")
    await sam.send("/blocked")
    listing = await next_with(sam, "1 person is blocked")
    assert f"Telegram id {carol.id}" in text_of(listing) and report.public_no not in text_of(listing)


async def test_markup_in_a_reply_and_a_reason_is_shown_as_typed(bed: TestBed) -> None:
    dana = await colleague(bed, 9105, "Dana", "supervisor")
    alice = await resident(bed, 5091, "Alice", "en")
    report = await file_case(bed, alice.id)
    card = await card_of(dana, report)
    typed = "<b>Done</b> & <a href='x'>see</a> </i>"
    await ask_and_answer(dana, card, "💬 Public reply", report, typed)
    told = await alice.expect_message(contains=report.public_no)
    assert typed in text_of(told)
    await wait_for_card(bed, dana, card, typed)
    await dana.send(f"/block {report.public_no} 7d <script>alert(1)</script>")
    await next_with(dana, "Done: blocked")
    await alice.send("/report")
    assert "<script>alert(1)</script>" in text_of(await alice.expect_message(contains="Sorry"))


async def test_a_photo_is_hidden_from_the_cards_menu_with_a_reason(bed: TestBed) -> None:
    sam = await colleague(bed, 9203, "Sam", "admin")
    wang = await resident(bed, 5101, "Wang", "en")
    photos = [bed.emulator.new_file("photo").file_id for _ in range(2)]
    report = await file_case(bed, 5100, photos=photos)
    await follow(bed, report, wang)
    card = await card_of(sam, report)
    await sam.expect_answer(await sam.press(card, "🛡 Moderate"))
    await bed.emulator.wait_for(lambda: "🙈 Hide photo 1" in str(sam.current(card)), 5)
    done = await ask_and_answer(sam, sam.current(card), "🙈 Hide photo 1", report, "a child's face")
    assert "hidden from the public" in done
    card = await wait_for_card(bed, sam, card, "Photos: 2, 1 of them hidden from the public")
    assert "Photo 1 is hidden from the public: a child's face" in text_of(card)
    assert "Photos: 1" in await my_report(wang, report, bed)  # the follower counts only what is public
