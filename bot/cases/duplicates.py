"""并单: open reports of the same kind nearby, offered before filing, and following one instead ("mine too")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.cases.drafts import delete_draft
from bot.cases.states import (
    NEARBY_SHOWN,
    OPEN_STATES,
    InvalidTransition,
    Report,
    add_event,
    get_report,
    report_of,
)
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import bounding_box, haversine_m


@dataclass(frozen=True)
class NearbyReport:
    report: Report
    distance_m: float


@dataclass(frozen=True)
class FollowResult:
    report: Report
    already_following: bool


async def find_nearby_open(
    db: Database, category: str, lat: float, lon: float, radius_m: float, limit: int = NEARBY_SHOWN
) -> list[NearbyReport]:
    """Open reports of the category within radius_m, nearest first: a bounding box on the index, then haversine."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    placeholders = ",".join("?" * len(OPEN_STATES))
    rows = await db.fetchall(
        f"""SELECT * FROM reports WHERE category = ? AND state IN ({placeholders})
            AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?""",
        (category, *sorted(OPEN_STATES), min_lat, max_lat, min_lon, max_lon),
    )
    within = [
        (distance, row) for row in rows if (distance := haversine_m(lat, lon, row["lat"], row["lon"])) <= radius_m
    ]
    within.sort(key=lambda item: (item[0], -item[1]["id"]))
    # Only the shown ones become Reports: a busy corner can have hundreds open, and reading a row's dates costs.
    return [NearbyReport(report_of(row), distance) for distance, row in within[:limit]]


async def add_follower(conn: aiosqlite.Connection, report_id: int, telegram_id: int, now: datetime) -> FollowResult:
    """The person follows the open report (+1) and their draft goes; inside the caller's transaction."""
    report = await get_report(conn, report_id)
    if not report.is_open:
        raise InvalidTransition(report_id, report.state, report.state)
    cursor = await conn.execute(
        "INSERT INTO report_followers (report_id, telegram_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (report_id, telegram_id, to_db(now)),
    )
    already = cursor.rowcount == 0
    if not already:
        await conn.execute(
            "UPDATE reports SET follower_count = follower_count + 1, updated_at = ? WHERE id = ?",
            (to_db(now), report_id),
        )
        await add_event(conn, report_id, "follow", telegram_id, "resident", None, None, "", False, now)
    await delete_draft(conn, telegram_id)
    return FollowResult(await get_report(conn, report_id), already)
