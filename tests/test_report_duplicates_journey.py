"""并单 and limits: a problem already reported nearby is followed instead of filed twice; too many reports wait."""

from __future__ import annotations

from bot.cases import drafts
from tests.support.driver import TestBed, eventually, inline_buttons, keyboard_labels, text_of
from tests.support.report_steps import HOME, count_rows, draft_step, file_behind_the_scenes, north_of, walk_to
from tests.support.staff_steps import STAFF_GROUP, next_with, start_staff_bed


async def test_mine_too_follows_the_nearby_report(bed: TestBed) -> None:
    first = await file_behind_the_scenes(bed, reporter=4001)
    await file_behind_the_scenes(bed, reporter=4002, place=north_of(HOME, 400))  # too far to be the same
    await file_behind_the_scenes(bed, reporter=4003, category="noise")  # another kind of problem
    li = bed.person(4010, "Li", language_code="en")
    where = await walk_to(li, "location")
    await li.share_location(*north_of(HOME, 120))
    await li.expect_message(contains="Location received")
    offer = await li.expect_message(contains="already reported this kind of problem nearby")
    assert f"{first.public_no}, 120 m away" in text_of(offer)
    assert "submitted, waiting for staff" in text_of(offer)
    assert [b["text"] for b in inline_buttons(offer)] == [
        f"🙋 {first.public_no} is mine too",
        "➕ No, mine is different",
        "❌ Cancel",
    ]
    assert where is not None

    await li.press(offer, "is mine too")
    thanks = await li.expect_message(contains=f"Report {first.public_no} (submitted, waiting for staff)")
    assert "now counts 2 residents" in text_of(thanks)
    assert "📝 Report a problem" in keyboard_labels(thanks)
    row = await bed.db.fetchone("SELECT follower_count FROM reports WHERE id = ?", (first.id,))
    assert row["follower_count"] == 2
    followers = await bed.db.fetchall("SELECT telegram_id FROM report_followers WHERE report_id = ?", (first.id,))
    assert sorted(f["telegram_id"] for f in followers) == [4001, 4010]
    assert await count_rows(bed, "reports") == 3 and await draft_step(bed, 4010) is None

    await li.send("📋 My reports")
    listing = await li.expect_message(contains="Your reports (1)")
    assert inline_buttons(listing)[0]["text"].startswith(f"🙋 {first.public_no}")


async def test_mine_is_different_goes_on_to_the_description(bed: TestBed) -> None:
    await file_behind_the_scenes(bed, reporter=4001)
    wu = bed.person(4011, "Wu", language_code="en")
    await walk_to(wu, "location")
    await wu.share_location(*HOME)
    await wu.expect_message(contains="Location received")
    offer = await wu.expect_message(contains="already reported")
    await wu.press(offer, "No, mine is different")
    await wu.expect_message(contains="describe the problem")
    assert text_of(wu.current(offer)) == "➕ A new report, then."


async def test_limit_per_hour_stops_a_new_report_before_it_starts(idle_bed: TestBed) -> None:
    idle_bed.env = {"REPORTS_PER_HOUR": "2"}
    await idle_bed.start()
    for _ in range(2):
        await file_behind_the_scenes(idle_bed, reporter=4020)
    qian = idle_bed.person(4020, "Qian", language_code="en")
    await qian.send("📝 Report a problem")
    refusal = await qian.expect_message(contains="You have sent 2 reports in the last hour")
    assert "You can report again at" in text_of(refusal)
    assert "📝 Report a problem" in keyboard_labels(refusal)
    await qian.send("hello")
    await qian.expect_message(contains="did not understand")  # no wizard was started
    assert await draft_step(idle_bed, 4020) is None and await count_rows(idle_bed, "reports") == 2


async def test_limit_per_day_is_checked_again_at_submit(idle_bed: TestBed) -> None:
    idle_bed.env = {"REPORTS_PER_DAY": "1"}
    await idle_bed.start()
    sun = idle_bed.person(4021, "Sun", language_code="en")
    card = await walk_to(sun, "review")
    record = await drafts.load_draft_record(idle_bed.db, 4021)
    assert record is not None
    await file_behind_the_scenes(idle_bed, reporter=4021)  # filed meanwhile, e.g. from another device
    async with idle_bed.db.transaction() as conn:  # this draft stays
        await drafts.write_draft(conn, 4021, record.draft, record.step, record.updated_at)
    await sun.press(card, "Submit")
    await sun.expect_message(contains="You have sent 1 report today")
    assert await count_rows(idle_bed, "reports") == 1


async def test_mine_too_shows_on_the_staff_card_within_seconds(idle_bed: TestBed) -> None:
    bed = await start_staff_bed(idle_bed, "zh_Hans")
    room = bed.person(9501, "张伟", "zh-hans").in_group(bed.emulator.chats[STAFF_GROUP])
    an = bed.person(4030, "An", language_code="en")
    review = await walk_to(an, "review")
    await an.press(review, "Submit")
    await an.expect_message(contains="Your report number is")
    first = await bed.db.fetchone("SELECT id, public_no FROM reports WHERE reporter_id = 4030")
    card = await next_with(room, first["public_no"])
    assert "1 位居民关注" in text_of(card)

    bo = bed.person(4031, "Bo", language_code="en")
    await walk_to(bo, "location")
    await bo.share_location(*north_of(HOME, 70))
    await bo.expect_message(contains="Location received")
    offer = await bo.expect_message(contains="already reported this kind of problem nearby")
    await bo.press(offer, "is mine too")
    await bo.expect_message(contains="now counts 2 residents")

    card = await room.expect_edit(card, "2 位居民关注", timeout=5)
    assert "1 位居民关注" not in text_of(card) and inline_buttons(card)  # the buttons stay
    # Through the outbox, like every card edit: the row is marked sent once Telegram's answer is back.
    await eventually(
        lambda: bed.db.fetchone(
            "SELECT 1 FROM outbox WHERE ref = ? AND state = 'sent'", (f"report_card:{first['id']}:edit",)
        ),
        timeout=5,
    )
