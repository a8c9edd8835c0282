"""Filing a report, as rows: the per-person limits, the public number, the report with its photos and follower."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiosqlite

from bot.cases.config import ReportPolicy
from bot.cases.drafts import Draft, delete_draft
from bot.cases.origins import Origin, record
from bot.cases.states import (
    MAX_PHOTOS,
    IncompleteDraft,
    Report,
    ReportLimitReached,
    ReportState,
    add_event,
    category_of,
    deadline_for,
    get_report,
    report_of,
)
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, read_rows, returned_id, take_turns
from bot.platform.worktime import WorkCalendar

NUMBERING_LOCK = 7_216_011  # PostgreSQL advisory lock key: one report numbered at a time across instances


async def check_limits(
    db: Database | aiosqlite.Connection, telegram_id: int, now: datetime, policy: ReportPolicy
) -> None:
    """Raises ReportLimitReached when the person already sent REPORTS_PER_HOUR/REPORTS_PER_DAY reports."""
    # One read for both windows: the day's reports, of which the last hour's are the newest.
    day = await read_rows(
        db,
        "SELECT created_at FROM reports WHERE reporter_id = ? AND created_at > ? ORDER BY created_at",
        (telegram_id, to_db(now - timedelta(days=1))),
    )
    for window, span, limit in (
        ("hour", timedelta(hours=1), policy.per_hour),
        ("day", timedelta(days=1), policy.per_day),
    ):
        since = to_db(now - span)
        rows = [row["created_at"] for row in day if row["created_at"] > since]
        if len(rows) >= limit:
            oldest_counted = from_db(rows[len(rows) - limit])
            raise ReportLimitReached(window, limit, oldest_counted + span)


async def next_public_no(conn: aiosqlite.Connection, now: datetime, calendar: WorkCalendar) -> str:
    """R + the city's local date + a daily sequence: R20261123-0007. Call inside the inserting transaction."""
    prefix = "R" + now.astimezone(calendar.timezone).strftime("%Y%m%d") + "-"
    await take_turns(conn, NUMBERING_LOCK)  # two instances filing at once would both read the same last number
    # A range on the unique index ('.' sorts right after '-'), rather than LIKE, which cannot use it.
    async with conn.execute(
        "SELECT MAX(public_no) FROM reports WHERE public_no >= ? AND public_no < ?",
        (prefix, prefix[:-1] + "."),
    ) as cursor:
        row = await cursor.fetchone()
    last = int(row[0].rsplit("-", 1)[1]) if row and row[0] else 0
    return f"{prefix}{last + 1:04d}"


async def insert_report(
    conn: aiosqlite.Connection,
    reporter_id: int,
    draft: Draft,
    now: datetime,
    policy: ReportPolicy,
    origin: Origin | None = None,
) -> Report:
    """The report, its photos, the audit event and the reporter as follower; the draft goes. A case from another
    channel (``origin``) has no Telegram reporter: no per-person limit, no follower, its origin recorded."""
    if draft.category is None or not draft.has_place or not draft.has_description:
        raise IncompleteDraft("category, place and description are needed")
    category = category_of(draft.category)
    if origin is None:
        await check_limits(conn, reporter_id, now, policy)
    public_no = await next_public_no(conn, now, policy.calendar)
    cursor = await conn.execute(
        """INSERT INTO reports (public_no, category, lat, lon, address_text, district, description,
               voice_file_id, anonymous, reporter_id, state, due_at, follower_count, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
        (
            public_no,
            category.code,
            draft.lat,
            draft.lon,
            draft.address_text,
            draft.district,
            draft.description or "",
            draft.voice_file_id,
            0 if draft.show_name else 1,
            reporter_id,
            ReportState.SUBMITTED.value,
            to_db(deadline_for(category, now, policy.calendar)),
            1 if origin is None else 0,
            to_db(now),
            to_db(now),
        ),
    )
    report_id = await returned_id(cursor) or 0
    if origin is None:
        event_id = await add_event(
            conn, report_id, "transition", reporter_id, "resident", None, ReportState.SUBMITTED, "", True, now
        )
    else:  # the audit trail names the channel and the sender's photo link (staff only); no Telegram actor
        note = f"media_url: {origin.media_url}" if origin.media_url else ""
        event_id = await add_event(
            conn, report_id, "transition", None, origin.channel, None, ReportState.SUBMITTED, note, False, now
        )
        await record(conn, report_id, origin, now)
    for file_id in draft.photos[:MAX_PHOTOS]:
        await conn.execute(
            "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) VALUES (?, ?, 'report', ?, ?)",
            (report_id, file_id, event_id, to_db(now)),
        )
    if origin is None:
        await conn.execute(
            "INSERT INTO report_followers (report_id, telegram_id, created_at) VALUES (?, ?, ?)",
            (report_id, reporter_id, to_db(now)),
        )
        await delete_draft(conn, reporter_id)
    return await get_report(conn, report_id)


async def filed_since(db: Database, reporter_id: int, since: datetime) -> Report | None:
    """The first report the person filed at or after ``since``: what a review card shown then was submitted as."""
    row = await db.fetchone(
        "SELECT * FROM reports WHERE reporter_id = ? AND created_at >= ? ORDER BY created_at, id LIMIT 1",
        (reporter_id, to_db(since)),
    )
    return None if row is None else report_of(row)


async def latest_filed_by(db: Database, reporter_id: int) -> Report | None:
    row = await db.fetchone(
        "SELECT * FROM reports WHERE reporter_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (reporter_id,)
    )
    return None if row is None else report_of(row)
