"""My reports: the list, a report's history, adding information, withdrawing — and nobody else's reports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.cases import mine, service, states
from bot.cases.states import ReportState
from tests.support.driver import TestBed, inline_buttons, text_of
from tests.support.report_steps import STAFF_CHAT, count_rows, file_behind_the_scenes


@pytest.fixture
async def staffed_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env = {"STAFF_CHAT_ID": str(STAFF_CHAT), "REPORTS_PER_HOUR": "20"}
    await idle_bed.start()
    yield idle_bed


async def test_withdraw_a_fresh_report(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    report = await file_behind_the_scenes(bed, reporter=5001)
    gao = bed.person(5001, "Gao", language_code="en")
    await gao.send("📋 My reports")
    listing = await gao.expect_message(contains="Your reports (1)")
    await gao.press(listing, report.public_no)
    await bed.emulator.wait_for(lambda: "History:" in text_of(gao.current(listing)), 5)
    detail = gao.current(listing)
    assert "Status: submitted, waiting for staff" in text_of(detail)
    assert "To be handled by:" in text_of(detail)
    await gao.press(detail, "Withdraw")
    await bed.emulator.wait_for(lambda: "Withdraw report" in text_of(gao.current(listing)), 5)
    await gao.press(gao.current(listing), "Yes, withdraw it")
    await bed.emulator.wait_for(lambda: "Status: withdrawn" in text_of(gao.current(listing)), 5)
    labels = [b["text"] for b in inline_buttons(gao.current(listing))]
    assert labels == ["◀️ Back to the list"]  # nothing more to add to a withdrawn report

    row = await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report.id,))
    assert row["state"] == "withdrawn"
    event = await bed.db.fetchone("SELECT from_state, to_state, actor_id FROM report_events ORDER BY id DESC")
    assert tuple(event) == ("submitted", "withdrawn", 5001)
    told = await bed.db.fetchone("SELECT chat_id, params FROM outbox WHERE ref = ?", (f"report_withdrawn:{report.id}",))
    assert told["chat_id"] == STAFF_CHAT and report.public_no in json.loads(told["params"])["text"]


async def test_no_withdrawing_once_an_officer_has_it(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    report = await file_behind_the_scenes(bed, reporter=5002)
    async with bed.db.transaction() as conn:
        moved_at, desk = report.created_at, bed.desk
        await service.apply_move(conn, report.id, 900, ReportState.ACCEPTED, "Thanks, we are on it.", moved_at, desk)
        await service.apply_move(conn, report.id, 900, ReportState.DISPATCHED, "", moved_at, desk, assignee=901)
    he = bed.person(5002, "He", language_code="en")
    await he.send("/myreports")
    listing = await he.expect_message(contains="Your reports (1)")
    await he.press(listing, report.public_no)
    await bed.emulator.wait_for(lambda: "History:" in text_of(he.current(listing)), 5)
    detail = he.current(listing)
    assert "accepted. Thanks, we are on it." in text_of(detail)
    assert "sent to an officer" in text_of(detail)
    assert "Withdraw" not in str(inline_buttons(detail))
    answer = await he.expect_answer(await he.press_data(detail, f"mine:withdrawn:{report.id}:0"))
    assert "can no longer be withdrawn" in answer["text"]
    assert (await states.get_report(bed.db, report.id)).state is ReportState.DISPATCHED


async def test_add_information_reaches_the_staff(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    report = await file_behind_the_scenes(bed, reporter=5003)
    ma = bed.person(5003, "Ma", language_code="en")
    await ma.send("/myreports")
    listing = await ma.expect_message()
    await ma.press(listing, report.public_no)
    await bed.emulator.wait_for(lambda: "History:" in text_of(ma.current(listing)), 5)
    await ma.press(ma.current(listing), "Add information")
    ask = await ma.expect_message(contains=f"What would you like to add to {report.public_no}?")
    await ma.send_sticker()
    await ma.expect_message(contains="Please send a text or a photo")
    await ma.send("Now it also blocks the <b>fire</b> exit")
    await ma.expect_message(contains=f"I added it to {report.public_no} and told the staff")
    assert ask is not None

    event = await bed.db.fetchone("SELECT kind, note, actor_id FROM report_events WHERE kind = 'info'")
    assert tuple(event) == ("info", "Now it also blocks the <b>fire</b> exit", 5003)
    told = await bed.db.fetchone("SELECT params FROM outbox WHERE ref LIKE 'report_info:%'")
    assert "&lt;b&gt;fire&lt;/b&gt;" in json.loads(told["params"])["text"]

    await ma.press(ma.current(listing), "Add information")
    await ma.expect_message(contains="What would you like to add")
    await ma.send_photo(caption="from the other side")
    await ma.expect_message(contains="I added it to")
    photo = await bed.db.fetchone("SELECT kind FROM report_photos WHERE kind = 'info'")
    assert photo is not None
    detail = await mine.detail_for_user(bed.db, report.id, 5003)
    assert [e.note for e in detail.events if e.kind == "info"] == [
        "Now it also blocks the <b>fire</b> exit",
        "from the other side",
    ]


async def test_the_list_pages_newest_first(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    assert bed.services is not None
    filed = []
    for _ in range(7):
        filed.append(await file_behind_the_scenes(bed, reporter=5004))
        bed.services.clock.advance(timedelta(minutes=1))
    xu = bed.person(5004, "Xu", language_code="en")
    await xu.send("📋 My reports")
    listing = await xu.expect_message(contains="Your reports (7)")
    numbers = [b["text"].split(" ")[0] for b in inline_buttons(listing)[:5]]
    assert numbers == [r.public_no for r in reversed(filed)][:5]
    await xu.press(listing, "Older")
    await bed.emulator.wait_for(lambda: filed[0].public_no in str(inline_buttons(xu.current(listing))), 5)
    assert [b["text"] for b in inline_buttons(xu.current(listing))][-1] == "◀️ Newer"


async def test_nobody_sees_or_changes_someone_elses_report(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    theirs = await file_behind_the_scenes(bed, reporter=5005)
    snoop = bed.person(5099, "Snoop", language_code="en")
    await snoop.send("📋 My reports")
    empty = await snoop.expect_message(contains="You have not reported anything yet")
    for data, says in (
        (f"mine:show:{theirs.id}:0", "cannot find that report among yours"),
        (f"mine:withdraw:{theirs.id}:0", "cannot find that report among yours"),
        (f"mine:withdrawn:{theirs.id}:0", "cannot find that report among yours"),
        (f"mine:info:{theirs.id}", "cannot find that report among yours"),
        # data the bot never makes (bot.wire refuses it): the stale-button answer
        ("mine:show:abc:0", "no longer active"),
        ("mine:show:99999999999999999999:0", "no longer active"),
        ("mine:explode", "no longer active"),
    ):
        answer = await snoop.expect_answer(await snoop.press_data(empty, data))
        assert says in answer["text"], data
    await snoop.expect_no_message(wait=0.3)
    assert (await states.get_report(bed.db, theirs.id)).state is ReportState.SUBMITTED
    assert await count_rows(bed, "report_events") == 1
    assert text_of(snoop.current(empty)).startswith("You have not reported anything yet")
