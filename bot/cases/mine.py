"""The resident's view of their cases: the list of what they filed or follow, one case's public steps, their notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.cases.states import (
    WITHDRAWABLE,
    Report,
    ReportEvent,
    ReportState,
    add_event,
    event_of,
    visible_report,
)
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database


@dataclass(frozen=True)
class ReportSummary:
    """One line of "my reports"."""

    id: int
    public_no: str
    category: str
    state: ReportState
    created_at: datetime
    mine: bool  # reported by this person (else followed: "mine too")


@dataclass(frozen=True)
class ReportPage:
    items: tuple[ReportSummary, ...]
    offset: int
    total: int


@dataclass(frozen=True)
class ReportDetail:
    report: Report
    events: tuple[ReportEvent, ...]  # what the viewer may see, oldest first
    photo_count: int  # for a follower, the photos not hidden by a moderator
    mine: bool
    description_hidden: bool = False  # by a moderator: a follower other than the reporter does not see it

    @property
    def can_withdraw(self) -> bool:
        return self.mine and self.report.state in WITHDRAWABLE


async def list_for_user(db: Database, telegram_id: int, offset: int = 0, limit: int = 5) -> ReportPage:
    """The reports a person filed or follows, newest first."""
    where = "FROM reports r JOIN report_followers f ON f.report_id = r.id WHERE f.telegram_id = ?"
    total_row = await db.fetchone(f"SELECT COUNT(*) {where}", (telegram_id,))
    rows = await db.fetchall(
        f"SELECT r.* {where} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
        (telegram_id, limit, max(0, offset)),
    )
    items = tuple(
        ReportSummary(
            row["id"],
            row["public_no"],
            row["category"],
            ReportState(row["state"]),
            from_db(row["created_at"]),
            row["reporter_id"] == telegram_id,
        )
        for row in rows
    )
    return ReportPage(items, max(0, offset), int(total_row[0]) if total_row else 0)


async def detail_for_user(db: Database, report_id: int, telegram_id: int) -> ReportDetail:
    """The report as its reporter or a follower sees it; ReportNotFound for anyone else."""
    report = await visible_report(db, report_id, telegram_id)
    rows = await db.fetchall(
        """SELECT * FROM report_events WHERE report_id = ?
           AND (kind IN ('transition', 'reply') OR (kind = 'info' AND actor_id = ?)) ORDER BY id""",
        (report_id, telegram_id),
    )
    events = tuple(event_of(row) for row in rows)
    mine = report.reporter_id == telegram_id
    count = await db.fetchone(
        "SELECT COUNT(*) FROM report_photos WHERE report_id = ? AND kind = 'report' AND (hidden = 0 OR ?)",
        (report_id, int(mine)),
    )
    hidden = await db.fetchone("SELECT description_hidden FROM reports WHERE id = ?", (report_id,))
    return ReportDetail(report, events, int(count[0]) if count else 0, mine, bool(hidden and hidden[0]) and not mine)


async def insert_info(
    conn: aiosqlite.Connection,
    report_id: int,
    telegram_id: int,
    text: str | None,
    photo_file_id: str | None,
    now: datetime,
) -> tuple[Report, ReportEvent]:
    """The follower's note (text or photo) on a case they can see, as an event of its own."""
    report = await visible_report(conn, report_id, telegram_id)
    event_id = await add_event(conn, report_id, "info", telegram_id, "resident", None, None, text or "", False, now)
    if photo_file_id:
        await conn.execute(
            "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) VALUES (?, ?, 'info', ?, ?)",
            (report_id, photo_file_id, event_id, to_db(now)),
        )
    await conn.execute("UPDATE reports SET updated_at = ? WHERE id = ?", (to_db(now), report_id))
    async with conn.execute("SELECT * FROM report_events WHERE id = ?", (event_id,)) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return report, event_of(row)
