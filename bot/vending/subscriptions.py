"""Vendors following spots: subscribing schedules the spot's reminder in the same transaction, leaving cancels it."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.vending import reminders
from bot.vending.spots import _SPOT_COLUMNS, Reader, Spot, SpotNotFound, _rows, _since, _spot_from_row


async def subscribe(
    db: Database, user_id: int, spot_id: int, language: str, now: datetime, timing: reminders.Timing
) -> bool:
    """Subscribes the vendor to the spot's reminders and news; False if they already were."""
    async with db.transaction() as conn:
        rows = await _rows(conn, "SELECT status FROM spots WHERE id = ?", (spot_id,))
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
    rows = await _rows(
        source,
        f"""SELECT {_SPOT_COLUMNS} FROM subscriptions sub JOIN spots s ON s.id = sub.spot_id
            WHERE sub.user_id = :user ORDER BY s.name""",
        {"user": user_id, "since": _since(now, tz)},
    )
    return [_spot_from_row(row) for row in rows]
