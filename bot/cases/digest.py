"""The staff group's morning digest: per category, new in the last day, open now and overdue now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.cases.config import Desk, next_daily
from bot.cases.states import CATEGORIES, OPEN_STATES, category_of
from bot.platform import reminders
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder
from bot.platform.text import fit

DIGEST = "digest"
DIGEST_TARGET = "digest"
STALE_AFTER = timedelta(hours=6)


def next_digest_at(desk: Desk, now: datetime) -> datetime:
    """The next DIGEST_TIME in the city's zone."""
    return next_daily(desk.timing.digest_time, desk.timezone, now)


async def ensure_digest(db: Database, desk: Desk, now: datetime) -> None:
    """At start: makes sure the next digest is scheduled (once) when there is a staff group."""
    if desk.staff_chat_id is None:
        return
    if any(r.kind == DIGEST for r in await reminders.pending(db, DIGEST_TARGET)):
        return
    async with db.transaction() as conn:
        await reminders.schedule(conn, DIGEST, DIGEST_TARGET, next_digest_at(desk, now), now)


@dataclass(frozen=True)
class DigestLine:
    category: str
    new: int
    open: int
    overdue: int


async def digest_counts(db: Any, now: datetime) -> list[DigestLine]:
    """Per category: new in the last 24 hours, open now, overdue now."""
    open_states = tuple(state.value for state in OPEN_STATES)
    marks = ", ".join("?" for _ in open_states)
    rows = await db.fetchall(
        f"""SELECT category,
                   SUM(CASE WHEN created_at > ? THEN 1 ELSE 0 END) AS new,
                   SUM(CASE WHEN state IN ({marks}) THEN 1 ELSE 0 END) AS open,
                   SUM(CASE WHEN state IN ({marks}) AND due_at < ? THEN 1 ELSE 0 END) AS overdue
            FROM reports GROUP BY category""",
        (to_db(now - timedelta(days=1)), *open_states, *open_states, to_db(now)),
    )
    counts = {row["category"]: row for row in rows}
    lines = []
    for category in CATEGORIES:
        row = counts.get(category.code)
        if row and (row["new"] or row["open"] or row["overdue"]):
            lines.append(DigestLine(category.code, int(row["new"]), int(row["open"]), int(row["overdue"])))
    return lines


async def send_digest(conn: aiosqlite.Connection, reminder: Reminder, db: Database, now: datetime, desk: Desk) -> None:
    """When due: the staff group's digest; schedules tomorrow's."""
    await reminders.schedule(conn, DIGEST, DIGEST_TARGET, next_digest_at(desk, now), now)
    chat_id = desk.staff_chat_id
    if chat_id is None:
        return
    t = desk.staff_lang
    lines = await digest_counts(db, now)
    body = [t._("📊 Daily digest, {date}", date=t.date(now.astimezone(desk.timezone).date()))]
    if not lines:
        body.append(t._("No new, open or overdue cases. A quiet day."))
    for line in lines:
        body.append(
            t._(
                "{category}: {new} new · {open} open · {overdue} overdue",
                category=t._(category_of(line.category).name),
                new=line.new,
                open=line.open,
                overdue=line.overdue,
            )
        )
    total = [sum(getattr(line, name) for line in lines) for name in ("new", "open", "overdue")]
    body.append(
        t._("In all: {new} new · {open} open · {overdue} overdue", new=total[0], open=total[1], overdue=total[2])
    )
    await enqueue_text(conn, chat_id, fit("\n".join(body)), now, dedupe_key=f"reminder:{reminder.id}")
