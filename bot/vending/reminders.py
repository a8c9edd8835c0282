"""The spot reminders ("your spot opens in 30 minutes"): scheduled by the transaction that changes a subscription.

One reminder per vendor and spot is pending at a time, before the spot's next opening; firing it tells the vendor
(if the spot still opens then and they still follow it) and schedules the one before the opening after.
bot/scheduled.py calls :func:`fire_spot_reminder` for the reminders of kind :data:`SPOT_OPENS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import aiosqlite

from bot.platform import reminders
from bot.platform.clock import from_db, to_db
from bot.platform.config import Settings
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder
from bot.platform.services import Services
from bot.platform.text import ADDRESS_SHOWN, TITLE_SHOWN, escape
from bot.vending import spots

SPOT_OPENS = "spot_opens"


@dataclass(frozen=True)
class Timing:
    """How long before an opening a vendor hears of it, and the city's zone its hours are in."""

    tz: tzinfo
    before: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(settings.timezone, settings.spot_reminder_before)


def spot_target(spot_id: int, user_id: int) -> str:
    return f"spot:{spot_id}:user:{user_id}"


def spot_targets_of(user_id: int) -> str:
    """A LIKE pattern matching the targets of every spot reminder of one person."""
    return f"spot:%:user:{user_id}"


async def schedule_spot_reminder(
    conn: aiosqlite.Connection, spot_id: int, user_id: int, timing: Timing, now: datetime, after: datetime
) -> datetime | None:
    """Schedules the reminder before the spot's first opening after ``after`` (date exceptions respected)."""
    target = spot_target(spot_id, user_id)
    await reminders.cancel(conn, target, (SPOT_OPENS,))
    try:
        spot = await spots.get_spot(conn, spot_id, now, timing.tz)
    except spots.SpotNotFound:
        return None
    if spot.status == spots.STATUS_RELOCATED:
        return None
    opening = spots.next_opening(spot, after + timing.before, timing.tz)
    if opening is None:
        return None
    due = opening.opens_at - timing.before
    await reminders.schedule(conn, SPOT_OPENS, target, due, now, {"opens_at": to_db(opening.opens_at)})
    return due


async def cancel_spot_reminder(conn: aiosqlite.Connection, spot_id: int, user_id: int) -> None:
    await reminders.cancel(conn, spot_target(spot_id, user_id), (SPOT_OPENS,))


async def reschedule_spot_reminders(conn: aiosqlite.Connection, spot_id: int, timing: Timing, now: datetime) -> None:
    """Every follower of the spot gets the reminder before its next opening (after its hours or status changed)."""
    async with conn.execute("SELECT user_id FROM subscriptions WHERE spot_id = ? ORDER BY user_id", (spot_id,)) as c:
        followers = [row["user_id"] for row in await c.fetchall()]
    for user_id in followers:
        await schedule_spot_reminder(conn, spot_id, user_id, timing, now, now)


async def ensure_spot_reminders(services: Services, now: datetime) -> int:
    """At start: every subscription has its next reminder (a subscription made while it could not be, gets one)."""
    rows = await services.db.fetchall(
        "SELECT s.spot_id, s.user_id FROM subscriptions AS s WHERE NOT EXISTS ("
        "  SELECT 1 FROM reminders AS r WHERE r.state = 'pending' AND r.kind = ? "
        "  AND r.target = 'spot:' || s.spot_id || ':user:' || s.user_id)",
        (SPOT_OPENS,),
    )
    if not rows:
        return 0
    timing = Timing.of(services.settings)
    async with services.db.transaction() as conn:
        for row in rows:
            await schedule_spot_reminder(conn, row["spot_id"], row["user_id"], timing, now, now)
    return len(rows)


async def _muted(conn: aiosqlite.Connection, telegram_id: int) -> bool:
    async with conn.execute(
        "SELECT reminders_muted, blocked_bot FROM users WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and (row["reminders_muted"] or row["blocked_bot"]))


async def fire_spot_reminder(conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime) -> None:
    """Tells a vendor their spot opens soon (if it still will, and they still follow it); schedules the next."""
    _, spot_id, _, user_id = reminder.target.split(":")
    async with conn.execute(
        "SELECT 1 FROM subscriptions WHERE spot_id = ? AND user_id = ?", (int(spot_id), int(user_id))
    ) as cursor:
        if await cursor.fetchone() is None:
            return
    opens_at = from_db(reminder.payload["opens_at"])
    timing = Timing.of(services.settings)
    try:
        spot = await spots.get_spot(conn, int(spot_id), now, timing.tz)
    except spots.SpotNotFound:
        return
    # Closed meanwhile (a date exception, a temporary closure) or already open: nothing to announce.
    opening = spots.current_opening(spot, opens_at, timing.tz)
    if opening is not None and now < opens_at and not await _muted(conn, int(user_id)):
        t = await services.lang_for(int(user_id))
        text = t._(
            "🔔 {spot} opens {when}: {hours}. Address: {address}",
            spot=escape(spot.title(t.code), TITLE_SHOWN),
            when=t.relative(opens_at, now),
            hours=spots.opening_text(t, opening),
            address=escape(spot.place(t.code), ADDRESS_SHOWN),
        )
        await enqueue_text(conn, int(user_id), text, now, dedupe_key=f"reminder:{reminder.id}")
    await schedule_spot_reminder(conn, int(spot_id), int(user_id), timing, now, max(now, opens_at))
