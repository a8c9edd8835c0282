"""Vendors who follow a spot hear before it opens — and not when it will not open after all."""

from __future__ import annotations

from datetime import timedelta

from bot.platform import reminders
from bot.vending import hours, spots, staff_actions, subscriptions
from bot.vending.reminders import Timing, spot_target
from tests.support.driver import Person, TestBed, text_of


async def vendor_and_spot(bed: TestBed) -> tuple[Person, spots.Spot, hours.Opening]:
    assert bed.services is not None
    vendor = bed.person(8101, "Li", "en")
    await vendor.send("/start")
    await vendor.expect_message(contains="Hello, Li")
    now, tz = bed.services.clock.now(), bed.services.timezone
    for row in await bed.db.fetchall("SELECT id FROM spots WHERE status = 'open' ORDER BY id"):
        spot = await spots.get_spot(bed.db, row["id"], now, tz)
        opening = spots.next_opening(spot, now + timedelta(minutes=30), tz)
        if opening is not None and opening.opens_at - now > timedelta(hours=1):
            return vendor, spot, opening
    raise AssertionError("the sample data has no spot opening later")


async def test_a_vendor_is_reminded_before_each_opening(bed: TestBed) -> None:
    assert bed.services is not None
    vendor, spot, opening = await vendor_and_spot(bed)
    assert await subscriptions.subscribe(
        bed.db, vendor.id, spot.id, "en", bed.services.clock.now(), Timing.of(bed.services.settings)
    )
    [pending] = await reminders.pending(bed.db, spot_target(spot.id, vendor.id))
    assert pending.due_at == opening.opens_at - timedelta(minutes=30)

    await bed.services.advance_clock(pending.due_at - bed.services.clock.now() + timedelta(seconds=1))
    reminder = await vendor.expect_message(contains="opens in 30 minutes")
    assert spot.title("en") in text_of(reminder)
    [following] = await reminders.pending(bed.db, spot_target(spot.id, vendor.id))
    assert following.due_at > opening.opens_at  # the next opening is already scheduled


async def test_unsubscribing_cancels_the_reminder(bed: TestBed) -> None:
    assert bed.services is not None
    vendor, spot, _ = await vendor_and_spot(bed)
    await subscriptions.subscribe(
        bed.db, vendor.id, spot.id, "en", bed.services.clock.now(), Timing.of(bed.services.settings)
    )
    assert await subscriptions.unsubscribe(bed.db, vendor.id, spot.id)
    assert await reminders.pending(bed.db, spot_target(spot.id, vendor.id)) == []


async def test_a_spot_closed_for_the_day_sends_no_opening_reminder(bed: TestBed) -> None:
    assert bed.services is not None
    vendor, spot, opening = await vendor_and_spot(bed)
    now, timing = bed.services.clock.now(), Timing.of(bed.services.settings)
    await subscriptions.subscribe(bed.db, vendor.id, spot.id, "en", now, timing)
    async with bed.db.transaction() as conn:
        await staff_actions.close_spot(conn, spot.id, opening.closes_at, "road works", now, timing=timing)
    bed.services.wake_outbox()
    await vendor.expect_message(contains="road works")  # the closure news, at once
    [pending] = await reminders.pending(bed.db, spot_target(spot.id, vendor.id))
    await bed.services.advance_clock(pending.due_at - bed.services.clock.now() + timedelta(seconds=1))
    await vendor.expect_no_message(wait=1.5)


async def test_reminders_are_restored_for_subscriptions_at_start(bed: TestBed) -> None:
    assert bed.services is not None
    vendor, spot, _ = await vendor_and_spot(bed)
    async with bed.db.transaction() as conn:  # a subscription written without its reminder (e.g. an import)
        await conn.execute(
            "INSERT INTO subscriptions (user_id, spot_id, language, created_at) VALUES (?, ?, 'en', '2026-01-01')",
            (vendor.id, spot.id),
        )
    assert await reminders.pending(bed.db, spot_target(spot.id, vendor.id)) == []
    await bed.restart()
    assert len(await reminders.pending(bed.db, spot_target(spot.id, vendor.id))) == 1


async def test_a_moved_spot_hands_its_reminders_to_the_new_spot_and_a_reopened_one_plans_them_again(
    bed: TestBed,
) -> None:
    assert bed.services is not None
    vendor, spot, _ = await vendor_and_spot(bed)
    now, timing = bed.services.clock.now(), Timing.of(bed.services.settings)
    other_id = next(
        row["id"] for row in await bed.db.fetchall("SELECT id FROM spots WHERE status = 'open' AND id <> ?", (spot.id,))
    )
    await subscriptions.subscribe(bed.db, vendor.id, other_id, "en", now, timing)
    async with bed.db.transaction() as conn:  # closed until reopened: its reminder finds no opening
        await staff_actions.close_spot(conn, other_id, None, "", now, timing=timing)
        await conn.execute("DELETE FROM reminders WHERE target = ?", (spot_target(other_id, vendor.id),))
    async with bed.db.transaction() as conn:
        await staff_actions.reopen_spot(conn, other_id, now, timing=timing)
    assert len(await reminders.pending(bed.db, spot_target(other_id, vendor.id))) == 1

    await subscriptions.subscribe(bed.db, vendor.id, spot.id, "en", now, timing)
    async with bed.db.transaction() as conn:
        await staff_actions.relocate_spot(conn, spot.id, other_id, now, timing=timing)
    assert await reminders.pending(bed.db, spot_target(spot.id, vendor.id)) == []
    [following] = await reminders.pending(bed.db, spot_target(other_id, vendor.id))
    other = await spots.get_spot(bed.db, other_id, now, timing.tz)
    opening = spots.next_opening(other, now + timing.before, timing.tz)
    assert opening is not None and following.due_at == opening.opens_at - timing.before
