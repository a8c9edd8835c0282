"""Area alerts: /alerts near a place or in a district; one short message per new report, never the reporter; at
most one a minute per person (the rest folded into the next); a daily digest when chosen; removing an alert."""

from __future__ import annotations

from datetime import timedelta

from bot.cases import area_alerts
from tests.support.driver import Person, TestBed, inline_buttons, text_of
from tests.support.report_steps import HOME, file_behind_the_scenes, north_of


async def subscribe_near(person: Person, radius: str, cadence: str = "Each report") -> dict:
    """Drives /alerts → near a place → the shared location → the radius → the cadence; returns the confirmation."""
    await person.send("/alerts")
    listing = await person.expect_message(contains="area alerts")
    await person.press(listing, "Near a place")
    await person.expect_message(contains="Share the place you want to hear about")
    await person.share_location(*HOME)
    await person.expect_message(contains="Place received")
    radii = await person.expect_message(contains="How far around this place?")
    assert [b["text"] for b in inline_buttons(radii)] == ["300 m", "1 km", "3 km"]
    await person.press(radii, radius)
    choice = await person.expect_edit(radii, "How would you like")
    await person.press(choice, cadence)
    return await person.expect_edit(radii, "Done")


async def pushes_to(bed: TestBed, telegram_id: int) -> list[str]:
    rows = await bed.db.fetchall(
        "SELECT params FROM outbox WHERE chat_id = ? AND ref = ? ORDER BY id",
        (telegram_id, f"area_alert:{telegram_id}"),
    )
    return [row["params"] for row in rows]


async def test_an_alert_within_1_km_and_none_at_3_1_km(bed: TestBed) -> None:
    li = bed.person(5001, "Li", language_code="en")
    done = await subscribe_near(li, "1 km")
    assert "within 1 km of the place you shared" in text_of(done) and "each report, right away" in text_of(done)
    zhou = bed.person(5002, "Zhou", language_code="en")
    await subscribe_near(zhou, "3 km")
    rows = await bed.db.fetchall("SELECT telegram_id, kind, radius_m, cadence FROM alert_subscriptions ORDER BY id")
    assert [tuple(row) for row in rows] == [(5001, "near", 1000.0, "instant"), (5002, "near", 3000.0, "instant")]

    bed.person(5009, "Wang Reporter", language_code="en")
    near = await file_behind_the_scenes(bed, reporter=5009, place=north_of(HOME, 800))
    bed.services.wake_outbox()
    alert = await li.expect_message(contains="New report")
    assert text_of(alert) == (
        f"🔔 New report {near.public_no}, 800 m from your place: 🗑 Exposed garbage, sanitation. "
        "State: submitted, waiting for staff.\n/alerts to change your alerts."
    )
    assert "Wang" not in text_of(alert)  # never the reporter
    await zhou.expect_message(contains=near.public_no)

    await bed.services.advance_clock(timedelta(minutes=2))  # the cap is not what keeps the next one away
    far = await file_behind_the_scenes(bed, reporter=5009, place=north_of(HOME, 3100))
    bed.services.wake_outbox()
    await li.expect_no_message(wait=1.0)
    await zhou.expect_no_message()
    assert await bed.db.fetchone("SELECT 1 FROM alert_pending WHERE report_id = ?", (far.id,)) is None

    own = await file_behind_the_scenes(bed, reporter=5001, place=north_of(HOME, 100))  # Li's own report
    bed.services.wake_outbox()
    await zhou.expect_message(contains=own.public_no)
    await li.expect_no_message()
    assert len(await pushes_to(bed, 5001)) == 1


async def test_at_most_one_a_minute_the_rest_folded_into_the_next(bed: TestBed) -> None:
    assert bed.services is not None
    chen = bed.person(5011, "Chen", language_code="en")
    await subscribe_near(chen, "3 km")
    first = await file_behind_the_scenes(bed, reporter=5019, place=north_of(HOME, 200))
    bed.services.wake_outbox()
    await chen.expect_message(contains=first.public_no)
    held = [
        await file_behind_the_scenes(bed, reporter=5019, place=north_of(HOME, 400), category="noise"),
        await file_behind_the_scenes(bed, reporter=5019, place=north_of(HOME, 600), category="facility"),
    ]
    bed.services.wake_outbox()
    await chen.expect_no_message(wait=1.0)  # within the minute: held, not sent
    pending = await bed.db.fetchall("SELECT report_id, cadence FROM alert_pending WHERE telegram_id = 5011")
    assert sorted(row["report_id"] for row in pending) == sorted(r.id for r in held)

    await bed.services.advance_clock(timedelta(seconds=61))
    folded = await chen.expect_message(contains="2 new reports in your alert areas")
    for report in held:
        assert report.public_no in text_of(folded)
    assert "400 m" in text_of(folded) and "600 m" in text_of(folded)
    await chen.expect_no_message()
    assert len(await pushes_to(bed, 5011)) == 2  # three reports, two messages
    assert await bed.db.fetchone("SELECT 1 FROM alert_pending WHERE telegram_id = 5011") is None


async def test_a_district_alert_as_a_daily_digest_in_chinese(bed: TestBed) -> None:
    assert bed.services is not None
    he = bed.person(5021, "He", language_code="zh-hans")
    await he.send("/alerts")
    listing = await he.expect_message(contains="区域提醒")
    await he.press(listing, "一个区")
    districts = await he.expect_edit(listing, "哪个区")
    await he.press(districts, "武汉经开区")
    choice = await he.expect_edit(listing, "怎样")
    await he.press(choice, "每日摘要")
    await he.expect_edit(listing, "好了")
    row = await bed.db.fetchone("SELECT kind, area_code, cadence FROM alert_subscriptions WHERE telegram_id = 5021")
    assert tuple(row) == ("district", "wuhan-edz", "daily")
    [digest] = await area_alerts_pending(bed, 5021)

    reports = [await file_behind_the_scenes(bed, reporter=5029, category=c) for c in ("garbage", "noise")]
    bed.services.wake_outbox()
    await he.expect_no_message(wait=1.0)  # a digest subscriber is not told at once
    await bed.services.advance_clock(digest.due_at - bed.services.clock.now() + timedelta(seconds=1))
    message = await he.expect_message(contains="每日")
    for report in reports:
        assert report.public_no in text_of(message)
    assert "武汉经开区" in text_of(message)
    [tomorrow] = await area_alerts_pending(bed, 5021)
    assert tomorrow.due_at - digest.due_at == timedelta(days=1)

    # The bot was stopped for days: the late digest still comes, once, and plans the next one after now.
    late = await file_behind_the_scenes(bed, reporter=5029, category="parking")
    await bed.services.advance_clock(timedelta(days=3))
    message = await he.expect_message(contains="每日")
    assert late.public_no in text_of(message) and reports[0].public_no not in text_of(message)
    await he.expect_no_message()
    [next_one] = await area_alerts_pending(bed, 5021)
    assert bed.services.clock.now() < next_one.due_at <= bed.services.clock.now() + timedelta(days=1)


async def area_alerts_pending(bed: TestBed, telegram_id: int) -> list:
    from bot.platform import reminders

    return await reminders.pending(bed.db, area_alerts.person_target(telegram_id))


async def test_removing_an_alert_stops_the_messages(bed: TestBed) -> None:
    assert bed.services is not None
    ma = bed.person(5031, "Ma", language_code="en")
    await subscribe_near(ma, "300 m")
    await ma.send("/alerts")
    listing = await ma.expect_message(contains="Your area alerts")
    assert "1. within 300 m of the place you shared (30.48000, 114.15000) — each report, right away" in text_of(listing)
    await ma.press(listing, "Remove 1")
    await ma.expect_edit(listing, "no area alerts yet")
    assert await bed.db.fetchone("SELECT 1 FROM alert_subscriptions WHERE telegram_id = 5031") is None
    await file_behind_the_scenes(bed, reporter=5039, place=north_of(HOME, 50))
    bed.services.wake_outbox()
    await ma.expect_no_message(wait=1.0)


async def test_a_place_outside_the_city_and_forged_buttons_change_nothing(bed: TestBed) -> None:
    yang = bed.person(5041, "Yang", language_code="en")
    await yang.send("/alerts")
    listing = await yang.expect_message(contains="no area alerts yet")
    await yang.press(listing, "Near a place")
    await yang.expect_message(contains="Share the place")
    await yang.share_location(39.9042, 116.4074)  # Beijing
    await yang.expect_message(contains="outside the area the city bureau serves")
    await yang.send("hello")
    await yang.expect_message(contains="Please share a location")
    await yang.send("✖️ Cancel")
    await yang.expect_message(contains="no new alert")
    for forged in ("alrt:addn:39.9042:116.4074:1000:instant", "alrt:addn:30.48:114.15:5000:instant", "alrt:rm:1"):
        answer = await yang.expect_answer(await yang.press_data(listing, forged))
        assert "no longer active" in answer["text"]
    assert await bed.db.fetchone("SELECT 1 FROM alert_subscriptions") is None


async def test_a_grid_alert_once_grids_are_imported(bed: TestBed) -> None:
    assert bed.services is not None
    from bot.cases import grid_import
    from bot.people import staff

    qin = bed.person(5051, "Qin", language_code="en")
    await qin.send("/alerts")
    listing = await qin.expect_message(contains="no area alerts yet")
    assert "🗺 A grid" not in [b["text"] for b in inline_buttons(listing)]  # no grids yet, no such choice
    officer = bed.person(5059, "Officer", language_code="en")  # the grids' officer joins with an invite
    admin = frozenset({9001})
    invite = await staff.create_invite(bed.db, 9001, staff.Role.OFFICER, None, bed.services.clock.now(), admin)
    await officer.send(f"/join {invite.code}")
    await officer.expect_message()
    await grid_import.load_sample_grids(bed.db, bed.services.service_area, 5059, bed.services.clock.now())

    await qin.send("/alerts")
    listing = await qin.expect_message(contains="no area alerts yet")
    await qin.press(listing, "A grid")
    await qin.expect_edit(listing, "The grids of which district?")
    await qin.press(qin.current(listing), "Wuhan")
    await qin.expect_edit(listing, "Which grid?")
    await qin.press(qin.current(listing), "沌阳网格")
    await qin.expect_edit(listing, "in grid 沌阳网格?")
    await qin.press(qin.current(listing), "Each report")
    done = await qin.expect_edit(listing, "Done")
    assert "in grid 沌阳网格" in text_of(done)
    row = await bed.db.fetchone("SELECT kind, area_code FROM alert_subscriptions WHERE telegram_id = 5051")
    assert tuple(row) == ("grid", "edz-g01")

    inside = await file_behind_the_scenes(bed, reporter=5058)  # HOME lies in 沌阳网格
    bed.services.wake_outbox()
    await qin.expect_message(contains=inside.public_no)
    await bed.services.advance_clock(timedelta(minutes=2))
    await file_behind_the_scenes(bed, reporter=5058, place=(30.50, 114.17))  # 东风网格, the same district
    bed.services.wake_outbox()
    await qin.expect_no_message(wait=1.0)


async def test_a_menu_button_instead_of_a_place_goes_to_its_journey(bed: TestBed) -> None:
    wei = bed.person(5061, "Wei", language_code="en")
    await wei.send("/alerts")
    listing = await wei.expect_message(contains="no area alerts yet")
    await wei.press(listing, "Near a place")
    await wei.expect_message(contains="Share the place")
    await wei.send("🛒 Where can I sell?")  # changed their mind: the vendor journey answers, not the alerts
    choices = await wei.expect_message()
    assert "Please share a location" not in text_of(choices) and inline_buttons(choices)
    await wei.share_location(*HOME)  # now it is the vendor journey's location
    answer = await wei.expect_message()
    assert "Place received" not in text_of(answer) and "How far" not in text_of(answer)
    assert await bed.db.fetchone("SELECT 1 FROM alert_subscriptions") is None
