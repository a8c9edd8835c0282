"""Vendors following spots: subscribing schedules the spot's reminder in the same transaction, leaving cancels it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.platform.clock import to_db
from bot.platform.db import Database, Reader, read_rows
from bot.vending import reminders
from bot.vending.spots import SPOT_COLUMNS, Spot, SpotNotFound, exceptions_since, spot_from_row


@dataclass(frozen=True)
class Subscriber:
    user_id: int
    language: str


async def is_subscribed(source: Reader, user_id: int, spot_id: int) -> bool:
    rows = await read_rows(source, "SELECT 1 FROM subscriptions WHERE user_id = ? AND spot_id = ?", (user_id, spot_id))
    return bool(rows)


async def subscribers_of(source: Reader, spot_id: int) -> list[Subscriber]:
    """Who to tell about the spot, each in their chosen language (or the one they subscribed in)."""
    rows = await read_rows(
        source,
        """SELECT s.user_id, COALESCE(u.language, s.language) AS language FROM subscriptions s
           LEFT JOIN users u ON u.telegram_id = s.user_id
           WHERE s.spot_id = ? AND COALESCE(u.blocked_bot, 0) = 0 ORDER BY s.user_id""",
        (spot_id,),
    )
    return [Subscriber(row["user_id"], row["language"]) for row in rows]


async def subscribe(
    db: Database, user_id: int, spot_id: int, language: str, now: datetime, timing: reminders.Timing
) -> bool:
    """Subscribes the vendor to the spot's reminders and news; False if they already were."""
    async with db.transaction() as conn:
        rows = await read_rows(conn, "SELECT status FROM spots WHERE id = ?", (spot_id,))
        if not rows:
            raise SpotNotFound(spot_id)
        cursor = await conn.execute(
            "INSERT INTO subscriptions (user_id, spot_id, language, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, spot_id) DO NOTHING",
            (user_id, spot_id, language, to_db(now)),
        )
        await reminders.schedule_spot_reminder(conn, spot_id, user_id, timing, now, now)
        return cursor.rowcount > 0


async def unsubscribe(db: Database, user_id: int, spot_id: int) -> bool:
    """Removes the subscription and its reminder; False if there was none."""
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM subscriptions WHERE user_id = ? AND spot_id = ?", (user_id, spot_id))
        await reminders.cancel_spot_reminder(conn, spot_id, user_id)
        return cursor.rowcount > 0


async def subscriptions_of(source: Reader, user_id: int, now: datetime, tz: tzinfo) -> list[Spot]:
    rows = await read_rows(
        source,
        f"""SELECT {SPOT_COLUMNS} FROM subscriptions sub JOIN spots s ON s.id = sub.spot_id
            WHERE sub.user_id = :user ORDER BY s.name""",
        {"user": user_id, "since": exceptions_since(now, tz)},
    )
    return [spot_from_row(row) for row in rows]
