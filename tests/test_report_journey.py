"""A resident reports a problem: GPS or typed address, text or voice, photos, review, submit — and restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.platform.clock import from_db
from bot.platform.worktime import WorkCalendar
from tests.support.driver import TestBed, inline_buttons, keyboard_labels, text_of
from tests.support.report_steps import HOME, STAFF_CHAT, count_rows, draft_step, walk_to


@pytest.fixture
async def staffed_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    """The bot with a staff group, so new reports queue an alert card."""
    idle_bed.env = {"STAFF_CHAT_ID": str(STAFF_CHAT)}
    await idle_bed.start()
    yield idle_bed


async def test_gps_and_one_photo_in_six_actions(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    alice = bed.person(2001, "Alice", language_code="en")
    await alice.send("📝 Report a problem")
    categories = await alice.expect_message(contains="What kind of problem")
    assert len(inline_buttons(categories)) == 10  # nine categories and cancel

    await alice.press(categories, "Exposed garbage")  # 1
    where = await alice.expect_message(contains="Where is it?")
    assert keyboard_labels(where) == ["📍 Send my location", "❌ Cancel"]
    assert where["_keyboard"]["keyboard"][0][0]["request_location"] is True
    assert text_of(alice.current(categories)) == "Category: 🗑 Exposed garbage, sanitation"
    await alice.share_location(*HOME)  # 2
    await alice.expect_message(contains="Location received: Wuhan Economic Development Zone")
    await alice.expect_message(contains="describe the problem")
    await alice.send("Garbage bags piled up at the bus stop since Monday")  # 3
    await alice.expect_message(contains="A photo helps")
    photo = await alice.send_photo()  # 4
    attached = await alice.expect_message(contains="Photos attached: 1 of 3")
    await alice.press(attached, "Done")  # 5
    card = await alice.expect_message(contains="Please check your report")
    for field in ("Exposed garbage", "Wuhan Economic Development Zone", "30.48000, 114.15000", "since Monday"):
        assert field in text_of(card)
    assert "Photos: 1" in text_of(card) and "Your name is hidden from staff." in text_of(card)
    await alice.press(card, "Submit")  # 6
    thanks = await alice.expect_message(contains="Thank you! Your report number is R")
    assert "It should be handled by" in text_of(thanks)
    assert "📝 Report a problem" in keyboard_labels(thanks)  # back to the menu

    row = await bed.db.fetchone("SELECT * FROM reports")
    assert row["public_no"] in text_of(thanks)
    assert (row["state"], row["category"], row["district"], row["anonymous"]) == (
        "submitted",
        "garbage",
        "wuhan-edz",
        1,
    )
    assert (row["lat"], row["lon"], row["reporter_id"]) == (*HOME, 2001)
    assert bed.settings is not None
    expected_due = WorkCalendar(bed.settings.timezone).add_working_hours(from_db(row["created_at"]), 4)
    assert from_db(row["due_at"]) == expected_due
    photos = await bed.db.fetchall("SELECT file_id FROM report_photos")
    assert [p["file_id"] for p in photos] == [photo["photo"][0]["file_id"]]
    assert await count_rows(bed, "report_events") == 1 and await count_rows(bed, "report_followers") == 1
    assert await draft_step(bed, 2001) is None
    alert = await bed.db.fetchone("SELECT chat_id, params, ref FROM outbox WHERE ref LIKE 'report_card:%'")
    assert alert["chat_id"] == STAFF_CHAT and alert["ref"] == f"report_card:{row['id']}"
    assert row["public_no"] in json.loads(alert["params"])["text"]
    assert "反映人：匿名" in json.loads(alert["params"])["text"]  # the staff group reads the default language


async def test_typed_address_and_district_buttons(bed: TestBed) -> None:
    bob = bed.person(2002, "Bob", language_code="en")
    districts = await walk_to(bob, "district")
    assert [b["text"] for b in inline_buttons(districts)][:3] == [
        "Wuhan Economic Development Zone",
        "Yongchuan, Chongqing",
        "Huiji, Zhengzhou",
    ]
    await bob.press(districts, "Huiji")
    await bob.expect_message(contains="describe the problem")
    await bob.send("Street light broken for a week, the corner is completely dark")
    skip = await bob.expect_message(contains="A photo helps")
    await bob.press(skip, "Skip")
    card = await bob.expect_message(contains="Please check your report")
    assert "Address: No. 18 Dongfeng Avenue, by the bus stop" in text_of(card)
    assert "District: Huiji, Zhengzhou" in text_of(card) and "Location:" not in text_of(card)
    await bob.press(card, "Submit")
    await bob.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT lat, lon, address_text, district FROM reports")
    assert tuple(row) == (None, None, "No. 18 Dongfeng Avenue, by the bus stop", "zz-huiji")


async def test_voice_description(bed: TestBed) -> None:
    wen = bed.person(2003, "Wen", language_code="en")
    await walk_to(wen, "description")
    await wen.send_voice(seconds=12)
    await wen.expect_message(contains="Voice message received")
    skip = await wen.expect_message(contains="A photo helps")
    await wen.press(skip, "Skip")
    card = await wen.expect_message(contains="Please check your report")
    assert "Description: 🎤 voice note (12 s)" in text_of(card)
    await wen.press(card, "Submit")
    await wen.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT description, voice_file_id FROM reports")
    assert row["description"] == "" and row["voice_file_id"].startswith("voice-file-")


async def test_edit_fields_and_show_name_from_the_review_card(staffed_bed: TestBed) -> None:
    bed = staffed_bed
    lin = bed.person(2004, "Lin", language_code="en")
    card = await walk_to(lin, "review")
    await lin.press(card, "✏️ Description")
    await lin.expect_message(contains="describe the problem")
    await lin.send("Actually it is a pile of construction waste on the pavement")
    card = await lin.expect_message(contains="Please check your report")
    assert "construction waste" in text_of(card)
    await lin.press(card, "✏️ Category")
    categories = await lin.expect_message(contains="What kind of problem")
    await lin.press(categories, "Illegal construction")
    card = await lin.expect_message(contains="Please check your report")
    assert "Illegal construction" in text_of(card)

    await lin.press(card, "Show my name to staff: no")
    await bed.emulator.wait_for(lambda: "Your name is shown to staff." in text_of(lin.current(card)), 5)
    assert "Show my name to staff: yes" in [b["text"] for b in inline_buttons(lin.current(card))][4]
    await lin.press(lin.current(card), "Submit")
    await lin.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT category, anonymous, description FROM reports")
    assert (row["category"], row["anonymous"]) == ("construction", 0)
    alert = await bed.db.fetchone("SELECT params FROM outbox WHERE ref LIKE 'report_card:%'")
    assert "反映人：Lin" in json.loads(alert["params"])["text"]


async def test_restart_mid_wizard_resumes_at_the_same_step(bed: TestBed) -> None:
    mei = bed.person(2005, "Mei", language_code="en")
    await walk_to(mei, "description")
    await bed.restart()
    await mei.send("Overflowing bins behind the market, smells terrible")
    attach = await mei.expect_message(contains="A photo helps")
    await mei.send_photo()
    await mei.expect_message(contains="Photos attached: 1 of 3")
    await bed.restart()
    await mei.press(attach, "Skip")  # the earlier message's button still works after a restart
    card = await mei.expect_message(contains="Please check your report")
    assert "Photos: 1" in text_of(card) and "behind the market" in text_of(card)
    await mei.press(card, "Submit")
    await mei.expect_message(contains="Your report number is")
    assert await count_rows(bed, "reports") == 1


async def test_album_gets_one_answer_and_keeps_three(bed: TestBed) -> None:
    han = bed.person(2006, "Han", language_code="en")
    await walk_to(han, "photos")
    await han.send_album(5)
    answer = await han.expect_message(contains="Photos attached: 3 of 3")
    assert "at most 3 photos, so I kept the first 3" in text_of(answer)
    await han.expect_no_message(wait=1.5)
    row = await bed.db.fetchone("SELECT data FROM report_drafts WHERE telegram_id = 2006")
    assert len(json.loads(row["data"])["photos"]) == 3
    await han.press(answer, "Done")
    card = await han.expect_message(contains="Please check your report")
    assert "Photos: 3" in text_of(card)


@pytest.mark.parametrize(
    ("step", "how"),
    [("category", "button"), ("location", "keyboard"), ("description", "command"), ("review", "button")],
)
async def test_cancel_at_any_step_discards_the_draft(bed: TestBed, step: str, how: str) -> None:
    zhou = bed.person(2007, "Zhou", language_code="en")
    prompt = await walk_to(zhou, step)
    if how == "button":
        await zhou.press(prompt, "Cancel")
    elif how == "keyboard":
        await zhou.send("❌ Cancel")
    else:
        await zhou.send("/cancel")
    bye = await zhou.expect_message(contains="Report cancelled; nothing was sent.")
    assert "📝 Report a problem" in keyboard_labels(bye)
    assert await draft_step(bed, 2007) is None and await count_rows(bed, "reports") == 0
    await zhou.send("/cancel")
    await zhou.expect_message(contains="nothing to cancel")


async def test_idle_wizard_pauses_politely_and_keeps_the_draft(idle_bed: TestBed) -> None:
    idle_bed.env = {"REPORT_IDLE_TIMEOUT": "1s"}
    await idle_bed.start()
    yu = idle_bed.person(2008, "Yu", language_code="en")
    await walk_to(yu, "location")
    paused = await yu.expect_message(contains="I have paused your report", timeout=6)
    assert "📝 Report a problem" in keyboard_labels(paused)
    assert await draft_step(idle_bed, 2008) == "location"

    await yu.send("📝 Report a problem")
    offer = await yu.expect_message(contains="You have an unfinished report (🗑 Exposed garbage, sanitation)")
    await yu.press(offer, "Continue")
    await yu.expect_message(contains="Where is it?")
    await yu.share_location(*HOME)
    await yu.expect_message(contains="Location received")


async def test_start_over_replaces_the_unfinished_draft(bed: TestBed) -> None:
    yu = bed.person(2009, "Yu", language_code="en")
    await walk_to(yu, "description")
    await yu.send("📋 My reports")  # leaving for another menu keeps the draft
    await yu.expect_message(contains="You have not reported anything yet")
    assert await draft_step(bed, 2009) == "description"
    await yu.send("/report")
    offer = await yu.expect_message(contains="You have an unfinished report")
    await yu.press(offer, "Start over")
    await yu.expect_message(contains="What kind of problem")
    assert await draft_step(bed, 2009) == "category"


async def test_the_wizard_speaks_chinese(bed: TestBed) -> None:
    wang = bed.person(2010, "王芳", language_code="zh-hans")
    await wang.send("📝 反映问题")
    categories = await wang.expect_message(contains="您遇到的是哪类问题")
    await wang.press(categories, "占道经营")
    where = await wang.expect_message(contains="问题在哪里")
    assert "📍 发送我的位置" in keyboard_labels(where)
    await wang.share_location(*HOME)
    await wang.expect_message(contains="已收到位置：武汉经开区")
    await wang.expect_message(contains="请描述一下问题")
    await wang.send("摊位占道")
    await wang.expect_message(contains="至少 10 字（您写了 4 字）")
    await wang.send("人行道上有三个摊位占道经营，行人只能走机动车道")
    skip = await wang.expect_message(contains="最多可发 3 张")
    await wang.press(skip, "跳过")
    card = await wang.expect_message(contains="请核对您的反映")
    assert "您的姓名不会显示给工作人员" in text_of(card)
    await wang.press(card, "提交")
    done = await wang.expect_message(contains="您的反映编号是 R")
    assert "预计在" in text_of(done) and "📋 我的反映" in keyboard_labels(done)
