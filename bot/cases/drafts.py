"""A report being written: the wizard's answers as a draft row, and the nudge when one is left unfinished."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import aiosqlite

from bot import wire
from bot.cases.config import Desk, lang_of_user
from bot.cases.states import MAX_PHOTOS
from bot.platform import reminders
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder

DRAFT_NUDGE = "draft_nudge"


@dataclass
class Draft:
    """The wizard's answers so far; stored as JSON in report_drafts between steps."""

    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    address_text: str | None = None
    district: str | None = None
    description: str | None = None
    voice_file_id: str | None = None
    voice_seconds: int | None = None
    photos: list[str] = field(default_factory=list)
    show_name: bool = False
    editing: bool = False  # came from the review card: go back to it after this step
    offered: list[int] = field(default_factory=list)  # ids of the nearby reports shown as possible duplicates

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Draft:
        data = json.loads(text)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    @property
    def has_place(self) -> bool:
        return self.district is not None and (self.lat is not None or bool(self.address_text))

    @property
    def has_description(self) -> bool:
        return bool(self.description) or self.voice_file_id is not None

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None

    def add_photos(self, file_ids: Iterable[str]) -> tuple[int, int]:
        """Keeps photos up to MAX_PHOTOS; returns (added, refused)."""
        added = refused = 0
        for file_id in file_ids:
            if len(self.photos) < MAX_PHOTOS:
                self.photos.append(file_id)
                added += 1
            else:
                refused += 1
        return added, refused


@dataclass(frozen=True)
class DraftRecord:
    draft: Draft
    step: str  # the wizard step it waits at
    updated_at: datetime


async def load_draft(db: Database, telegram_id: int) -> Draft | None:
    row = await db.fetchone("SELECT data FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return Draft.from_json(row["data"]) if row else None


async def load_draft_record(db: Database, telegram_id: int) -> DraftRecord | None:
    """The draft with its step and last change (the nudge is for drafts left alone too long)."""
    row = await db.fetchone("SELECT data, step, updated_at FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return DraftRecord(Draft.from_json(row["data"]), row["step"], from_db(row["updated_at"])) if row else None


async def write_draft(conn: aiosqlite.Connection, telegram_id: int, draft: Draft, step: str, now: datetime) -> None:
    """Stores the draft and the step it waits at (one per user; a new one replaces the old)."""
    await conn.execute(
        """INSERT INTO report_drafts (telegram_id, step, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (telegram_id) DO UPDATE
           SET step = excluded.step, data = excluded.data, updated_at = excluded.updated_at""",
        (telegram_id, step, draft.to_json(), to_db(now), to_db(now)),
    )


async def delete_draft(conn: aiosqlite.Connection, telegram_id: int) -> None:
    """The draft goes (filed or discarded), and its nudge with it: a nudge left pending would settle only after
    the next retention run had passed it by, keeping the person's id in the reminders a day longer."""
    await conn.execute("DELETE FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    await reminders.cancel(conn, draft_target(telegram_id), (DRAFT_NUDGE,))


async def discard_draft(db: Database, telegram_id: int) -> None:
    async with db.transaction() as conn:
        await delete_draft(conn, telegram_id)


# ------------------------------------------------------------------ the nudge
def draft_target(telegram_id: int) -> str:
    return f"draft:{telegram_id}"


async def schedule_nudge(conn: aiosqlite.Connection, telegram_id: int, wait: timedelta, now: datetime) -> None:
    """Whenever a draft is saved: one nudge, ``wait`` (DRAFT_REMINDER_AFTER) after the last change."""
    target = draft_target(telegram_id)
    await reminders.cancel(conn, target, (DRAFT_NUDGE,))
    await reminders.schedule(conn, DRAFT_NUDGE, target, now + wait, now)


async def _muted(conn: aiosqlite.Connection, telegram_id: int) -> bool:
    async with conn.execute(
        "SELECT reminders_muted, blocked_bot FROM users WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and (row["reminders_muted"] or row["blocked_bot"]))


async def nudge(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk) -> None:
    """When due: offers to continue or discard a report left unfinished."""
    telegram_id = int(reminder.target.split(":")[1])
    async with conn.execute(
        "SELECT data, updated_at FROM report_drafts WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None or await _muted(conn, telegram_id):
        return
    if from_db(row["updated_at"]) + desk.timing.draft_reminder_after > now + timedelta(seconds=1):
        return  # touched since: a newer nudge is scheduled
    t = await lang_of_user(conn, telegram_id, desk)
    keyboard = {
        "inline_keyboard": [
            [
                {"text": t._("▶️ Continue"), "callback_data": wire.RESUME_DRAFT},
                {"text": t._("🗑 Discard"), "callback_data": wire.DISCARD_DRAFT},
            ]
        ]
    }
    await enqueue_text(
        conn,
        telegram_id,
        t._("You started a report and did not finish it. Would you like to continue where you left off?"),
        now,
        reply_markup=keyboard,
        dedupe_key=f"reminder:{reminder.id}",
    )
