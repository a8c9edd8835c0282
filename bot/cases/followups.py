"""The spot reminders ("your spot opens in 30 minutes"), until they move to bot/vending.

The case timers, the draft nudge and the digest moved to bot/cases (timers, drafts, digest); the firing of every
reminder kind is bot/scheduled.py.
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.platform import reminders
from bot.platform.clock import from_db, to_db
from bot.platform.config import Settings
from bot.platform.i18n import Lang
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder
from bot.platform.services import Services
from bot.platform.text import ADDRESS_SHOWN, TITLE_SHOWN, escape
from bot.vending import spots


def install(settings: Settings) -> None:
    """Schedules a spot's reminder when a vendor subscribes (until spots' subscription hooks go)."""

    async def on_subscription(
        conn: aiosqlite.Connection, user_id: int, spot_id: int, subscribed: bool, now: datetime | None
    ) -> None:
        if subscribed and now is not None:
            await schedule_spot_reminder(conn, spot_id, user_id, settings, now, now)
        else:
            await cancel_spot_reminder(conn, spot_id, user_id)

    spots.SUBSCRIPTION_HOOKS["followups"] = on_subscription


async def _lang(services: Services, telegram_id: int) -> Lang:
    return await services.lang_for(telegram_id)


async def _muted(conn: aiosqlite.Connection, telegram_id: int) -> bool:
    async with conn.execute(
        "SELECT reminders_muted, blocked_bot FROM users WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and (row["reminders_muted"] or row["blocked_bot"]))


# ------------------------------------------------------------------ "your spot opens in 30 minutes"
SPOT_OPENS = "spot_opens"


def spot_target(spot_id: int, user_id: int) -> str:
    return f"spot:{spot_id}:user:{user_id}"


def spot_targets_of(user_id: int) -> str:
    """A LIKE pattern matching the targets of every spot reminder of one person."""
    return f"spot:%:user:{user_id}"


async def schedule_spot_reminder(
    conn: aiosqlite.Connection, spot_id: int, user_id: int, settings: Settings, now: datetime, after: datetime
) -> datetime | None:
    """Schedules the reminder before the spot's first opening after ``after`` (date exceptions respected)."""
    target = spot_target(spot_id, user_id)
    await reminders.cancel(conn, target, (SPOT_OPENS,))
    try:
        spot = await spots.get_spot(conn, spot_id, now, settings.timezone)
    except spots.SpotNotFound:
        return None
    if spot.status == spots.STATUS_RELOCATED:
        return None
    opening = spots.next_opening(spot, after + settings.spot_reminder_before, settings.timezone)
    if opening is None:
        return None
    due = opening.opens_at - settings.spot_reminder_before
    await reminders.schedule(conn, SPOT_OPENS, target, due, now, {"opens_at": to_db(opening.opens_at)})
    return due


async def cancel_spot_reminder(conn: aiosqlite.Connection, spot_id: int, user_id: int) -> None:
    await reminders.cancel(conn, spot_target(spot_id, user_id), (SPOT_OPENS,))


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
    async with services.db.transaction() as conn:
        for row in rows:
            await schedule_spot_reminder(conn, row["spot_id"], row["user_id"], services.settings, now, now)
    return len(rows)


async def remind_spot_opening(
    conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime
) -> None:
    """Tells a vendor their spot opens soon (if it still will, and they still follow it); schedules the next."""
    _, spot_id, _, user_id = reminder.target.split(":")
    async with conn.execute(
        "SELECT 1 FROM subscriptions WHERE spot_id = ? AND user_id = ?", (int(spot_id), int(user_id))
    ) as cursor:
        if await cursor.fetchone() is None:
            return
    opens_at = from_db(reminder.payload["opens_at"])
    settings = services.settings
    try:
        spot = await spots.get_spot(conn, int(spot_id), now, settings.timezone)
    except spots.SpotNotFound:
        return
    # Closed meanwhile (a date exception, a temporary closure) or already open: nothing to announce.
    opening = spots.current_opening(spot, opens_at, settings.timezone)
    if opening is not None and now < opens_at and not await _muted(conn, int(user_id)):
        t = await _lang(services, int(user_id))
        text = t._(
            "🔔 {spot} opens {when}: {hours}. Address: {address}",
            spot=escape(spot.title(t.code), TITLE_SHOWN),
            when=t.relative(opens_at, now),
            hours=spots.opening_text(t, opening),
            address=escape(spot.place(t.code), ADDRESS_SHOWN),
        )
        await enqueue_text(conn, int(user_id), text, now, dedupe_key=f"reminder:{reminder.id}")
    await schedule_spot_reminder(conn, int(spot_id), int(user_id), settings, now, max(now, opens_at))
