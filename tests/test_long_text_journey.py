"""Long text never makes a view unreadable: the longest report a resident can file, opened from 📋 我的反映; a long
history of added information; the staff card of a long case with a long history; a follower's photo news whose
note is all emoji (Telegram counts UTF-16 code units: 1024 for a caption, 4096 for a text)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cases import config, intake, service
from bot.cases.states import ReportState
from bot.people.staff import Action
from devtools.emulator import ApiError, BotAPIEmulator
from tests.support.driver import Person, TestBed, eventually, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, next_with, start_staff_bed


def sized(pattern: str, length: int) -> str:
    """``pattern`` repeated to exactly ``length`` characters, not ending in a space (input is stripped)."""
    text = (pattern * (length // len(pattern) + 1))[:length]
    return text[:-1] + "." if text.endswith(" ") else text


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


LONG_ADDRESS = sized("No. 18 Dongfeng Avenue, <east> gate & the bus stop by the market, ", 200)
LONG_DESCRIPTION = sized("Stalls <b>block</b> the pavement & the bus stop every evening; ", 1000)
INFOS = [
    sized("First: the stalls are back <i>again</i> & cooking on the pavement. ", 1000),
    sized("Second: now a generator runs all night beside the stop & it is loud. ", 1000),
    sized("Third 🚧: tables across the crossing, 🚧 prams must go on the road. ", 1000),  # UTF-16: > 1000 units
]
LONG_NOTE = sized("Stalls moved to the legal spot & the pavement swept <clean>. ", 500)
EMOJI_NOTE = "🧹" * 500  # the longest note staff can write, 1000 UTF-16 units
DANA = sized("<i>Dana & the night shift ", 64)  # a first name as long as Telegram allows, with markup in it


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


def no_alarm(bed: TestBed, person: Person) -> None:
    """Nobody was apologised to and no admin was alerted."""
    for message in bed.emulator.inbox.get(person.id, []):
        assert "something went wrong" not in text_of(message)
    for message in bed.emulator.inbox.get(ADMIN_ID, []):
        assert "An error occurred" not in text_of(message)


async def open_from_my_reports(bed: TestBed, person: Person, number: str) -> dict[str, Any]:
    """📋 我的反映, then the report: the listing message as it reads once the report's view is in it."""
    await person.send("📋 我的反映")
    listing = await person.expect_message(contains="Your reports (1)")
    await person.press(listing, number)
    await bed.emulator.wait_for(lambda: "History:" in text_of(person.current(listing)), 5)
    return person.current(listing)


async def test_the_longest_report_opens_from_my_reports(bed: TestBed) -> None:
    gao = bed.person(5101, "Gao", language_code="en")
    await gao.send("/report")
    await gao.press(await gao.expect_message(contains="What kind of problem"), "Road-occupying stall")
    await gao.expect_message(contains="Where is it?")
    await gao.send(LONG_ADDRESS)
    await gao.expect_message(contains="Address noted")
    await gao.press(await gao.expect_message(contains="Which district"), "Wuhan Economic Development Zone")
    await gao.expect_message(contains="describe the problem")
    await gao.send(LONG_DESCRIPTION)
    await gao.press(await gao.expect_message(contains="A photo helps"), "Skip")
    review = await gao.expect_message(contains="Please check your report")
    assert LONG_ADDRESS in text_of(review) and LONG_DESCRIPTION in text_of(review)  # shown whole, as typed
    await gao.press(review, "Submit")
    await gao.expect_message(contains="Your report number is")
    report = await intake.latest_filed_by(bed.db, gao.id)
    assert report is not None

    for info in INFOS:
        view = await open_from_my_reports(bed, gao, report.public_no)
        await gao.press(view, "Add information")
        await gao.expect_message(contains=f"What would you like to add to {report.public_no}?")
        await gao.send(info)
        await gao.expect_message(contains=f"I added it to {report.public_no}")

    view = text_of(await open_from_my_reports(bed, gao, report.public_no))
    assert units(view) <= 4096
    assert LONG_DESCRIPTION in view and LONG_ADDRESS in view
    assert view.count("you added information") == 3  # every entry is there, each clipped
    for info in INFOS:
        assert info[:250] in view and info not in view
    assert "…" in view
    await gao.expect_no_message()
    no_alarm(bed, gao)

    notes = await bed.db.fetchall("SELECT note FROM report_events WHERE kind = 'info' ORDER BY id")
    assert [row["note"] for row in notes] == INFOS  # what was stored is kept whole
    staff_card = next(
        message
        for message in bed.emulator.inbox[STAFF_GROUP]
        if report.public_no in text_of(message) and message.get("reply_markup")
    )
    assert LONG_DESCRIPTION in text_of(staff_card) and LONG_ADDRESS in text_of(staff_card)
    assert units(text_of(staff_card)) <= 4096


async def test_a_long_history_shows_the_latest_entries_and_counts_the_rest(bed: TestBed) -> None:
    assert bed.services is not None
    services = bed.services
    zhou = bed.person(5102, "Zhou", language_code="en")
    report = await file_case(bed, zhou.id, description=LONG_DESCRIPTION, address_text=LONG_ADDRESS)
    policy = config.policy_from(services.settings, services.lang("en"), services.service_area)
    added = [sized(f"Entry {n}: still there & still <loud>. ", 1000) for n in range(1, 9)]
    for text in added:
        await service.add_info(services.db, report.id, zhou.id, services.clock.now(), policy, text=text)

    view = text_of(await open_from_my_reports(bed, zhou, report.public_no))
    assert units(view) <= 4096 and LONG_DESCRIPTION in view
    shown = [text for text in added if text[:100] in view]
    assert shown == added[-len(shown) :] and 2 <= len(shown) < len(added)  # the latest ones, in order
    assert f"({len(added) + 1 - len(shown)} earlier entries are not shown here.)" in view  # + the "submitted" step
    no_alarm(bed, zhou)


async def test_the_staff_card_of_a_long_case_fits_whatever_its_history(bed: TestBed) -> None:
    assert bed.services is not None and bed.settings is not None
    services = bed.services
    dana = bed.person(9101, DANA, "en")
    await enlist(bed, dana, "dispatcher")
    alice = bed.person(5103, "Alice", "en")
    await alice.send("/start")
    await alice.expect_message()
    room = dana.in_group(bed.emulator.chats[STAFF_GROUP])
    report = await file_case(
        bed, alice.id, category="stall", description=LONG_DESCRIPTION, address_text=LONG_ADDRESS, show_name=True
    )
    card = await card_of(room, report)
    assert LONG_DESCRIPTION in text_of(card) and LONG_ADDRESS in text_of(card) and units(text_of(card)) <= 4096

    await room.expect_answer(await room.press(card, "Accept"))
    await bed.emulator.wait_for(lambda: "State: accepted" in text_of(room.current(card)), 8)
    await room.press(room.current(card), "Resolve")
    question = await next_with(room, "what was done about case")
    assert DANA in text_of(question)  # the mention shows the name as written
    await room.send_photo(caption=EMOJI_NOTE, reply_to=question)
    news = await next_with(alice, "has been handled")
    assert news["photo"] and units(text_of(news)) <= 1024
    assert "🧹" * 250 + "…" in text_of(news)  # the note clipped, the sentence after it kept

    # Reopened and resolved again and again, each time with the longest note, by someone with the longest name.
    desk = config.desk_from(bed.settings, services.service_area)
    for _ in range(5):
        await bed.emulator.wait_for(lambda: "State: resolved" in text_of(room.current(card)), 8)
        async with services.db.transaction() as conn:
            await service.apply_move(
                conn,
                report.id,
                dana.id,
                ReportState.REOPENED,
                LONG_NOTE,
                services.clock.now(),
                bed.desk,
                actor_role="dispatcher",
            )
        await service.move(
            services.db, dana.id, Action.RESOLVE, report.id, ReportState.REOPENED, services.clock.now(), desk,
            note=LONG_NOTE,
        )  # fmt: skip
        services.wake_outbox()

    async def delivered() -> bool:
        row = await services.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        return int(row[0]) == 0

    await eventually(delivered)
    now = text_of(room.current(card))
    assert units(now) <= 4096 and "State: resolved" in now
    assert "older steps left out)" in now and LONG_DESCRIPTION in now
    assert now.endswith(LONG_NOTE[:199].rstrip() + "…")  # the latest step is the last line, its note clipped
    failed = await services.db.fetchall("SELECT method, error FROM outbox WHERE state = 'failed'")
    assert [tuple(row) for row in failed] == []
    no_alarm(bed, alice)


async def test_the_emulator_measures_as_telegram_does(emulator: BotAPIEmulator) -> None:
    """UTF-16 code units of the text after its HTML is parsed: 4096 for a message, 1024 for any caption."""
    emulator.add_user(5104, "Qin", "en")
    photo = emulator.new_file("photo").file_id
    await emulator.handle("sendMessage", {"chat_id": 5104, "text": "🚧" * 2048}, {})
    await emulator.handle(
        "sendMessage", {"chat_id": 5104, "text": f"<b>{'&amp;' * 4096}</b>", "parse_mode": "HTML"}, {}
    )
    with pytest.raises(ApiError, match="message is too long"):
        await emulator.handle("sendMessage", {"chat_id": 5104, "text": "🚧" * 2048 + "."}, {})
    read = await emulator.handle(
        "sendMessage", {"chat_id": 5104, "text": "&lt;b&gt; &amp;amp;", "parse_mode": "HTML"}, {}
    )
    assert read["text"] == "<b> &amp;"  # entities are decoded once, as Telegram does
    sent = await emulator.handle("sendPhoto", {"chat_id": 5104, "photo": photo, "caption": "🚧" * 512}, {})
    with pytest.raises(ApiError, match="caption is too long"):
        await emulator.handle("sendPhoto", {"chat_id": 5104, "photo": photo, "caption": "🚧" * 513}, {})
    with pytest.raises(ApiError, match="caption is too long"):
        await emulator.handle(
            "editMessageCaption", {"chat_id": 5104, "message_id": sent["message_id"], "caption": "x" * 1025}, {}
        )
    album = [{"type": "photo", "media": photo, "caption": "🚧" * 513}, {"type": "photo", "media": photo}]
    with pytest.raises(ApiError, match="caption is too long"):
        await emulator.handle("sendMediaGroup", {"chat_id": 5104, "media": album}, {})
    with pytest.raises(ApiError, match="caption is too long"):
        await emulator.handle(
            "copyMessage",
            {"chat_id": 5104, "from_chat_id": 5104, "message_id": sent["message_id"], "caption": "🚧" * 513},
            {},
        )


async def test_a_spot_page_with_long_stored_text_and_many_closed_dates(bed: TestBed) -> None:
    """Text longer than an import lets through today (an older version's, or a bad file's) still makes a page."""
    assert bed.services is not None
    services = bed.services
    local = datetime(2026, 11, 23, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday; the spot is closed
    services.clock.offset = local.astimezone(UTC) - datetime.now(UTC)
    reason = sized("道路施工 road works <&> ", 5000)
    async with services.db.transaction() as conn:
        row = await (await conn.execute("SELECT id FROM spots WHERE external_id = 'wh-006'")).fetchone()
        spot_id = int(row[0])
        await conn.execute(
            "UPDATE spots SET status_reason = ?, note = ? WHERE id = ?", (reason, sized("注意 <note> ", 3000), spot_id)
        )
        days = [(local.date() + timedelta(days=n)).isoformat() for n in range(1, 61)]
        await conn.executemany(
            "INSERT INTO spot_exceptions (spot_id, first_day, last_day, reason) VALUES (?, ?, ?, ?)",
            [(spot_id, day, day, sized(f"{day} 检查 <check> & ", 300)) for day in days],
        )
    vendor = bed.person(5105, "Feng", language_code="en")
    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send("Quanli")
    await vendor.expect_message(contains="Here is what I found")
    listing = await vendor.expect_message(contains="Closed for now")
    await vendor.press(listing, "Quanli North Rd")
    await vendor.expect_message()  # the pin
    page = text_of(await vendor.expect_message(contains="Closed for now, until further notice."))
    assert units(page) <= 4096
    assert "Reason: " + reason[:300] in page and reason not in page
    assert "🕒 Opening hours:" in page and "📝 注意 <note>" in page
    assert f"📅 Closed on coming dates:\nNov 24, 2026: {days[0]} 检查 <check> & " in page  # the soonest first
    assert re.search(r"… and \d+ more closed dates\.\n\n🧺 Goods", page)
    no_alarm(bed, vendor)


async def test_a_long_staff_list_fits_and_counts_the_rest(bed: TestBed) -> None:
    assert bed.services is not None
    now = "2026-12-01T00:00:00+00:00"
    names = [sized(f"Officer {n:03d} <b>of the night & day shift</b> ", 64) for n in range(150)]
    async with bed.services.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO users (telegram_id, first_name, role, created_at, updated_at) VALUES (?, ?, 'officer', ?, ?)",
            [(700_000 + n, name, now, now) for n, name in enumerate(names)],
        )
    admin = bed.person(ADMIN_ID, "Admin", language_code="en")
    await admin.send("/staff")
    listing = await admin.expect_message(contains="The staff (151)")
    text = text_of(listing)
    assert units(text) <= 4096 and f"• {names[0]} — field officer" in text
    shown = sum(name in text for name in names)
    assert 20 < shown < 150 and f"… and {151 - 1 - shown} more." in text
    assert text.endswith("New colleagues: /invite.")
    buttons = [button for row in listing["reply_markup"]["inline_keyboard"] for button in row]
    assert len(buttons) == shown  # one for each person listed (the configured admin has none)
    no_alarm(bed, admin)
